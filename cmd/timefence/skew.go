package main

import (
	"fmt"
	"strings"
	"time"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
	"github.com/timefence/timefence/client"
	"github.com/timefence/timefence/definitions"

	"github.com/spf13/cobra"
)

func skewCmd() *cobra.Command {
	cmd := verb("skew [flags]", "replay logged online lookups and report what training would read otherwise",
		`Replays the online lookups of the serving log (those run with --log, or
picked by 'timefence serve --serving-log-rate') as point-in-time reads at
their read times, with every write the store holds now: what a training
join reads for the same keys and times. Each value is compared with the
one served; 0 mismatches is timefence's guarantee, checked on production
traffic. A mismatch names the lookup, the feature, both values and the
version responsible, typically a backfill that rewrote the past after the
lookup. Exits 1 when there is a mismatch.`,
		"timefence skew --since 24h", "timefence skew --since 2024-01-01T00:00:00Z --until 2024-01-02T00:00:00Z --json")
	cmd.Args = noArgs
	conn := connectionFlags(cmd)
	fs := cmd.Flags()
	since := fs.String("since", "", "replay lookups read from this time (RFC 3339) or this long ago (e.g. 24h); default: the first logged")
	until := fs.String("until", "", "replay lookups read up to this time (RFC 3339) or this long ago; default: now")
	maxExamples := fs.Int("max", 20, "describe at most this many mismatches (the counts cover them all)")
	asJSON := fs.Bool("json", false, "print JSON")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		ctx, stdout := cmd.Context(), cmd.OutOrStdout()
		from, err := whenFlag("since", *since)
		if err != nil {
			return err
		}
		to, err := whenFlag("until", *until)
		if err != nil {
			return err
		}
		if *maxExamples < 0 {
			return usageError("skew", "--max must not be negative")
		}
		s, cctx, done, err := conn.open(ctx)
		if err != nil {
			return err
		}
		defer done()
		rep, err := s.SkewReport(cctx, from, to, max(*maxExamples, 1))
		if err != nil {
			return s.explain(err)
		}
		rep.Examples = rep.Examples[:min(len(rep.Examples), *maxExamples)]
		if *asJSON {
			if err := writeProtoJSON(stdout, rep); err != nil {
				return err
			}
		} else {
			printSkew(stdout, rep)
		}
		if rep.GetMismatches() > 0 {
			return fmt.Errorf("%s: training reads values production did not serve", plural(rep.GetMismatches(), "mismatch"))
		}
		return nil
	}
	return cmd
}

// whenFlag parses a time flag: RFC 3339, or a duration before now; zero when empty.
func whenFlag(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(v); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("--%s: %q: a duration before now must not be negative", name, v)
		}
		return time.Now().Add(-d), nil
	}
	t, err := definitions.ParseTime(v)
	if err != nil {
		return time.Time{}, fmt.Errorf("--%s: %v, or a duration before now like 24h", name, err)
	}
	return t, nil
}

func printSkew(w interface{ Write([]byte) (int, error) }, rep *timefencev1.GetSkewReportResponse) {
	fmt.Fprintf(w, "replayed %s (%s) at watermark %d: %s\n", plural(rep.GetLookups(), "lookup"),
		plural(rep.GetValues(), "value"), rep.GetWatermark(), plural(rep.GetMismatches(), "mismatch"))
	if len(rep.GetFeatures()) > 0 {
		fmt.Fprintln(w)
		t := newTable("feature", "values", "mismatches").alignRight(1, 2)
		for _, f := range rep.GetFeatures() {
			t.add(f.GetFeature(), count(f.GetValues()), count(f.GetMismatches()))
		}
		t.write(w)
	}
	for i, m := range rep.GetExamples() {
		fmt.Fprintf(w, "\nmismatch %d: request %s, read at %s (watermark %d), row %d (%s), %s\n", i+1, m.GetRequestId(),
			formatTime(m.GetReadTime().AsTime()), m.GetWatermark(), m.GetRow(), m.GetEntityKey(), m.GetFeature())
		fmt.Fprintf(w, "  served:   %s\n", skewCell(m.GetServed(), false))
		fmt.Fprintf(w, "  replayed: %s\n", skewCell(m.GetReplayed(), true))
		fmt.Fprintf(w, "  cause:    %s\n", m.GetCause())
	}
	if n := rep.GetMismatches() - int64(len(rep.GetExamples())); n > 0 && len(rep.GetExamples()) > 0 {
		fmt.Fprintf(w, "\n%s more not shown (--max)\n", count(n))
	}
}

func skewCell(c *timefencev1.SkewCell, replay bool) string {
	parts := []string{c.GetValue(), statusName(client.Status(c.GetStatus()))}
	if c.GetEventTimeUnixNanos() != 0 {
		parts = append(parts, "event time "+formatTime(time.Unix(0, c.GetEventTimeUnixNanos())))
	}
	if replay && c.GetSeq() != 0 {
		parts = append(parts, fmt.Sprintf("seq %d", c.GetSeq()), "available at "+formatTime(time.Unix(0, c.GetAvailableAtUnixNanos())))
		if c.GetBackfilled() {
			parts = append(parts, "backfilled")
		}
	}
	return parts[0] + " (" + strings.Join(parts[1:], ", ") + ")"
}
