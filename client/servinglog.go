package client

import (
	"context"
	"time"

	"github.com/apache/arrow/go/v15/arrow"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
)

// SkewReport replays the lookups of the serving log read from since to until
// (zero times: from the first, up to now) as point-in-time reads at their
// read times with every write the store holds now, and compares them with
// what was served. Mismatches is 0 when training reads exactly what
// production served; each example names the lookup, the feature, both
// values and the version responsible. maxMismatches bounds the examples (0:
// the server's default of 100); the counts cover every mismatch.
func (c *Client) SkewReport(ctx context.Context, since, until time.Time, maxMismatches int, opts ...Option) (*timefencev1.GetSkewReportResponse, error) {
	_, ctx, cancel, err := apply(ctx, "SkewReport", opts)
	if err != nil {
		return nil, err
	}
	defer cancel()
	resp, err := c.logs.GetSkewReport(ctx, &timefencev1.GetSkewReportRequest{Since: tsOrNil(since), Until: tsOrNil(until),
		MaxMismatches: int32(maxMismatches)})
	if err != nil {
		return nil, fromStatus(err)
	}
	return resp, nil
}

// ServingLogSummary describes a serving log table read by ServingLog.
type ServingLogSummary struct {
	Split   string `json:"split"`
	Lookups int64  `json:"lookups"` // logged lookups in the table
	Rows    int64  `json:"rows"`    // their entity rows
}

// ServingLog reads, under split, the logged lookups read within its window
// that served every feature of features ("view:feature" or "view"): what
// production served, to join with labels that arrived since. fn gets the
// table's records: request_id, row, read_time, the join keys, context (the
// request-time inputs as a JSON object, null when none), then one column per
// feature as served (null unless present). A lookup read after the split's
// end is never in it.
func (c *Client) ServingLog(ctx context.Context, split string, features []string, fn func(arrow.Record) error, opts ...Option) (*ServingLogSummary, error) {
	_, ctx, cancel, err := apply(ctx, "ServingLog", opts)
	if err != nil {
		return nil, err
	}
	defer cancel()
	sum := &ServingLogSummary{}
	if err := c.doGet(ctx, map[string]any{"op": "serving_log", "split": split, "features": features}, fn, sum); err != nil {
		return nil, err
	}
	return sum, nil
}
