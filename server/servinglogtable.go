package server

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/flight"
	"github.com/apache/arrow/go/v15/arrow/ipc"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"google.golang.org/protobuf/proto"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
	"github.com/timefence/timefence/storage"
)

// logCmd is the Flight DoGet ticket of the serving log as a table.
type logCmd struct {
	Op       string   `json:"op"`
	Split    string   `json:"split"`
	Features []string `json:"features"`
}

// servingLogTable streams, under a split, the logged lookups read within its
// window that served every feature of cmd.Features: one row per entity row
// with request_id, row, read_time, the join keys, context (the request-time
// inputs as a JSON object), then each feature as served, null unless it was
// present. It is what production served, to train on once labels arrive;
// a lookup read after the split's end is never in it, and neither is any
// value it did not serve.
func (s *Server) servingLogTable(ctx context.Context, cmd logCmd, out flight.DataStreamWriter) error {
	sp, err := s.splitFor(ctx, cmd.Split)
	if err != nil {
		return err
	}
	if len(cmd.Features) == 0 {
		return invalid("features: name the features served, as \"view:feature\" or \"view\"")
	}
	// Every lookup logged before the read is in it.
	if err := s.servingLog.flush(ctx); err != nil {
		return err
	}
	reads, names, err := s.resolveFeatures(cmd.Features, nil)
	if err != nil {
		return err
	}
	var keys []storage.JoinKey
	types := make([]storage.Type, len(names))
	for _, vr := range reads {
		for _, k := range vr.proj.View.JoinKeys {
			i := slices.IndexFunc(keys, func(x storage.JoinKey) bool { return x.Name == k.Name })
			if i < 0 {
				keys = append(keys, k)
			} else if keys[i].Type != k.Type {
				return invalid(fmt.Sprintf("features: join key %q is %s in one view and %s in another", k.Name, keys[i].Type, k.Type))
			}
		}
		for j, c := range vr.cols {
			types[c] = vr.proj.Features[j].Type
		}
	}
	fields := []arrow.Field{{Name: "request_id", Type: arrow.BinaryTypes.String}, {Name: "row", Type: arrow.PrimitiveTypes.Int32},
		{Name: "read_time", Type: timestampNS}}
	for _, k := range keys {
		fields = append(fields, arrow.Field{Name: k.Name, Type: arrowType(k.Type)})
	}
	fields = append(fields, arrow.Field{Name: "context", Type: arrow.BinaryTypes.String, Nullable: true})
	for i, n := range names {
		fields = append(fields, arrow.Field{Name: n, Type: arrowType(types[i]), Nullable: true})
	}
	schema := arrow.NewSchema(fields, nil)
	w := flight.NewRecordWriter(out, ipc.WithSchema(schema), ipc.WithAllocator(memory.DefaultAllocator))
	defer w.Close()
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	flush := func() error {
		rec := b.NewRecord()
		defer rec.Release()
		return w.Write(rec)
	}
	at, _ := s.store.ReadTime()
	var sum logSummary
	sum.Split = sp.Name
	rows := 0
	err = s.store.ScanLog(ctx, sp.Start, min(sp.End, at), func(r storage.LogRecord) error {
		var rec timefencev1.ServingLogRecord
		if err := proto.Unmarshal(r.Data, &rec); err != nil {
			return fmt.Errorf("%w: serving log record %q at %s does not decode: %v", storage.ErrCorrupt, r.RequestID, storage.FormatTime(r.ReadTime), err)
		}
		cols := make([]int, len(names))
		for i, n := range names {
			if cols[i] = slices.Index(rec.GetFeatures(), n); cols[i] < 0 || cols[i] >= len(rec.GetColumns()) {
				return nil // it did not serve every feature asked for
			}
		}
		keyCols := make([]int, len(keys))
		for i, k := range keys {
			if keyCols[i] = slices.Index(rec.GetJoinKeys(), k.Name); keyCols[i] < 0 {
				return nil
			}
		}
		context, err := contextJSON(rec.GetContext())
		if err != nil {
			return err
		}
		sum.Lookups++
		for i, row := range rec.GetEntityRows() {
			b.Field(0).(*array.StringBuilder).Append(rec.GetRequestId())
			b.Field(1).(*array.Int32Builder).Append(int32(i))
			b.Field(2).(*array.TimestampBuilder).Append(arrow.Timestamp(rec.GetReadTimeUnixNanos()))
			for j, k := range keys {
				if keyCols[j] >= len(row.GetValues()) {
					return fmt.Errorf("%w: serving log record %q: row %d has no value of key %q", storage.ErrCorrupt, rec.GetRequestId(), i, k.Name)
				}
				appendValue(b.Field(3+j), toValueAs(row.GetValues()[keyCols[j]], k.Type))
			}
			if context == "" {
				b.Field(3 + len(keys)).AppendNull()
			} else {
				b.Field(3 + len(keys)).(*array.StringBuilder).Append(context)
			}
			for c, col := range cols {
				v, err := servedValue(rec.GetColumns()[col], i)
				if err == nil && !v.IsNull() && v.Type != types[c] {
					if !v.Type.WidensTo(types[c]) {
						err = invalid(fmt.Sprintf("features: %s was served as %s by lookup %q, and is %s now; read the log in windows of one type",
							names[c], v.Type, rec.GetRequestId(), types[c]))
					}
					v = v.As(types[c])
				}
				if err != nil {
					return err
				}
				appendValue(b.Field(4+len(keys)+c), v)
			}
			if rows++; rows%chunkRows == 0 {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	// The last record, perhaps empty, carries the summary.
	sum.Rows = int64(rows)
	meta, _ := json.Marshal(sum)
	rec := b.NewRecord()
	defer rec.Release()
	return w.WriteWithAppMetadata(rec, meta)
}

// logSummary is the app metadata of the serving log table's last record.
type logSummary struct {
	Split   string `json:"split"`
	Lookups int64  `json:"lookups"`
	Rows    int64  `json:"rows"`
}

// servedValue is row i of a response column as a storage value; null unless
// the row was present with a value.
func servedValue(col *timefencev1.FeatureColumn, i int) (storage.Value, error) {
	if i >= len(col.GetStatuses()) || i >= len(col.GetNulls()) || i >= len(col.GetEventTimeUnixNanos()) {
		return storage.Value{}, fmt.Errorf("%w: a logged column has %d rows, fewer than %d", storage.ErrCorrupt, len(col.GetStatuses()), i+1)
	}
	if col.GetStatuses()[i] != timefencev1.FeatureStatus_FEATURE_STATUS_PRESENT || col.GetNulls()[i] {
		return storage.Value{}, nil
	}
	t, err := toType(col.GetType(), "logged column type")
	if err != nil {
		return storage.Value{}, err
	}

	switch v := col.GetValues().(type) {
	case *timefencev1.FeatureColumn_Int64Values:
		if x := v.Int64Values.GetValues(); i < len(x) {
			return storage.Value{Type: t, Int: x[i]}, nil
		}
	case *timefencev1.FeatureColumn_Int32Values:
		if x := v.Int32Values.GetValues(); i < len(x) {
			return storage.Int32(x[i]), nil
		}
	case *timefencev1.FeatureColumn_DoubleValues:
		if x := v.DoubleValues.GetValues(); i < len(x) {
			return storage.Float64(x[i]), nil
		}
	case *timefencev1.FeatureColumn_FloatValues:
		if x := v.FloatValues.GetValues(); i < len(x) {
			return storage.Float32(x[i]), nil
		}
	case *timefencev1.FeatureColumn_StringValues:
		if x := v.StringValues.GetValues(); i < len(x) {
			return storage.Value{Type: t, Str: x[i]}, nil
		}
	case *timefencev1.FeatureColumn_BoolValues:
		if x := v.BoolValues.GetValues(); i < len(x) {
			return storage.Bool(x[i]), nil
		}
	case *timefencev1.FeatureColumn_BytesValues:
		if x := v.BytesValues.GetValues(); i < len(x) {
			return storage.Bytes(x[i]), nil
		}
	case *timefencev1.FeatureColumn_FloatListValues:
		if x := v.FloatListValues.GetValues(); i < len(x) {
			return storage.FloatList(x[i].GetValues()), nil
		}
	case *timefencev1.FeatureColumn_Int32ListValues:
		if x := v.Int32ListValues.GetValues(); i < len(x) {
			return storage.Int32List(x[i].GetValues()), nil
		}
	case *timefencev1.FeatureColumn_Int64ListValues:
		if x := v.Int64ListValues.GetValues(); i < len(x) {
			if t == storage.TypeTimestampList {
				return storage.TimestampList(x[i].GetValues()), nil
			}
			return storage.Int64List(x[i].GetValues()), nil
		}
	case *timefencev1.FeatureColumn_DoubleListValues:
		if x := v.DoubleListValues.GetValues(); i < len(x) {
			return storage.Float64List(x[i].GetValues()), nil
		}
	case *timefencev1.FeatureColumn_StringListValues:
		if x := v.StringListValues.GetValues(); i < len(x) {
			return storage.StringList(x[i].GetValues()), nil
		}
	case *timefencev1.FeatureColumn_BoolListValues:
		if x := v.BoolListValues.GetValues(); i < len(x) {
			return storage.BoolList(x[i].GetValues()), nil
		}
	case *timefencev1.FeatureColumn_BytesListValues:
		if x := v.BytesListValues.GetValues(); i < len(x) {
			return storage.BytesList(x[i].GetValues()), nil
		}
	}
	return storage.Value{}, fmt.Errorf("%w: a logged column of %s has fewer than %d values", storage.ErrCorrupt, t, i+1)
}

// contextJSON is a lookup's context as a JSON object, "" when it has none.
func contextJSON(ctx map[string]*timefencev1.Value) (string, error) {
	if len(ctx) == 0 {
		return "", nil
	}
	out := make(map[string]any, len(ctx))
	for k, pv := range ctx {
		v := toValue(pv)
		switch v.Type {
		case storage.TypeInt64, storage.TypeInt32:
			out[k] = v.Int
		case storage.TypeFloat64, storage.TypeFloat32:
			out[k] = v.Float
		case storage.TypeBool:
			out[k] = v.Int != 0
		case storage.TypeTimestamp:
			out[k] = storage.FormatTime(v.Int)
		case storage.TypeJSON, storage.TypeMap:
			out[k] = json.RawMessage(v.Str)
		case storage.TypeString, storage.TypeBytes:
			out[k] = v.Str
		default:
			out[k] = v.String()
		}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return "", invalid(fmt.Sprintf("context: %v", err))
	}
	return string(b), nil
}
