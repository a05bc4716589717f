package server

import (
	"context"
	"fmt"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
	"github.com/timefence/timefence/storage"
)

var statusToProto = [...]timefencev1.FeatureStatus{
	storage.NotFound: timefencev1.FeatureStatus_FEATURE_STATUS_NOT_FOUND,
	storage.Present:  timefencev1.FeatureStatus_FEATURE_STATUS_PRESENT,
	storage.Stale:    timefencev1.FeatureStatus_FEATURE_STATUS_STALE,
}

func (s *Server) GetOnlineFeatures(ctx context.Context, req *timefencev1.GetOnlineFeaturesRequest) (*timefencev1.GetOnlineFeaturesResponse, error) {
	// First: a view a replica has yet to receive is not unknown.
	if err := s.awaitWatermark(ctx, req.GetMinWatermark()); err != nil {
		return nil, toStatus(err)
	}
	reads, names, err := s.onlinePlan(req.GetFeatures())
	if err != nil {
		return nil, toStatus(err)
	}
	rows := req.GetEntityRows()
	if len(rows) == 0 {
		return nil, toStatus(invalid("entity_rows: at least one entity row is required"))
	}
	if lim := s.onlineValuesLimit(); int64(len(rows))*int64(len(names)) > lim.max {
		return nil, toStatus(lim.exceeded(fmt.Sprintf("entity_rows: %d rows × %d features = %d values",
			len(rows), len(names), len(rows)*len(names)), "split the request"))
	}
	if err := bindKeys(reads, req.GetJoinKeys(), "join_keys"); err != nil {
		return nil, toStatus(err)
	}
	if err := checkLogFields(req); err != nil {
		return nil, toStatus(err)
	}
	at, watermark, err := s.onlineTime(ctx, req)
	if err != nil {
		return nil, toStatus(err)
	}
	resp := &timefencev1.GetOnlineFeaturesResponse{Features: names, Columns: make([]*timefencev1.FeatureColumn, len(names)),
		ReadTime: fromNanos(at), Watermark: int64(watermark)}
	nkeys := len(req.GetJoinKeys())
	for i, r := range rows {
		if len(r.GetValues()) != nkeys {
			return nil, toStatus(invalid(fmt.Sprintf("entity_rows[%d]: %d values, want %d (one per join key)", i, len(r.GetValues()), nkeys)))
		}
	}
	if err := s.readColumns(ctx, reads, rows, at, watermark, resp.Columns, nil); err != nil {
		return nil, toStatus(err)
	}
	s.servingLog.offer(req, resp, reads)
	if req.GetPacked() {
		return packedResponse(resp, len(rows))
	}
	return resp, nil
}

// readColumns evaluates the read rule for each entity row at time at and
// watermark, for every view of reads, and sets cols (one per feature, in
// the reads' output order). each, when set, also gets every view's result
// for every row, with the winner's seq.
func (s *Server) readColumns(ctx context.Context, reads []*viewRead, rows []*timefencev1.EntityRow, at int64, watermark uint64,
	cols []*timefencev1.FeatureColumn, each func(vr *viewRead, i int, r *storage.Result)) error {
	var err error
	for _, vr := range reads {
		keys := make([][]byte, len(rows))
		key := make([]storage.Value, len(vr.keyCols))
		for i, r := range rows {
			for j, c := range vr.keyCols {
				key[j] = toValueAs(r.GetValues()[c], vr.proj.View.JoinKeys[j].Type)
			}
			if keys[i], err = vr.proj.View.EncodeKey(key); err != nil {
				return fmt.Errorf("entity_rows[%d]: %w", i, err)
			}
		}
		// The status and event time of a row are its view's winner's: every
		// column of the view shares one slice of each.
		statuses, times := make([]timefencev1.FeatureStatus, len(rows)), make([]int64, len(rows))
		out := make([]*onlineColumn, len(vr.proj.Features))
		for j, f := range vr.proj.Features {
			out[j] = newOnlineColumn(f.Type, statuses, times)
		}
		q := storage.Query{Proj: vr.proj, Keys: keys, Bounds: []storage.Bounds{storage.At(at)}, Watermark: watermark, WithSeq: each != nil}
		err := s.store.LookupEach(ctx, q, 1, func(_, i int, r *storage.Result) {
			statuses[i] = statusToProto[r.Status]
			times[i] = r.EventTime // the winner's, a deletion's too; 0 without one
			for j, c := range out {
				if r.Status == storage.Present && !r.Values[j].IsNull() {
					c.value(i, r.Values[j])
				} else {
					c.col.Nulls[i] = true
				}
			}
			if each != nil {
				each(vr, i, r)
			}
		})
		if err != nil {
			return err
		}
		for j, c := range out {
			cols[vr.cols[j]] = c.col
		}
	}
	return nil
}

