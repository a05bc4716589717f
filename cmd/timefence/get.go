package main

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
	"github.com/timefence/timefence/client"
	"github.com/timefence/timefence/definitions"

	"github.com/spf13/cobra"
)

func getCmd() *cobra.Command {
	cmd := verb("get --features REFS --key NAME=VALUE [--key ...] [flags]", "look features up online, as inference would now",
		`Looks features up online, as inference would now: the latest value of each
feature for each entity, with its status (present, not_found, or stale when
older than the view's ttl) and its event time. Each --key names one entity;
composite keys join their parts with commas. --as-of reads as production did
at a past time instead; such a read is training-side and needs --split.`,
		"timefence get --features user_stats --key user_id=1",
		"timefence get --features user_stats:clicks --key user_id=1 --key user_id=2 --json",
		"timefence get --features store_sales --key store_id=7,region=eu",
		"timefence get --features user_stats --key user_id=1 --split train --as-of 2024-01-15T00:00:00Z")
	cmd.Args = noArgs
	conn := connectionFlags(cmd)
	fs := cmd.Flags()
	var features listFlag
	fs.Var(&features, "features", "feature `references`, comma-separated or repeated: view:feature or view")
	var keys repeatedFlag
	fs.Var(&keys, "key", "an entity `key` as name=value (name=value,name=value for composite keys); repeat for more entities")
	asOf := fs.String("as-of", "", "read as of this past time (RFC 3339) instead of now; needs --split")
	split := fs.String("split", "", "the split an --as-of read runs under")
	logged := fs.Bool("log", false, "keep the lookup in the server's serving log (see 'timefence skew') and print its request id")
	requestID := fs.String("request-id", "", "the lookup's id in the serving log (with --log; the server makes one when empty)")
	minWM := fs.Int64("min-watermark", 0, "read at this watermark or later, e.g. a write's last seq: a read replica behind it waits for it (up to 5 s)")
	asJSON := fs.Bool("json", false, "print JSON")
	completeFlags(cmd, conn, map[string]completer{"split": splitNames, "features": featureRefs})
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		ctx, stdout := cmd.Context(), cmd.OutOrStdout()
		var opts []client.Option
		if *asOf != "" {
			t, err := definitions.ParseTime(*asOf)
			if err != nil {
				return fmt.Errorf("--as-of: %v", err)
			}
			opts = append(opts, client.AsOf(t))
		}
		if *split != "" {
			opts = append(opts, client.UnderSplit(*split))
		}
		if *logged {
			opts = append(opts, client.Logged())
		}
		if *requestID != "" {
			opts = append(opts, client.WithRequestID(*requestID))
		}
		if *minWM != 0 {
			opts = append(opts, client.MinWatermark(*minWM))
		}
		switch {
		case *asOf != "" && *split == "":
			return usageError("get", "--as-of needs --split: a read in the past is a training-side read")
		case len(features) == 0:
			return usageError("get", "--features is required")
		case len(keys) == 0:
			return usageError("get", "at least one --key is required")
		}
		names, raw, err := parseKeys(keys)
		if err != nil {
			return err
		}
		s, cctx, done, err := conn.open(ctx)
		if err != nil {
			return err
		}
		defer done()
		ents, err := s.ListEntities(cctx)
		if err != nil {
			return s.explain(err)
		}
		rows, err := typeKeys(names, raw, ents)
		if err != nil {
			return err
		}
		res, err := s.GetOnline(cctx, features, names, rows, opts...)
		if err != nil {
			return s.explain(err)
		}
		if *asJSON {
			return writeJSON(stdout, onlineJSON(names, rows, res))
		}
		t := newTable(append(slices.Clone(names), "feature", "value", "status", "event_time")...)
		for i, row := range res.Rows {
			for j, fv := range row {
				cells := make([]string, 0, len(names)+4)
				for _, k := range rows[i] {
					cells = append(cells, fmt.Sprint(k))
				}
				value := "-"
				if fv.Status == client.Present {
					value = formatValue(fv.Value)
				}
				t.add(append(cells, res.Features[j], value, statusName(fv.Status), formatTime(fv.EventTime))...)
			}
		}
		t.write(stdout)
		fmt.Fprintf(stdout, "\nread at %s (watermark %d)\n", formatTime(res.ReadTime), res.Watermark)
		if res.RequestID != "" {
			fmt.Fprintf(stdout, "logged as request %s\n", res.RequestID)
		}
		return nil
	}
	return cmd
}

