package client

import (
	"context"
	"time"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
)

// ValidationReport returns the validation events recorded from since to
// until (zero times: from the first, up to now), both inclusive by commit
// time: the write batches that failed a warn expectation of their view and
// were written all the same, with counts per view and expectation. Options:
// ForView, MaxEvents. It returns ErrUnknownFeatureView for an unknown view
// and ErrInvalidArgument for a window that ends before it starts.
func (c *Client) ValidationReport(ctx context.Context, since, until time.Time, opts ...Option) (*timefencev1.GetValidationReportResponse, error) {
	o, ctx, cancel, err := apply(ctx, "ValidationReport", opts, "ForView", "MaxEvents")
	if err != nil {
		return nil, err
	}
	defer cancel()
	resp, err := c.datasets.GetValidationReport(ctx, &timefencev1.GetValidationReportRequest{Since: tsOrNil(since), Until: tsOrNil(until),
		FeatureView: o.view, MaxEvents: int32(o.maxEvents)})
	if err != nil {
		return nil, fromStatus(err)
	}
	return resp, nil
}
