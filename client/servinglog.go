package client

import (
	"context"
	"time"

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
