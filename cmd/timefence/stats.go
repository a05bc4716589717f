package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
	"github.com/timefence/timefence/client"
	"github.com/timefence/timefence/definitions"

	"github.com/spf13/cobra"
)

func statsCmd() *cobra.Command {
	cmd := verb("stats --split NAME --view VIEW [flags]", "summarise features within a split, or compare two splits",
		`Summarises a feature view's features over the versions within a split:
count, null rate, min, mean, max, standard deviation, quantiles, distinct
values and the most frequent values. --compare BASELINE compares the split
with a baseline split and lists the anomalies found (completeness drops,
new values, distribution and mean shifts).`,
		"timefence stats --split train --view user_stats",
		"timefence stats --split test --view user_stats --compare train")
	cmd.Args = noArgs
	conn := connectionFlags(cmd)
	fs := cmd.Flags()
	split := fs.String("split", "", "the split to summarise")
	view := fs.String("view", "", "the feature view")
	var features listFlag
	fs.Var(&features, "features", "only these `features`, comma-separated (default all)")
	baseline := fs.String("compare", "", "compare with this baseline split and list anomalies")
	asJSON := fs.Bool("json", false, "print JSON")
	completeFlags(cmd, conn, map[string]completer{"split": splitNames, "compare": splitNames, "view": viewNames, "features": featuresOfView(view)})
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		ctx, stdout := cmd.Context(), cmd.OutOrStdout()
		switch {
		case *split == "" || *view == "":
			return usageError("stats", "--split and --view are required")
		}
		s, cctx, done, err := conn.open(ctx)
		if err != nil {
			return err
		}
		defer done()
		if *baseline != "" {
			resp, err := s.CompareStatistics(cctx, *view, *baseline, *split, client.WithFeatures(features...))
			if err != nil {
				return s.explain(err)
			}
			if *asJSON {
				return writeProtoJSON(stdout, resp)
			}
			writeStats(stdout, resp.GetCurrent())
			fmt.Fprintln(stdout)
			writeAnomalies(stdout, resp)
			s.hintEmptyStats(ctx, cmd.ErrOrStderr(), resp.GetCurrent(), resp.GetBaseline())
			return nil
		}
		resp, err := s.GetStatistics(cctx, *split, *view, client.WithFeatures(features...))
		if err != nil {
			return s.explain(err)
		}
		if *asJSON {
			return writeProtoJSON(stdout, resp)
		}
		writeStats(stdout, resp)
		s.hintEmptyStats(ctx, cmd.ErrOrStderr(), resp)
		return nil
	}
	return cmd
}

func writeProtoJSON(w io.Writer, m proto.Message) error {
	data, err := protoJSON(m)
	if err != nil {
		return err
	}
	_, err = w.Write(data)
	return err
}

// protoJSON formats m as indented JSON with the proto field names. The
// whitespace is normalised: protojson varies it on purpose.
func protoJSON(m proto.Message) ([]byte, error) {
	data, err := protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}.Marshal(m)
	if err != nil {
		return nil, err
	}
	var compact, out bytes.Buffer
	if err := json.Compact(&compact, data); err != nil {
		return nil, err
	}
	if err := json.Indent(&out, compact.Bytes(), "", "  "); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// quantileNames label GetStatistics' quantiles, in its order.
var quantileNames = []string{"p1", "p5", "p25", "p50", "p75", "p95", "p99"}

