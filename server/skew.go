package server

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
	"github.com/timefence/timefence/storage"
)

// The skew report replays logged lookups (servinglog.go) with the read rule
// at their read times, under the definition versions they read, and with
// every write the store holds now: what a point-in-time join reads for the
// same keys and times. The store's clock gives every write not visible to a
// lookup a commit time after its read time, so live writes never change a
// replay; a difference comes from a version whose available_at was set at or
// before the read time by a write after it (a backfill), or from a served
// version that is gone. Either way a training set would not hold what
// production served.

const (
	defaultSkewExamples = 100
	maxSkewExamples     = 10_000
)

// GetSkewReport replays the logged lookups read from since to until. A
// value mismatches when its status or value differs from the one served:
// another version with the same value is what the model saw.
func (s *Server) GetSkewReport(ctx context.Context, req *timefencev1.GetSkewReportRequest) (*timefencev1.GetSkewReportResponse, error) {
	if err := s.servingLog.flush(ctx); err != nil {
		return nil, toStatus(err)
	}
	at, watermark := s.store.ReadTime()
	since, until, err := timeRange(req.GetSince(), req.GetUntil(), at)
	if err != nil {
		return nil, toStatus(err)
	}
	maxExamples := int(req.GetMaxMismatches())
	switch {
	case maxExamples < 0 || maxExamples > maxSkewExamples:
		return nil, toStatus(invalid(fmt.Sprintf("max_mismatches: %d, want 0 to %d", maxExamples, maxSkewExamples)))
	case maxExamples == 0:
		maxExamples = defaultSkewExamples
	}
	rep := &skewReport{resp: &timefencev1.GetSkewReportResponse{Watermark: int64(watermark)}, features: map[string]*timefencev1.FeatureSkew{}, max: maxExamples}
	err = s.store.ScanLog(ctx, since, until, func(r storage.LogRecord) error {
		var rec timefencev1.ServingLogRecord
		if err := proto.Unmarshal(r.Data, &rec); err != nil {
			return fmt.Errorf("%w: serving log record %q at %s does not decode: %v", storage.ErrCorrupt, r.RequestID, storage.FormatTime(r.ReadTime), err)
		}
		return s.replay(ctx, &rec, watermark, rep)
	})
	if err != nil {
		return nil, toStatus(err)
	}
	for _, name := range slices.Sorted(maps.Keys(rep.features)) {
		rep.resp.Features = append(rep.resp.Features, rep.features[name])
	}
	return rep.resp, nil
}

type skewReport struct {
	resp     *timefencev1.GetSkewReportResponse
	features map[string]*timefencev1.FeatureSkew
	max      int
}

// winner is the replayed winner of one view and entity row.
type winner struct {
	eventTime, availableAt int64
	seq                    uint64
	backfilled             bool
}