// parseKeys parses --key values into key names (in the first key's order)
// and, per entity, the raw values in that order.
func parseKeys(keys []string) ([]string, [][]string, error) {
	var names []string
	var rows [][]string
	for i, k := range keys {
		vals := map[string]string{}
		var order []string
		for _, part := range strings.Split(k, ",") {
			name, val, ok := strings.Cut(part, "=")
			name = strings.TrimSpace(name)
			if !ok || name == "" {
				return nil, nil, fmt.Errorf("--key %q: expected name=value, like user_id=42", k)
			}
			if _, dup := vals[name]; dup {
				return nil, nil, fmt.Errorf("--key %q: %s is given twice", k, name)
			}
			vals[name] = strings.TrimSpace(val)
			order = append(order, name)
		}
		if i == 0 {
			names = order
		} else if len(order) != len(names) || !allIn(order, vals, names) {
			return nil, nil, fmt.Errorf("--key %q: every --key must name the same columns (%s)", k, strings.Join(names, ", "))
		}
		row := make([]string, len(names))
		for j, n := range names {
			row[j] = vals[n]
		}
		rows = append(rows, row)
	}
	return names, rows, nil
}

func allIn(order []string, vals map[string]string, names []string) bool {
	for _, n := range names {
		if _, ok := vals[n]; !ok {
			return false
		}
	}
	return true
}

// typeKeys converts raw key values to int64 or string by the type of the
// entities' join keys of that name.
func typeKeys(names []string, raw [][]string, ents []*timefencev1.Entity) ([][]any, error) {
	isInt := map[string]bool{}
	for _, e := range ents {
		for _, k := range e.GetJoinKeys() {
			if k.GetType() == timefencev1.ValueType_VALUE_TYPE_INT64 {
				isInt[k.GetName()] = true
			}
		}
	}
	out := make([][]any, len(raw))
	for i, row := range raw {
		out[i] = make([]any, len(row))
		for j, v := range row {
			if !isInt[names[j]] {
				out[i][j] = v
				continue
			}
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("--key %s=%s: %s is an int64 key; expected an integer", names[j], v, names[j])
			}
			out[i][j] = n
		}
	}
	return out, nil
}

func statusName(s client.Status) string {
	switch s {
	case client.Present:
		return "present"
	case client.NotFound:
		return "not_found"
	case client.Stale:
		return "stale"
	}
	return "unknown"
}

type onlineValue struct {
	Feature   string `json:"feature"`
	Value     any    `json:"value"`
	Status    string `json:"status"`
	EventTime string `json:"event_time,omitempty"`
}

type onlineRow struct {
	Key    map[string]any `json:"key"`
	Values []onlineValue  `json:"values"`
}

type onlineOutput struct {
	ReadTime  string      `json:"read_time"`
	Watermark int64       `json:"watermark"`
	RequestID string      `json:"request_id,omitempty"`
	Rows      []onlineRow `json:"rows"`
}

func onlineJSON(names []string, keys [][]any, res *client.OnlineResult) onlineOutput {
	out := onlineOutput{ReadTime: formatTime(res.ReadTime), Watermark: res.Watermark, RequestID: res.RequestID, Rows: []onlineRow{}}
	for i, row := range res.Rows {
		r := onlineRow{Key: map[string]any{}}
		for j, n := range names {
			r.Key[n] = keys[i][j]
		}
		for j, fv := range row {
			v := onlineValue{Feature: res.Features[j], Value: jsonValue(fv.Value), Status: statusName(fv.Status)}
			if !fv.EventTime.IsZero() {
				v.EventTime = formatTime(fv.EventTime)
			}
			r.Values = append(r.Values, v)
		}
		out.Rows = append(out.Rows, r)
	}
	return out
}

// jsonValue makes a value, as the client returns it, encodable: a
// timestamp becomes RFC 3339 (UTC), NaN and infinities strings; json and map
// values stay their text, bytes become base64.
func jsonValue(v any) any {
	switch x := v.(type) {
	case time.Time:
		return formatTime(x)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Sprint(x)
		}
	case float32:
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return fmt.Sprint(x)
		}
	case []float32:
		out := make([]any, len(x))
		for i, f := range x {
			out[i] = jsonValue(f)
		}
		return out
	case []float64:
		out := make([]any, len(x))
		for i, f := range x {
			out[i] = jsonValue(f)
		}
		return out
	case []time.Time:
		out := make([]string, len(x))
		for i, at := range x {
			out[i] = formatTime(at)
		}
		return out
	}
	return v
}
