package server

import (
	"context"
	"fmt"
	"math"

	"google.golang.org/protobuf/types/known/timestamppb"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
	"github.com/timefence/timefence/storage"
)

const (
	defaultValidationEvents = 100
	maxValidationEvents     = 10_000
)

// GetValidationReport returns the validation events recorded from since to
// until, with counts per view and expectation.
func (s *Server) GetValidationReport(ctx context.Context, req *timefencev1.GetValidationReportRequest) (*timefencev1.GetValidationReportResponse, error) {
	since, until, err := timeRange(req.GetSince(), req.GetUntil(), math.MaxInt64)
	if err != nil {
		return nil, toStatus(err)
	}
	if v := req.GetFeatureView(); v != "" {
		if _, err := s.store.View(v); err != nil {
			return nil, toStatus(err)
		}
	}
	maxEvents := int(req.GetMaxEvents())
	switch {
	case maxEvents < 0 || maxEvents > maxValidationEvents:
		return nil, toStatus(invalid(fmt.Sprintf("max_events: %d, want 0 to %d", maxEvents, maxValidationEvents)))
	case maxEvents == 0:
		maxEvents = defaultValidationEvents
	}
	resp := &timefencev1.GetValidationReportResponse{}
	counts := map[[2]string]*timefencev1.ValidationCount{}
	err = s.store.ValidationEvents(ctx, since, until, req.GetFeatureView(), func(ev storage.ValidationEvent) error {
		resp.TotalEvents++
		name := ev.Expectation.Name()
		c := counts[[2]string{ev.View, name}]
		if c == nil {
			c = &timefencev1.ValidationCount{FeatureView: ev.View, Expectation: name, Level: ev.Expectation.LevelName()}
			counts[[2]string{ev.View, name}] = c
			resp.Counts = append(resp.Counts, c)
		}
		c.Events++
		c.RowsFailed += ev.RowsFailed
		if len(resp.Events) < maxEvents {
			resp.Events = append(resp.Events, fromEvent(&ev))
		}
		return nil
	})
	if err != nil {
		return nil, toStatus(err)
	}
	return resp, nil
}

func fromEvent(ev *storage.ValidationEvent) *timefencev1.ValidationEvent {
	out := &timefencev1.ValidationEvent{Time: fromNanos(ev.Time), FeatureView: ev.View, ViewVersion: ev.ViewVersion,
		BatchId: ev.BatchID, FirstSeq: int64(ev.FirstSeq), LastSeq: int64(ev.LastSeq),
		Expectation: fromExpectation(&ev.Expectation), Kind: ev.Expectation.Kind(), Bound: ev.Expectation.Bound(),
		RowsChecked: ev.RowsChecked, RowsFailed: ev.RowsFailed}
	for _, r := range ev.FailedRows {
		out.FailedRows = append(out.FailedRows, &timefencev1.FailedRow{Row: r.Row, Value: r.Value})
	}
	return out
}

// timeRange reads a report's window [since, until]: since defaults to the
// first time, until to latest, and a later until is cut to latest.
func timeRange(since, until *timestamppb.Timestamp, latest int64) (from, to int64, err error) {
	from, to = math.MinInt64, latest
	if since != nil {
		if from, err = toNanos(since, "since"); err != nil {
			return 0, 0, err
		}
	}
	if until != nil {
		if to, err = toNanos(until, "until"); err != nil {
			return 0, 0, err
		}
		to = min(to, latest)
		if from > to {
			return 0, 0, invalid("since: after until")
		}
	}
	return from, to, nil
}
