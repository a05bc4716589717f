package server

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/types/known/timestamppb"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
	"github.com/timefence/timefence/storage"
)

func (s *Server) WriteBatch(ctx context.Context, req *timefencev1.WriteBatchRequest) (*timefencev1.WriteBatchResponse, error) {
	b := storage.Batch{ID: req.GetBatchId(), View: req.GetFeatureView(), Features: req.GetFeatureNames(),
		Backfill: req.GetBackfill(), Rows: make([]storage.Row, len(req.GetRows()))}
	if b.View == "" {
		return nil, toStatus(invalid("feature_view: missing"))
	}
	if err := s.store.ReadOnly("write to " + b.View); err != nil {
		return nil, toStatus(err) // before the rows are checked: none can be written
	}
	if max := s.cfg.MaxWriteRows; int64(len(b.Rows)) > max {
		return nil, toStatus(s.writeRowsLimit().exceeded(fmt.Sprintf("write: %d rows, more than %d", len(b.Rows), max),
			"split the rows into several writes"))
	}
	view, err := s.store.View(b.View)
	if err != nil {
		return nil, toStatus(err)
	}
	// One slab holds every row's keys and values; each value's feature is
	// resolved once per request, not once per row.
	n := 0
	for _, r := range req.GetRows() {
		n += len(r.GetJoinKeys()) + len(r.GetValues())
	}
	slab := make([]storage.Value, n)
	var feats []storage.Feature // of values[j]
	for i, r := range req.GetRows() {
		row := &b.Rows[i]
		et, err := rowNanos(r.GetEventTime(), i, "event_time")
		if err != nil {
			return nil, toStatus(err)
		}
		row.EventTime, row.Delete = et, r.GetDelete()
		if r.GetAvailableAt() != nil {
			if row.AvailableAt, err = rowNanos(r.GetAvailableAt(), i, "available_at"); err != nil {
				return nil, toStatus(err)
			}
		}
		nk := len(r.GetJoinKeys())
		row.Key, slab = slab[:nk:nk], slab[nk:]
		for j, k := range r.GetJoinKeys() {
			row.Key[j] = toValueAs(k, keyType(view, j))
		}
		if err := checkKeySize(view.JoinKeys, row.Key, "rows[%d]", i); err != nil {
			return nil, toStatus(err)
		}
		if m := len(r.GetValues()); m > 0 {
			row.Values, slab = slab[:m:m], slab[m:]
			for j, v := range r.GetValues() {
				for len(feats) <= j {
					feats = append(feats, feature(view, b.Features, len(feats)))
				}
				row.Values[j] = toValueAs(v, feats[j].Type)
				if err := checkValue(row.Values[j], "rows[%d]", i, feats[j].Name); err != nil {
					return nil, toStatus(err)
				}
			}
		}
	}
	c := newChecker(view, b.Features)
	if c != nil {
		c.rows(b.Rows, b.Backfill)
	}
	res, err := s.writeChecked(ctx, c, b)
	if err != nil {
		return nil, toStatus(err)
	}
	return &timefencev1.WriteBatchResponse{FirstSeq: int64(res.FirstSeq), LastSeq: int64(res.LastSeq),
		CommitTime: fromNanos(res.CommitTime), Rows: int64(res.Rows), Duplicate: res.Duplicate}, nil
}

// rowNanos is toNanos for a time of row i, naming the field only when it
// is refused.
func rowNanos(ts *timestamppb.Timestamp, i int, field string) (int64, error) {
	if ns, ok := validNanos(ts); ok {
		return ns, nil
	}
	return toNanos(ts, fmt.Sprintf("rows[%d].%s", i, field))
}

// feature returns the feature of the j-th value of a written row; one of
// no type, named values[j], when there is none (the store says why).
func feature(view *storage.View, names []string, j int) storage.Feature {
	switch {
	case len(names) > 0 && j < len(names):
		if f, ok := view.Feature(names[j]); ok {
			return f
		}
		return storage.Feature{Name: names[j]}
	case len(names) == 0 && j < len(view.Features):
		return view.Features[j]
	}
	return storage.Feature{Name: fmt.Sprintf("values[%d]", j)}
}

// keyType returns the type of a view's j-th join key, or none.
func keyType(view *storage.View, j int) storage.Type {
	if j < len(view.JoinKeys) {
		return view.JoinKeys[j].Type
	}
	return storage.TypeNull
}

// writeChecked writes a batch that c (nil when the view has no
// expectations) has checked: a failing hard expectation refuses it, failing
// warn ones are recorded with it, and both are counted.
func (s *Server) writeChecked(ctx context.Context, c *checker, b storage.Batch) (storage.WriteResult, error) {
	if c == nil {
		return s.store.Write(ctx, b)
	}
	c.cadence(s.store.LastBatch(b.View))
	events, err := c.verdict()
	if err != nil {
		s.metrics.countExpectationRefusal(err)
		return storage.WriteResult{}, err
	}
	b.Validation = events
	res, err := s.store.Write(ctx, b)
	if err == nil && !res.Duplicate {
		s.metrics.countValidationEvents(b.View, events)
	}
	return res, err
}
