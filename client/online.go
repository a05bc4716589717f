package client

import (
	"context"
	"fmt"
	"time"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
)

// Status is the status of one feature value.
type Status = timefencev1.FeatureStatus

// Feature statuses.
const (
	Present  = timefencev1.FeatureStatus_FEATURE_STATUS_PRESENT
	NotFound = timefencev1.FeatureStatus_FEATURE_STATUS_NOT_FOUND
	Stale    = timefencev1.FeatureStatus_FEATURE_STATUS_STALE
)

// FeatureValue is one looked-up value.
type FeatureValue struct {
	// Value is nil unless Status is Present (and may be nil then: a null
	// value). Its Go type is the one Row.Values lists for the feature's
	// type: int64, int32, float64, time.Time (UTC), JSON, Map, []int64, ...
	Value  any
	Status Status
	// EventTime is the event time of the version read: for a deleted
	// entity (NotFound), the deletion's; zero when no version was found.
	EventTime time.Time
}

// OnlineResult is the answer to GetOnline.
type OnlineResult struct {
	Features  []string                // resolved "view:feature" names, the columns of Rows
	Types     []timefencev1.ValueType // the type of each feature
	Rows      [][]FeatureValue        // one row per entity, in request order
	ReadTime  time.Time               // the time the read rule was evaluated at
	Watermark int64                   // the write sequence number the read was pinned to
	RequestID string                  // the lookup's id in the serving log; empty when not logged
}

// GetOnline looks up features ("view:feature" or "view") for entity keys.
// keyNames names the key columns of keys, e.g. {"user_id"}. Options: AsOf
// and UnderSplit read as of a past time under a split; Logged,
// WithRequestID and WithContext shape the lookup's serving log record. It returns
// ErrUnknownFeature or ErrUnknownFeatureView for unknown references, and
// with AsOf, ErrSplitRequired or ErrCutoffExceeded when the split does not
// allow it and ErrFutureTime when the time is later than the server's now.
func (c *Client) GetOnline(ctx context.Context, features, keyNames []string, keys [][]any, opts ...Option) (*OnlineResult, error) {
	o, ctx, cancel, err := apply(ctx, "GetOnline", opts, "AsOf", "UnderSplit", "Logged", "WithRequestID", "WithContext", "MinWatermark")
	if err != nil {
		return nil, err
	}
	defer cancel()
	req := &timefencev1.GetOnlineFeaturesRequest{Features: features, JoinKeys: keyNames,
		EntityRows: make([]*timefencev1.EntityRow, len(keys)), AsOf: tsOrNil(o.asOf), Split: o.split,
		Log: o.logged, RequestId: o.requestID, MinWatermark: o.minWM}
	if len(o.logContext) > 0 {
		req.Context = make(map[string]*timefencev1.Value, len(o.logContext))
		for k, x := range o.logContext {
			v, err := toValue(x)
			if err != nil {
				return nil, fmt.Errorf("context[%q]: %w", k, err)
			}
			req.Context[k] = v
		}
	}
	for i, k := range keys {
		row := &timefencev1.EntityRow{Values: make([]*timefencev1.Value, len(k))}
		for j, x := range k {
			v, err := toValue(x)
			if err != nil {
				return nil, fmt.Errorf("keys[%d][%d]: %w", i, j, err)
			}
			row.Values[j] = v
		}
		req.EntityRows[i] = row
	}
	resp, err := c.online.GetOnlineFeatures(ctx, req)
	if err != nil {
		return nil, fromStatus(err)
	}
	cols := resp.GetColumns()
	out := &OnlineResult{Features: resp.GetFeatures(), Types: make([]timefencev1.ValueType, len(cols)),
		Rows: make([][]FeatureValue, len(keys)), ReadTime: resp.GetReadTime().AsTime(), Watermark: resp.GetWatermark(),
		RequestID: resp.GetRequestId()}
	cells := make([]FeatureValue, len(keys)*len(cols))
	for i := range out.Rows {
		out.Rows[i] = cells[i*len(cols) : (i+1)*len(cols)]
	}
	for j, col := range cols {
		if len(col.GetStatuses()) != len(keys) || len(col.GetNulls()) != len(keys) || len(col.GetEventTimeUnixNanos()) != len(keys) {
			return nil, fmt.Errorf("timefence: malformed response: column %d has %d rows, want %d", j, len(col.GetStatuses()), len(keys))
		}
		out.Types[j] = col.GetType()
		get := columnValues(col)
		for i := range keys {
			fv := &out.Rows[i][j]
			fv.Status = col.GetStatuses()[i]
			if ns := col.GetEventTimeUnixNanos()[i]; ns != 0 || fv.Status != NotFound {
				fv.EventTime = time.Unix(0, ns).UTC()
			}
			if !col.GetNulls()[i] {
				fv.Value = get(i)
			}
		}
	}
	return out, nil
}