// onlineColumn fills one FeatureColumn of a response.
type onlineColumn struct {
	col   *timefencev1.FeatureColumn
	value func(i int, v storage.Value) // stores the present, non-null value of row i
}

// newOnlineColumn returns a column of type t with the given statuses and
// event times, one per row, which its caller fills.
func newOnlineColumn(t storage.Type, statuses []timefencev1.FeatureStatus, times []int64) *onlineColumn {
	n := len(statuses)
	col := &timefencev1.FeatureColumn{Type: typeToProto[t], Statuses: statuses, EventTimeUnixNanos: times, Nulls: make([]bool, n)}
	var value func(i int, v storage.Value)
	switch t {
	case storage.TypeInt64, storage.TypeTimestamp: // timestamps as Unix ns
		vals := make([]int64, n)
		col.Values = &timefencev1.FeatureColumn_Int64Values{Int64Values: &timefencev1.Int64Values{Values: vals}}
		value = func(i int, v storage.Value) { vals[i] = v.Int }
	case storage.TypeInt32:
		vals := make([]int32, n)
		col.Values = &timefencev1.FeatureColumn_Int32Values{Int32Values: &timefencev1.Int32Values{Values: vals}}
		value = func(i int, v storage.Value) { vals[i] = int32(v.Int) }
	case storage.TypeFloat64:
		vals := make([]float64, n)
		col.Values = &timefencev1.FeatureColumn_DoubleValues{DoubleValues: &timefencev1.DoubleValues{Values: vals}}
		value = func(i int, v storage.Value) { vals[i] = v.Float }
	case storage.TypeFloat32:
		vals := make([]float32, n)
		col.Values = &timefencev1.FeatureColumn_FloatValues{FloatValues: &timefencev1.FloatValues{Values: vals}}
		value = func(i int, v storage.Value) { vals[i] = float32(v.Float) }
	case storage.TypeString, storage.TypeJSON, storage.TypeMap: // JSON as its text
		vals := make([]string, n)
		col.Values = &timefencev1.FeatureColumn_StringValues{StringValues: &timefencev1.StringValues{Values: vals}}
		value = func(i int, v storage.Value) { vals[i] = v.Str }
	case storage.TypeBool:
		vals := make([]bool, n)
		col.Values = &timefencev1.FeatureColumn_BoolValues{BoolValues: &timefencev1.BoolValues{Values: vals}}
		value = func(i int, v storage.Value) { vals[i] = v.Int != 0 }
	case storage.TypeBytes:
		vals := make([][]byte, n)
		col.Values = &timefencev1.FeatureColumn_BytesValues{BytesValues: &timefencev1.BytesValues{Values: vals}}
		value = func(i int, v storage.Value) { vals[i] = []byte(v.Str) }
	case storage.TypeFloatList:
		vals := lists(n, func() *timefencev1.FloatList { return &timefencev1.FloatList{} })
		col.Values = &timefencev1.FeatureColumn_FloatListValues{FloatListValues: &timefencev1.FloatListValues{Values: vals}}
		value = func(i int, v storage.Value) { vals[i].Values = v.Float32s() }
	case storage.TypeInt32List:
		vals := lists(n, func() *timefencev1.Int32List { return &timefencev1.Int32List{} })
		col.Values = &timefencev1.FeatureColumn_Int32ListValues{Int32ListValues: &timefencev1.Int32ListValues{Values: vals}}
		value = func(i int, v storage.Value) {
			items := v.Ints()
			vals[i].Values = make([]int32, len(items))
			for k, x := range items {
				vals[i].Values[k] = int32(x)
			}
		}
	case storage.TypeInt64List, storage.TypeTimestampList: // timestamps as Unix ns
		vals := lists(n, func() *timefencev1.Int64List { return &timefencev1.Int64List{} })
		col.Values = &timefencev1.FeatureColumn_Int64ListValues{Int64ListValues: &timefencev1.Int64ListValues{Values: vals}}
		value = func(i int, v storage.Value) { vals[i].Values = v.Ints() }
	case storage.TypeFloat64List:
		vals := lists(n, func() *timefencev1.DoubleList { return &timefencev1.DoubleList{} })
		col.Values = &timefencev1.FeatureColumn_DoubleListValues{DoubleListValues: &timefencev1.DoubleListValues{Values: vals}}
		value = func(i int, v storage.Value) { vals[i].Values = v.Floats() }
	case storage.TypeStringList:
		vals := lists(n, func() *timefencev1.StringList { return &timefencev1.StringList{} })
		col.Values = &timefencev1.FeatureColumn_StringListValues{StringListValues: &timefencev1.StringListValues{Values: vals}}
		value = func(i int, v storage.Value) { vals[i].Values = v.Strings() }
	case storage.TypeBoolList:
		vals := lists(n, func() *timefencev1.BoolList { return &timefencev1.BoolList{} })
		col.Values = &timefencev1.FeatureColumn_BoolListValues{BoolListValues: &timefencev1.BoolListValues{Values: vals}}
		value = func(i int, v storage.Value) { vals[i].Values = v.Bools() }
	case storage.TypeBytesList:
		vals := lists(n, func() *timefencev1.BytesList { return &timefencev1.BytesList{} })
		col.Values = &timefencev1.FeatureColumn_BytesListValues{BytesListValues: &timefencev1.BytesListValues{Values: vals}}
		value = func(i int, v storage.Value) {
			items := v.Strings()
			vals[i].Values = make([][]byte, len(items))
			for k, x := range items {
				vals[i].Values[k] = []byte(x)
			}
		}
	default:
		panic(fmt.Sprintf("no online column for type %s", t))
	}
	return &onlineColumn{col: col, value: value}
}

// onlineTime returns the read time and watermark: now, or as_of under a split.
func (s *Server) onlineTime(ctx context.Context, req *timefencev1.GetOnlineFeaturesRequest) (int64, uint64, error) {
	if req.GetAsOf() == nil {
		if req.GetSplit() != "" {
			return 0, 0, invalid("split: only used with as_of; an online read at now needs no split")
		}
		at, w := s.store.ReadTime()
		return at, w, nil
	}
	at, err := toNanos(req.GetAsOf(), "as_of")
	if err != nil {
		return 0, 0, err
	}
	sp, err := s.splitFor(ctx, req.GetSplit())
	if err != nil {
		return 0, 0, err
	}
	if err := checkWindow(sp, []int64{at}); err != nil {
		return 0, 0, err
	}
	if err := s.checkFuture("as_of", false, []int64{at}); err != nil {
		return 0, 0, err
	}
	watermark, err := s.awaitReadTime(ctx, at)
	return at, watermark, err
}

// lists returns n empty lists made by mk: a null row holds an empty list.
func lists[T any](n int, mk func() T) []T {
	out := make([]T, n)
	for i := range out {
		out[i] = mk()
	}
	return out
}