func writeStats(w io.Writer, st *timefencev1.GetStatisticsResponse) {
	if st.GetVersions() == 0 {
		fmt.Fprintf(w, "%s under split %s: no data: no version was available within the split (view version %d, watermark %d)\n",
			st.GetFeatureView(), st.GetSplit(), st.GetViewVersion(), st.GetWatermark())
		return
	}
	fmt.Fprintf(w, "%s under split %s: %s of %s (view version %d, watermark %d)\n\n",
		st.GetFeatureView(), st.GetSplit(), plural(st.GetVersions(), "version"), plural(st.GetEntities(), "entity"), st.GetViewVersion(), st.GetWatermark())
	opt := func(x *float64) string {
		if x == nil {
			return "-"
		}
		return formatNumber(*x)
	}
	t := newTable("feature", "type", "count", "null rate", "min", "mean", "max", "stddev", "distinct").alignRight(2, 3, 4, 5, 6, 7, 8)
	q := newTable(append([]string{"quantiles"}, quantileNames...)...).alignRight(1, 2, 3, 4, 5, 6, 7)
	var tops []string
	for _, f := range st.GetFeatures() {
		distinct := count(f.GetDistinctCount())
		if f.GetDistinctApproximate() {
			distinct = "~" + distinct
		}
		t.add(f.GetFeature(), definitions.TypeName(f.GetType()), count(f.GetCount()), percent(f.GetNullRate()),
			opt(f.Min), opt(f.Mean), opt(f.Max), opt(f.Stddev), distinct)
		if qs := f.GetQuantiles(); len(qs) == len(quantileNames) {
			cells := []string{f.GetFeature()}
			for _, x := range qs {
				cells = append(cells, formatNumber(x))
			}
			q.add(cells...)
		}
		if f.MinLength != nil {
			tops = append(tops, fmt.Sprintf("  %s: list lengths %d to %d", f.GetFeature(), f.GetMinLength(), f.GetMaxLength()))
		}
		if tv := f.GetTopValues(); len(tv) > 0 {
			parts := make([]string, len(tv))
			for i, v := range tv {
				parts[i] = fmt.Sprintf("%s (%s)", v.GetValue(), count(v.GetCount()))
			}
			tops = append(tops, fmt.Sprintf("  %s: %s", f.GetFeature(), strings.Join(parts, ", ")))
		}
	}
	t.write(w)
	if len(q.rows) > 0 {
		fmt.Fprintln(w)
		q.write(w)
	}
	if lag := st.GetArrivalLag(); lag.GetCount() > 0 && len(lag.GetQuantiles()) == len(quantileNames) {
		fmt.Fprintf(w, "\narrival lag (available_at - event_time): median %s, 95th percentile %s, max %s\n",
			seconds(lag.GetQuantiles()[3]), seconds(lag.GetQuantiles()[5]), seconds(lag.GetMax()))
	}
	if len(tops) > 0 {
		fmt.Fprintln(w, "\nmost frequent values (count):")
		for _, line := range tops {
			fmt.Fprintln(w, line)
		}
	}
}

func writeAnomalies(w io.Writer, resp *timefencev1.CompareStatisticsResponse) {
	base, cur := resp.GetBaseline(), resp.GetCurrent()
	as := resp.GetAnomalies()
	switch {
	case base.GetVersions() == 0 || cur.GetVersions() == 0:
		empty := base
		if cur.GetVersions() == 0 {
			empty = cur
		}
		fmt.Fprintf(w, "not compared: split %s has no data of %s, so nothing can be said about anomalies\n", empty.GetSplit(), empty.GetFeatureView())
		return
	case len(as) == 0:
		fmt.Fprintf(w, "no anomalies against baseline split %s (%s)\n", base.GetSplit(), plural(base.GetVersions(), "version"))
		return
	}
	fmt.Fprintf(w, "%s against baseline split %s (%s):\n", plural(len(as), "anomaly"), base.GetSplit(), plural(base.GetVersions(), "version"))
	t := newTable("severity", "feature", "kind", "baseline", "current", "description").alignRight(3, 4)
	t.indent = "  "
	for _, a := range as {
		sev := strings.ToLower(strings.TrimPrefix(a.GetSeverity().String(), "ANOMALY_SEVERITY_"))
		feature, base, cur := a.GetFeature(), formatNumber(a.GetBaselineValue()), formatNumber(a.GetCurrentValue())
		if feature == "" { // the view's arrival lag, in seconds
			feature, base, cur = "(arrival lag)", seconds(a.GetBaselineValue()), seconds(a.GetCurrentValue())
		}
		t.add(sev, feature, a.GetKind(), base, cur, a.GetDescription())
	}
	t.write(w)
}

// seconds formats a number of seconds as a duration, to the millisecond.
func seconds(s float64) string {
	return time.Duration(s * float64(time.Second)).Round(time.Millisecond).String()
}