// replay reads one logged lookup again at its read time and the watermark,
// and adds what differs from what was served to rep.
func (s *Server) replay(ctx context.Context, rec *timefencev1.ServingLogRecord, watermark uint64, rep *skewReport) error {
	rep.resp.Lookups++
	rows := rec.GetEntityRows()
	feature := func(name string) *timefencev1.FeatureSkew {
		f := rep.features[name]
		if f == nil {
			f = &timefencev1.FeatureSkew{Feature: name}
			rep.features[name] = f
		}
		return f
	}
	reads, names, err := s.resolveFeatures(rec.GetFeatures(), rec.GetViewVersions())
	if err == nil {
		err = bindKeys(reads, rec.GetJoinKeys(), "join_keys")
	}
	if err == nil && len(names) != len(rec.GetColumns()) {
		err = fmt.Errorf("%d features and %d columns served", len(names), len(rec.GetColumns()))
	}
	if err != nil {
		// The definitions the lookup read are gone: nothing can be replayed.
		for j, name := range rec.GetFeatures() {
			f := feature(name)
			f.Values += int64(len(rows))
			f.Mismatches += int64(len(rows))
			rep.resp.Values += int64(len(rows))
			rep.resp.Mismatches += int64(len(rows))
			if len(rep.resp.Examples) < rep.max && j < len(rec.GetColumns()) {
				rep.resp.Examples = append(rep.resp.Examples, &timefencev1.SkewMismatch{
					RequestId: rec.GetRequestId(), ReadTime: fromNanos(rec.GetReadTimeUnixNanos()), Watermark: rec.GetWatermark(),
					Feature: name, Served: servedCell(rec.GetColumns()[j], 0), Replayed: &timefencev1.SkewCell{},
					Cause: fmt.Sprintf("the lookup cannot be replayed: %v", err)})
			}
		}
		return nil
	}
	cols := make([]*timefencev1.FeatureColumn, len(names))
	winners := map[*viewRead][]winner{}
	for _, vr := range reads {
		winners[vr] = make([]winner, len(rows))
	}
	err = s.readColumns(ctx, reads, rows, rec.GetReadTimeUnixNanos(), watermark, cols, func(vr *viewRead, i int, r *storage.Result) {
		winners[vr][i] = winner{r.EventTime, r.AvailableAt, r.Seq, r.Backfilled}
	})
	if err != nil {
		return err
	}
	for _, vr := range reads {
		for _, c := range vr.cols {
			served, replayed := rec.GetColumns()[c], cols[c]
			f := feature(names[c])
			f.Values += int64(len(rows))
			rep.resp.Values += int64(len(rows))
			for i := range rows {
				sv, err := servedValue(served, i)
				if err != nil {
					return fmt.Errorf("serving log record %q: %s: %w", rec.GetRequestId(), names[c], err)
				}
				rv, _ := servedValue(replayed, i)
				if served.GetStatuses()[i] == replayed.GetStatuses()[i] && sameValue(sv, rv) {
					continue
				}
				sc, rc := servedCell(served, i), servedCell(replayed, i)
				f.Mismatches++
				rep.resp.Mismatches++
				if len(rep.resp.Examples) >= rep.max {
					continue
				}
				w := winners[vr][i]
				rc.AvailableAtUnixNanos, rc.Seq, rc.Backfilled = w.availableAt, int64(w.seq), w.backfilled
				rep.resp.Examples = append(rep.resp.Examples, &timefencev1.SkewMismatch{
					RequestId: rec.GetRequestId(), ReadTime: fromNanos(rec.GetReadTimeUnixNanos()), Watermark: rec.GetWatermark(),
					Row: int32(i), EntityKey: entityText(rec.GetJoinKeys(), rows[i]), Feature: names[c],
					Served: sc, Replayed: rc, Cause: skewCause(vr.proj.View.Name, rec, sc, w)})
			}
		}
	}
	return nil
}

// skewCause says why a replay differs from what was served.
func skewCause(view string, rec *timefencev1.ServingLogRecord, served *timefencev1.SkewCell, w winner) string {
	if w.seq > uint64(rec.GetWatermark()) {
		how := "written"
		if w.backfilled {
			how = "backfilled"
		}
		return fmt.Sprintf("version seq %d of %s (event time %s, available at %s) was %s after the lookup (which read at watermark %d) with an available-at time no later than the lookup's read time: training reads it, production never served it",
			w.seq, view, storage.FormatTime(w.eventTime), storage.FormatTime(w.availableAt), how, rec.GetWatermark())
	}
	return fmt.Sprintf("the version of %s served (event time %s) is no longer read at the lookup's watermark %d: it was deleted or lost since; run timefence verify",
		view, storage.FormatTime(served.GetEventTimeUnixNanos()), rec.GetWatermark())
}

// sameValue reports whether two values are the same, NaN included.
func sameValue(a, b storage.Value) bool {
	return a.Type == b.Type && a.Int == b.Int && math.Float64bits(a.Float) == math.Float64bits(b.Float) && a.Str == b.Str
}

// servedCell is row i of a response column, as text, for a report.
func servedCell(col *timefencev1.FeatureColumn, i int) *timefencev1.SkewCell {
	v, err := servedValue(col, i)
	if err != nil {
		return &timefencev1.SkewCell{Value: "missing"}
	}
	return &timefencev1.SkewCell{Status: col.GetStatuses()[i], EventTimeUnixNanos: col.GetEventTimeUnixNanos()[i], Value: v.String()}
}

// entityText formats an entity row as "user_id=7, region=\"eu\"".
func entityText(keys []string, row *timefencev1.EntityRow) string {
	parts := make([]string, 0, len(keys))
	for j, k := range keys {
		if j < len(row.GetValues()) {
			parts = append(parts, k+"="+toValue(row.GetValues()[j]).String())
		}
	}
	return strings.Join(parts, ", ")
}
