package server_test

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
	"github.com/timefence/timefence/client"
	"github.com/timefence/timefence/server"
)

var (
	tsNS = &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}
	ts0  = time.Date(2001, 2, 3, 4, 5, 6, 7, time.UTC)
)

// typeCase is one feature type, in a feature named as the type: a value of
// it as the Go client writes and reads it, the Arrow type a bulk write
// sends it as, the Arrow type joins and exports return, and the field of an
// online FeatureColumn holding it.
type typeCase struct {
	name  string
	typ   timefencev1.ValueType
	value any
	in    arrow.DataType
	out   arrow.DataType
	field any // a nil pointer of the FeatureColumn values' oneof type
}

var typeCases = []typeCase{
	{"int64", timefencev1.ValueType_VALUE_TYPE_INT64, int64(-42), arrow.PrimitiveTypes.Int64, arrow.PrimitiveTypes.Int64,
		(*timefencev1.FeatureColumn_Int64Values)(nil)},
	{"int32", timefencev1.ValueType_VALUE_TYPE_INT32, int32(-7), arrow.PrimitiveTypes.Int32, arrow.PrimitiveTypes.Int32,
		(*timefencev1.FeatureColumn_Int32Values)(nil)},
	{"double", timefencev1.ValueType_VALUE_TYPE_DOUBLE, 2.5, arrow.PrimitiveTypes.Float64, arrow.PrimitiveTypes.Float64,
		(*timefencev1.FeatureColumn_DoubleValues)(nil)},
	{"float", timefencev1.ValueType_VALUE_TYPE_FLOAT, float32(1.25), arrow.PrimitiveTypes.Float32, arrow.PrimitiveTypes.Float32,
		(*timefencev1.FeatureColumn_FloatValues)(nil)},
	{"string", timefencev1.ValueType_VALUE_TYPE_STRING, "héllo", arrow.BinaryTypes.String, arrow.BinaryTypes.String,
		(*timefencev1.FeatureColumn_StringValues)(nil)},
	{"bytes", timefencev1.ValueType_VALUE_TYPE_BYTES, []byte{0, 1, 0xff}, arrow.BinaryTypes.Binary, arrow.BinaryTypes.Binary,
		(*timefencev1.FeatureColumn_BytesValues)(nil)},
	{"bool", timefencev1.ValueType_VALUE_TYPE_BOOL, true, arrow.FixedWidthTypes.Boolean, arrow.FixedWidthTypes.Boolean,
		(*timefencev1.FeatureColumn_BoolValues)(nil)},
	{"timestamp", timefencev1.ValueType_VALUE_TYPE_TIMESTAMP, ts0, tsNS, tsNS,
		(*timefencev1.FeatureColumn_Int64Values)(nil)},
	{"json", timefencev1.ValueType_VALUE_TYPE_JSON, client.JSON(`[1, {"a": "b"},  null]`), arrow.BinaryTypes.String, arrow.BinaryTypes.String,
		(*timefencev1.FeatureColumn_StringValues)(nil)},
	{"map", timefencev1.ValueType_VALUE_TYPE_MAP, client.Map(`{"k": 1, "n": [true]}`), arrow.BinaryTypes.String, arrow.BinaryTypes.String,
		(*timefencev1.FeatureColumn_StringValues)(nil)},
	{"float_list", timefencev1.ValueType_VALUE_TYPE_FLOAT_LIST, []float32{1.5, -2}, arrow.ListOf(arrow.PrimitiveTypes.Float32),
		arrow.ListOf(arrow.PrimitiveTypes.Float32), (*timefencev1.FeatureColumn_FloatListValues)(nil)},
	{"int32_list", timefencev1.ValueType_VALUE_TYPE_INT32_LIST, []int32{1, -2, math.MaxInt32}, arrow.ListOf(arrow.PrimitiveTypes.Int32),
		arrow.ListOf(arrow.PrimitiveTypes.Int32), (*timefencev1.FeatureColumn_Int32ListValues)(nil)},
	{"int64_list", timefencev1.ValueType_VALUE_TYPE_INT64_LIST, []int64{math.MaxInt64, -1}, arrow.ListOf(arrow.PrimitiveTypes.Int64),
		arrow.ListOf(arrow.PrimitiveTypes.Int64), (*timefencev1.FeatureColumn_Int64ListValues)(nil)},
	{"double_list", timefencev1.ValueType_VALUE_TYPE_DOUBLE_LIST, []float64{0.1, math.Inf(1)}, arrow.ListOf(arrow.PrimitiveTypes.Float64),
		arrow.ListOf(arrow.PrimitiveTypes.Float64), (*timefencev1.FeatureColumn_DoubleListValues)(nil)},
	{"string_list", timefencev1.ValueType_VALUE_TYPE_STRING_LIST, []string{"a", "", "ç"}, arrow.ListOf(arrow.BinaryTypes.String),
		arrow.ListOf(arrow.BinaryTypes.String), (*timefencev1.FeatureColumn_StringListValues)(nil)},
	{"bool_list", timefencev1.ValueType_VALUE_TYPE_BOOL_LIST, []bool{true, false, true}, arrow.ListOf(arrow.FixedWidthTypes.Boolean),
		arrow.ListOf(arrow.FixedWidthTypes.Boolean), (*timefencev1.FeatureColumn_BoolListValues)(nil)},
	{"bytes_list", timefencev1.ValueType_VALUE_TYPE_BYTES_LIST, [][]byte{{1}, {}, {0xff, 0}}, arrow.ListOf(arrow.BinaryTypes.Binary),
		arrow.ListOf(arrow.BinaryTypes.Binary), (*timefencev1.FeatureColumn_BytesListValues)(nil)},
	{"timestamp_list", timefencev1.ValueType_VALUE_TYPE_TIMESTAMP_LIST, []time.Time{ts0, ts0.Add(time.Hour)}, arrow.ListOf(tsNS),
		arrow.ListOf(tsNS), (*timefencev1.FeatureColumn_Int64ListValues)(nil)},
}

func typeNames() []string {
	var out []string
	for _, tc := range typeCases {
		out = append(out, tc.name)
	}
	return out
}

// canonical returns a value in a form that compares equal whatever path it
// took: JSON and map text as strings, bytes as hex (nil and empty alike).
func canonical(v any) any {
	switch x := v.(type) {
	case client.JSON:
		return string(x)
	case client.Map:
		return string(x)
	case []byte:
		return fmt.Sprintf("bytes %x", x)
	case [][]byte:
		out := make([]string, len(x))
		for i, b := range x {
			out[i] = fmt.Sprintf("%x", b)
		}
		return out
	}
	return v
}

// arrowCell returns row i of a result column as a Go value: timestamps as
// time.Time in UTC, lists as slices of their items.
func arrowCell(col arrow.Array, i int) any {
	if col.IsNull(i) {
		return nil
	}
	switch a := col.(type) {
	case *array.Int64:
		return a.Value(i)
	case *array.Int32:
		return a.Value(i)
	case *array.Float64:
		return a.Value(i)
	case *array.Float32:
		return a.Value(i)
	case *array.String:
		return a.Value(i)
	case *array.Binary:
		return slices.Clone(a.Value(i))
	case *array.Boolean:
		return a.Value(i)
	case *array.Timestamp:
		if u := a.DataType().(*arrow.TimestampType).Unit; u != arrow.Nanosecond {
			panic(fmt.Sprintf("timestamp unit %s", u))
		}
		return time.Unix(0, int64(a.Value(i))).UTC()
	case *array.List:
		s, e := a.ValueOffsets(i)
		switch items := a.ListValues(); items.(type) {
		case *array.Float32:
			return listOf[float32](items, s, e)
		case *array.Int32:
			return listOf[int32](items, s, e)
		case *array.Int64:
			return listOf[int64](items, s, e)
		case *array.Float64:
			return listOf[float64](items, s, e)
		case *array.String:
			return listOf[string](items, s, e)
		case *array.Boolean:
			return listOf[bool](items, s, e)
		case *array.Binary:
			return listOf[[]byte](items, s, e)
		case *array.Timestamp:
			return listOf[time.Time](items, s, e)
		}
	}
	panic(fmt.Sprintf("unexpected column %s", col.DataType()))
}

func listOf[T any](items arrow.Array, s, e int64) []T {
	out := make([]T, 0, e-s)
	for k := s; k < e; k++ {
		if items.IsNull(int(k)) {
			panic("a null list item in a result")
		}
		out = append(out, arrowCell(items, int(k)).(T))
	}
	return out
}

// appendGo appends a Go value (as the client writes it) to an Arrow
// builder, converting it to the builder's type: nil appends a null.
func appendGo(b array.Builder, v any) {
	if v == nil {
		b.AppendNull()
		return
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Slice && rv.Type().Elem().Kind() != reflect.Uint8 {
		var items array.Builder
		switch lb := b.(type) {
		case *array.ListBuilder:
			lb.Append(true)
			items = lb.ValueBuilder()
		case *array.LargeListBuilder:
			lb.Append(true)
			items = lb.ValueBuilder()
		case *array.FixedSizeListBuilder:
			lb.Append(true)
			items = lb.ValueBuilder()
		default:
			panic(fmt.Sprintf("a list for builder %T", b))
		}
		for k := range rv.Len() {
			appendGo(items, rv.Index(k).Interface())
		}
		return
	}
	num := func() float64 { return reflect.ValueOf(v).Convert(reflect.TypeOf(0.0)).Float() }
	integer := func() int64 { return reflect.ValueOf(v).Convert(reflect.TypeOf(int64(0))).Int() }
	switch b := b.(type) {
	case *array.Int64Builder:
		b.Append(integer())
	case *array.Int32Builder:
		b.Append(int32(integer()))
	case *array.Int16Builder:
		b.Append(int16(integer()))
	case *array.Uint8Builder:
		b.Append(uint8(integer()))
	case *array.Uint32Builder:
		b.Append(uint32(integer()))
	case *array.Float64Builder:
		b.Append(num())
	case *array.Float32Builder:
		b.Append(float32(num()))
	case *array.StringBuilder:
		b.Append(reflect.ValueOf(v).String())
	case *array.LargeStringBuilder:
		b.Append(reflect.ValueOf(v).String())
	case *array.BinaryBuilder:
		b.Append(v.([]byte))
	case *array.BooleanBuilder:
		b.Append(v.(bool))
	case *array.TimestampBuilder:
		t := v.(time.Time)
		switch b.Type().(*arrow.TimestampType).Unit {
		case arrow.Second:
			b.Append(arrow.Timestamp(t.Unix()))
		case arrow.Millisecond:
			b.Append(arrow.Timestamp(t.UnixMilli()))
		case arrow.Microsecond:
			b.Append(arrow.Timestamp(t.UnixMicro()))
		default:
			b.Append(arrow.Timestamp(t.UnixNano()))
		}
	default:
		panic(fmt.Sprintf("no append of %T to %T", v, b))
	}
}

// typedTable is a bulk write of view typed: item_id, event_timestamp and
// one column per feature of cols, of the Arrow type in types; row r holds
// key keys[r] and values vals(name).
func typedTable(keys []int64, at time.Time, names []string, types []arrow.DataType, vals func(name string, row int) any) array.RecordReader {
	fields := []arrow.Field{{Name: "item_id", Type: arrow.PrimitiveTypes.Int64}, {Name: "event_timestamp", Type: tsNS}}
	for j, n := range names {
		fields = append(fields, arrow.Field{Name: n, Type: types[j], Nullable: true})
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, arrow.NewSchema(fields, nil))
	defer b.Release()
	for r, k := range keys {
		b.Field(0).(*array.Int64Builder).Append(k)
		b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(at.UnixNano()))
		for j, n := range names {
			appendGo(b.Field(2+j), vals(n, r))
		}
	}
	return recordReader(b.NewRecord())
}

// defineTyped registers entity item (item_id int64), view typed with one
// feature per type, named as the type, and the split "all".
func defineTyped(t *testing.T, c *client.Client) {
	t.Helper()
	ctx := context.Background()
	_, err := c.ApplyEntity(ctx, &timefencev1.Entity{Name: "item", JoinKeys: []*timefencev1.JoinKey{{Name: "item_id", Type: timefencev1.ValueType_VALUE_TYPE_INT64}}})
	require.NoError(t, err)
	view := &timefencev1.FeatureView{Name: "typed", Entity: "item"}
	for _, tc := range typeCases {
		view.Features = append(view.Features, &timefencev1.Feature{Name: tc.name, Type: tc.typ})
	}
	_, err = c.ApplyFeatureView(ctx, view)
	require.NoError(t, err)
	_, err = c.CreateSplit(ctx, "all", time.Unix(0, 0), time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC))
	require.NoError(t, err)
}

// typedSpine is a spine of item_id and event_timestamp rows, all at at.
func typedSpine(at time.Time, keys ...int64) array.RecordReader {
	b := array.NewRecordBuilder(memory.DefaultAllocator, arrow.NewSchema([]arrow.Field{
		{Name: "item_id", Type: arrow.PrimitiveTypes.Int64}, {Name: "event_timestamp", Type: tsNS}}, nil))
	defer b.Release()
	for _, k := range keys {
		b.Field(0).(*array.Int64Builder).Append(k)
		b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(at.UnixNano()))
	}
	return recordReader(b.NewRecord())
}

// joinTable runs a join and returns its output as IPC bytes, the output
// schema, its rows as Go values (arrowCell) and the summary.
func joinTable(t *testing.T, c *client.Client, features []string, spine array.RecordReader, opts ...client.Option) ([]byte, *arrow.Schema, [][]any, *client.JoinSummary) {
	t.Helper()
	var out ipcBytes
	var schema *arrow.Schema
	var rows [][]any
	sum, err := c.GetHistorical(context.Background(), "all", features, spine, func(rec arrow.Record) error {
		schema = rec.Schema()
		for i := range int(rec.NumRows()) {
			row := make([]any, rec.NumCols())
			for j := range row {
				row[j] = arrowCell(rec.Column(j), i)
			}
			rows = append(rows, row)
		}
		return out.add(rec)
	}, opts...)
	require.NoError(t, err)
	return out.bytes(), schema, rows, sum
}

// onlineTyped reads features of items online and checks the raw response
// too: each column's type, and the oneof field holding its values.
func onlineTyped(t *testing.T, env *testEnv, features []string, want []timefencev1.ValueType, fields []any, keys ...int64) *client.OnlineResult {
	t.Helper()
	ctx := context.Background()
	rows := make([][]any, len(keys))
	raw := &timefencev1.GetOnlineFeaturesRequest{Features: features, JoinKeys: []string{"item_id"}}
	for i, k := range keys {
		rows[i] = []any{k}
		raw.EntityRows = append(raw.EntityRows, &timefencev1.EntityRow{Values: []*timefencev1.Value{{Kind: &timefencev1.Value_Int64Value{Int64Value: k}}}})
	}
	online := timefencev1.NewOnlineServiceClient(env.client.Conn())
	resp, err := online.GetOnlineFeatures(ctx, raw)
	require.NoError(t, err)
	for j, col := range resp.GetColumns() {
		require.Equal(t, want[j], col.GetType(), resp.GetFeatures()[j])
		require.IsType(t, fields[j], col.GetValues(), resp.GetFeatures()[j])
	}
	// Packed, the same results at the same read time.
	raw.Packed, raw.AsOf, raw.Split = true, resp.GetReadTime(), "all"
	packed, err := online.GetOnlineFeatures(ctx, raw)
	require.NoError(t, err)
	require.Empty(t, packed.GetColumns())
	require.Equal(t, resp.GetFeatures(), packed.GetFeatures())
	got := server.UnpackColumns(t, packed.GetPacked(), len(keys))
	for j := range got {
		require.True(t, proto.Equal(resp.GetColumns()[j], got[j]), "%s: packed %v, columns %v", resp.GetFeatures()[j], got[j], resp.GetColumns()[j])
	}
	res, err := env.client.GetOnline(ctx, features, []string{"item_id"}, rows, client.Logged())
	require.NoError(t, err)
	require.Equal(t, want, res.Types)
	return res
}

// TestEveryTypeOnEveryPath writes a value of every feature type over gRPC
// and over Flight, and a row of nulls, then reads them back online (each
// in its own FeatureColumn field), in a point-in-time join and an export
// (each in its Arrow type), and in statistics; again after a compaction
// and a reopen of the store, where re-reading the join's dataset returns
// the same bytes. A comparison of statistics runs over every type.
func TestEveryTypeOnEveryPath(t *testing.T) {
	env := startServer(t)
	defineTyped(t, env.client)
	ctx := context.Background()

	got, err := env.client.GetFeatureView(ctx, "typed")
	require.NoError(t, err)
	for j, tc := range typeCases {
		require.Equal(t, tc.name, got.GetFeatures()[j].GetName())
		require.Equal(t, tc.typ, got.GetFeatures()[j].GetType(), tc.name)
	}

	// Item 1 over gRPC, item 0 all null, items 2..41 over Flight.
	t0 := time.Now().Add(-time.Hour).Truncate(time.Microsecond)
	row := client.Row{Key: []any{int64(1)}, EventTime: t0}
	nulls := client.Row{Key: []any{int64(0)}, EventTime: t0}
	var ins []arrow.DataType
	for _, tc := range typeCases {
		row.Values = append(row.Values, tc.value)
		nulls.Values = append(nulls.Values, nil)
		ins = append(ins, tc.in)
	}
	_, err = env.client.Write(ctx, "typed", []client.Row{row, nulls})
	require.NoError(t, err)
	flightKeys := make([]int64, 40)
	for i := range flightKeys {
		flightKeys[i] = int64(2 + i)
	}
	value := map[string]any{}
	for _, tc := range typeCases {
		value[tc.name] = tc.value
	}
	res, err := env.client.WriteTable(ctx, "typed", typedTable(flightKeys, t0, typeNames(), ins, func(n string, _ int) any { return value[n] }))
	require.NoError(t, err)
	require.Equal(t, 40, res.Rows)

	var want []timefencev1.ValueType
	var fields []any
	for _, tc := range typeCases {
		want, fields = append(want, tc.typ), append(fields, tc.field)
	}
	checkOnline := func() time.Time {
		t.Helper()
		on := onlineTyped(t, env, []string{"typed"}, want, fields, 1, 0, 2, 41)
		for j, tc := range typeCases {
			for _, r := range []int{0, 2, 3} {
				fv := on.Rows[r][j]
				require.Equal(t, client.Present, fv.Status, tc.name)
				require.IsType(t, tc.value, fv.Value, tc.name)
				require.Equal(t, canonical(tc.value), canonical(fv.Value), tc.name)
			}
			require.Equal(t, client.Present, on.Rows[1][j].Status, tc.name)
			require.Nil(t, on.Rows[1][j].Value, tc.name)
		}
		return on.ReadTime
	}
	readAt := checkOnline()

	// A point-in-time join at the read time, whose dataset is re-read below.
	checkJoin := func(schema *arrow.Schema, rows [][]any) {
		t.Helper()
		require.Len(t, rows, 4)
		for j, tc := range typeCases {
			f := schema.Field(2 + j)
			require.Equal(t, tc.name, f.Name)
			require.True(t, arrow.TypeEqual(tc.out, f.Type), "%s: %s", tc.name, f.Type)
			for _, r := range []int{0, 2, 3} {
				require.Equal(t, canonical(tc.value), canonical(rows[r][2+j]), tc.name)
			}
			require.Nil(t, rows[1][2+j], tc.name)
		}
	}
	spine := func() array.RecordReader { return typedSpine(readAt, 1, 0, 2, 41) }
	first, schema, rows, sum := joinTable(t, env.client, []string{"typed"}, spine())
	checkJoin(schema, rows)
	require.Equal(t, int64(4), sum.Rows)

	// The export holds every version, one per item.
	checkExport := func() {
		t.Helper()
		byItem := map[int64][]any{}
		_, err := env.client.Export(ctx, "all", "typed", func(rec arrow.Record) error {
			for j, tc := range typeCases {
				f := rec.Schema().Field(5 + j)
				require.Equal(t, tc.name, f.Name)
				require.True(t, arrow.TypeEqual(tc.out, f.Type), "%s: %s", tc.name, f.Type)
			}
			for i := range int(rec.NumRows()) {
				k := rec.Column(0).(*array.Int64).Value(i)
				for j := range typeCases {
					byItem[k] = append(byItem[k], arrowCell(rec.Column(5+j), i))
				}
			}
			return nil
		})
		require.NoError(t, err)
		require.Len(t, byItem, 42)
		for j, tc := range typeCases {
			require.Nil(t, byItem[0][j], tc.name)
			for _, k := range []int64{1, 2, 41} {
				require.Equal(t, canonical(tc.value), canonical(byItem[k][j]), "item %d: %s", k, tc.name)
			}
		}
	}
	checkExport()

	// The serving log's table holds what the logged lookup served, in the
	// export's types.
	served := map[int64][]any{}
	_, err = env.client.ServingLog(ctx, "all", []string{"typed"}, func(rec arrow.Record) error {
		for j, tc := range typeCases {
			f := rec.Schema().Field(5 + j)
			require.Equal(t, "typed:"+tc.name, f.Name)
			require.True(t, arrow.TypeEqual(tc.out, f.Type), "%s: %s", tc.name, f.Type)
		}
		for i := range int(rec.NumRows()) {
			k := rec.Column(3).(*array.Int64).Value(i)
			for j := range typeCases {
				served[k] = append(served[k], arrowCell(rec.Column(5+j), i))
			}
		}
		return nil
	})
	require.NoError(t, err)
	for j, tc := range typeCases {
		require.Nil(t, served[0][j], tc.name)
		for _, k := range []int64{1, 2, 41} {
			require.Equal(t, canonical(tc.value), canonical(served[k][j]), "item %d: %s", k, tc.name)
		}
	}

	// Statistics count 42 versions of each feature, one null.
	st, err := env.client.GetStatistics(ctx, "all", "typed")
	require.NoError(t, err)
	require.Len(t, st.GetFeatures(), len(typeCases))
	for j, tc := range typeCases {
		fs := st.GetFeatures()[j]
		require.Equal(t, tc.name, fs.GetFeature())
		require.Equal(t, tc.typ, fs.GetType(), tc.name)
		require.Equal(t, int64(42), fs.GetCount(), tc.name)
		require.Equal(t, int64(1), fs.GetNullCount(), tc.name)
		require.Equal(t, int64(1), fs.GetDistinctCount(), tc.name)
	}
	stat := func(name string) *timefencev1.FeatureStatistics {
		return st.GetFeatures()[slices.Index(typeNames(), name)]
	}
	for name, x := range map[string]float64{"int64": -42, "int32": -7, "double": 2.5, "float": 1.25, "timestamp": float64(ts0.UnixNano())} {
		require.NotNil(t, stat(name).Min, name)
		require.Equal(t, x, stat(name).GetMin(), name)
		require.Equal(t, x, stat(name).GetMax(), name)
	}
	for name, top := range map[string]string{"int32": "-7", "timestamp": "2001-02-03T04:05:06.000000007Z",
		"json": `[1, {"a": "b"},  null]`, "map": `{"k": 1, "n": [true]}`} {
		require.Len(t, stat(name).GetTopValues(), 1, name)
		require.Equal(t, top, stat(name).GetTopValues()[0].GetValue(), name)
		require.Equal(t, int64(41), stat(name).GetTopValues()[0].GetCount(), name)
	}
	for name, n := range map[string]int64{"float_list": 2, "int32_list": 3, "int64_list": 2, "double_list": 2,
		"string_list": 3, "bool_list": 3, "bytes_list": 3, "timestamp_list": 2} {
		require.NotNil(t, stat(name).MinLength, name)
		require.Equal(t, n, stat(name).GetMinLength(), name)
		require.Equal(t, n, stat(name).GetMaxLength(), name)
		require.Nil(t, stat(name).Min, name)
	}
	require.Nil(t, stat("json").Min)

	// After a compaction and after a reopen: the same values, and the
	// recorded dataset re-reads byte for byte.
	require.NoError(t, env.store.Compact())
	checkOnline()
	again, schema, rows, sum2 := joinTable(t, env.client, nil, spine(), client.WithDatasetID(sum.DatasetID))
	require.Equal(t, first, again)
	require.Equal(t, sum.Checksum, sum2.Checksum)
	checkJoin(schema, rows)
	env.restart(t)
	checkOnline()
	checkExport()
	again, _, _, sum2 = joinTable(t, env.client, nil, spine(), client.WithDatasetID(sum.DatasetID))
	require.Equal(t, first, again)
	require.Equal(t, sum.Checksum, sum2.Checksum)

	// New values half an hour of event time later, written after cut; the
	// comparison of the two windows runs over every type and finds the
	// json and map values changed.
	cut := checkOnline()
	time.Sleep(2 * time.Millisecond)
	t1 := t0.Add(30 * time.Minute)
	changed := map[string]any{"json": client.JSON(`{"other": true}`), "map": client.Map(`{}`)}
	_, err = env.client.WriteTable(ctx, "typed", typedTable(flightKeys, t1, typeNames(), ins, func(n string, _ int) any {
		if v, ok := changed[n]; ok {
			return v
		}
		return value[n]
	}))
	require.NoError(t, err)
	_, err = env.client.CreateSplit(ctx, "before", time.Unix(0, 0), cut)
	require.NoError(t, err)
	_, err = env.client.CreateSplit(ctx, "after", t1, time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	report, err := env.client.CompareStatistics(ctx, "typed", "before", "after")
	require.NoError(t, err)
	require.Len(t, report.GetCurrent().GetFeatures(), len(typeCases))
	require.Equal(t, int64(42), report.GetBaseline().GetFeatures()[0].GetCount())
	require.Equal(t, int64(40), report.GetCurrent().GetFeatures()[0].GetCount())
	kinds := map[string][]string{}
	for _, a := range report.GetAnomalies() {
		kinds[a.GetFeature()] = append(kinds[a.GetFeature()], a.GetKind())
	}
	require.Equal(t, map[string][]string{"json": {"NEW_VALUES", "TOP_VALUE_CHANGED"}, "map": {"NEW_VALUES", "TOP_VALUE_CHANGED"}}, kinds)
	require.Equal(t, `{"other": true}`, report.GetCurrent().GetFeatures()[slices.Index(typeNames(), "json")].GetTopValues()[0].GetValue())
}

// TestArrowInputsAreLenient: a bulk write takes, for each type, the Arrow
// types a writer is likely to hold for it, and the values read back are
// those written.
func TestArrowInputsAreLenient(t *testing.T) {
	env := startServer(t)
	defineTyped(t, env.client)
	ctx := context.Background()
	t0 := time.Now().Add(-time.Hour)
	ny := "America/New_York"
	sec := time.Date(2020, 5, 6, 7, 8, 9, 0, time.UTC)
	cases := []struct {
		feature string
		in      arrow.DataType
		value   any // written
		want    any // read online
	}{
		{"int32", arrow.PrimitiveTypes.Int16, int16(-300), int32(-300)},
		{"int32", arrow.PrimitiveTypes.Uint8, uint8(200), int32(200)},
		{"int32", arrow.PrimitiveTypes.Int64, int64(math.MinInt32), int32(math.MinInt32)},
		{"int64", arrow.PrimitiveTypes.Int32, int32(5), int64(5)},
		{"double", arrow.PrimitiveTypes.Float32, float32(0.5), 0.5},
		{"timestamp", &arrow.TimestampType{Unit: arrow.Microsecond}, sec, sec},
		{"timestamp", &arrow.TimestampType{Unit: arrow.Second, TimeZone: ny}, sec, sec},
		{"json", arrow.BinaryTypes.LargeString, client.JSON(`"text"`), client.JSON(`"text"`)},
		{"map", arrow.BinaryTypes.LargeString, client.Map(` {"a": {}}`), client.Map(` {"a": {}}`)},
		{"int64_list", arrow.LargeListOf(arrow.PrimitiveTypes.Int32), []int32{3, -4}, []int64{3, -4}},
		{"int32_list", arrow.FixedSizeListOf(2, arrow.PrimitiveTypes.Int64), []int64{7, math.MaxInt32}, []int32{7, math.MaxInt32}},
		{"double_list", arrow.ListOf(arrow.PrimitiveTypes.Float32), []float32{0.25, -1}, []float64{0.25, -1}},
		{"float_list", arrow.ListOf(arrow.PrimitiveTypes.Float64), []float64{0.25, 8}, []float32{0.25, 8}},
		{"string_list", arrow.ListOf(arrow.BinaryTypes.LargeString), []string{"x", "yz"}, []string{"x", "yz"}},
		{"timestamp_list", arrow.ListOf(&arrow.TimestampType{Unit: arrow.Millisecond}), []time.Time{sec}, []time.Time{sec}},
		{"bool_list", arrow.FixedSizeListOf(3, arrow.FixedWidthTypes.Boolean), []bool{false, true, false}, []bool{false, true, false}},
		{"bytes_list", arrow.LargeListOf(arrow.BinaryTypes.Binary), [][]byte{{9}}, [][]byte{{9}}},
	}
	for i, c := range cases {
		_, err := env.client.WriteTable(ctx, "typed", typedTable([]int64{int64(100 + i)}, t0, []string{c.feature}, []arrow.DataType{c.in},
			func(string, int) any { return c.value }))
		require.NoError(t, err, "%s from %s", c.feature, c.in)
	}
	for i, c := range cases {
		on, err := env.client.GetOnline(ctx, []string{"typed:" + c.feature}, []string{"item_id"}, [][]any{{int64(100 + i)}})
		require.NoError(t, err)
		require.Equal(t, client.Present, on.Rows[0][0].Status)
		require.IsType(t, c.want, on.Rows[0][0].Value, "%s from %s", c.feature, c.in)
		require.Equal(t, canonical(c.want), canonical(on.Rows[0][0].Value), "%s from %s", c.feature, c.in)
	}
}

// TestTypedValuesAreRefused: a value its type does not hold is refused
// with INVALID_ARGUMENT naming the row and feature, over gRPC and Flight,
// and nothing of the batch is written.
func TestTypedValuesAreRefused(t *testing.T) {
	env := startServer(t)
	defineTyped(t, env.client)
	ctx := context.Background()
	t0 := time.Now().Add(-time.Hour)
	before := env.store.Watermark()

	grpcCases := []struct {
		feature string
		good    any // row 0's
		value   any // row 1's
		msg     string
	}{
		{"json", client.JSON(`1`), client.JSON(`{"a":`), `rows[1]: feature "json": not valid JSON`},
		{"json", client.JSON(`1`), client.JSON(``), `rows[1]: feature "json": not valid JSON`},
		{"map", client.Map(`{}`), client.Map(`[1, 2]`), `rows[1]: feature "map": a map is a JSON object`},
		{"map", client.Map(`{}`), client.JSON(`{}`), `row 1: feature "map": expected map, got json`},
		{"double_list", []float64{1}, []float64{1, math.NaN()}, `rows[1]: feature "double_list": item 1 is NaN`},
		{"float_list", []float32{1}, []float32{float32(math.NaN())}, `rows[1]: feature "float_list": item 0 is NaN`},
		{"int32", int32(1), int64(math.MaxInt32 + 1), `rows[1]: feature "int32": 2147483648 does not fit in an int32`},
		{"int32_list", []int32{1}, []int64{1, math.MinInt32 - 1}, `rows[1]: feature "int32_list": item 1: -2147483649 does not fit in an int32`},
		{"timestamp", ts0, int64(5), `row 1: feature "timestamp": expected timestamp, got int64`},
		{"double_list", []float64{1}, []int32{1}, `row 1: feature "double_list": expected double_list, got int32_list`},
		{"int32", int32(1), 1.5, `row 1: feature "int32": expected int32, got double`},
	}
	for _, c := range grpcCases {
		_, err := env.client.Write(ctx, "typed", []client.Row{
			{Key: []any{int64(1)}, EventTime: t0, Values: []any{c.good}},
			{Key: []any{int64(2)}, EventTime: t0, Values: []any{c.value}},
		}, client.WithFeatures(c.feature))
		requireClientError(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", c.msg)
	}
	// The client refuses what it cannot send.
	_, err := env.client.Write(ctx, "typed", []client.Row{{Key: []any{int64(1)}, EventTime: t0, Values: []any{map[string]any{"f": func() {}}}}},
		client.WithFeatures("map"))
	require.ErrorIs(t, err, client.ErrInvalidArgument)
	_, err = env.client.Write(ctx, "typed", []client.Row{{Key: []any{int64(1)}, EventTime: t0, Values: []any{time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)}}},
		client.WithFeatures("timestamp"))
	require.ErrorIs(t, err, client.ErrInvalidArgument)

	list := func(t arrow.DataType) arrow.DataType { return arrow.ListOf(t) }
	flightCases := []struct {
		feature string
		in      arrow.DataType
		value   any // of row 1; row 0 holds a good value
		good    any
		msg     string
	}{
		{"json", arrow.BinaryTypes.String, `{"a" 1}`, `1`, `row 1: feature "json": not valid JSON`},
		{"map", arrow.BinaryTypes.String, `"text"`, `{}`, `row 1: feature "map": a map is a JSON object`},
		{"double_list", list(arrow.PrimitiveTypes.Float64), []float64{2, 3, math.NaN()}, []float64{1}, `row 1: feature "double_list": item 2 is NaN`},
		{"int64_list", list(arrow.PrimitiveTypes.Int64), []any{int64(1), int64(2), nil}, []int64{1}, `row 1: feature "int64_list": item 2 is null`},
		{"string_list", list(arrow.BinaryTypes.String), []any{nil}, []string{"a"}, `row 1: feature "string_list": item 0 is null`},
		{"timestamp_list", list(tsNS), []any{ts0, nil}, []time.Time{ts0}, `row 1: feature "timestamp_list": item 1 is null`},
		{"int32", arrow.PrimitiveTypes.Int64, int64(1) << 32, int64(1), `row 1: feature "int32": 4294967296 does not fit in an int32`},
		{"int32_list", list(arrow.PrimitiveTypes.Int64), []int64{0, 1 << 40}, []int64{1}, `row 1: feature "int32_list": item 1: 1099511627776 does not fit in an int32`},
		{"timestamp", &arrow.TimestampType{Unit: arrow.Second}, time.Date(2262, 12, 1, 0, 0, 0, 0, time.UTC), ts0,
			`row 1: feature "timestamp": timestamp outside the supported range`},
		{"int32", arrow.PrimitiveTypes.Float64, 2.0, 1.0, `column "int32": expected int32, got Arrow type float64`},
		{"int32", arrow.PrimitiveTypes.Uint32, uint32(1), uint32(1), `column "int32": expected int32, got Arrow type uint32`},
		{"timestamp", arrow.PrimitiveTypes.Int64, int64(1), int64(1), `column "timestamp": expected timestamp, got Arrow type int64`},
		{"json", arrow.BinaryTypes.Binary, []byte("{}"), []byte("{}"), `column "json": expected json, got Arrow type binary`},
		{"int64_list", list(arrow.BinaryTypes.String), []string{"1"}, []string{"1"}, `column "int64_list": expected int64_list, got Arrow type list<item: utf8, nullable>`},
		{"bool_list", arrow.FixedWidthTypes.Boolean, true, true, `column "bool_list": expected bool_list, got Arrow type bool`},
	}
	for _, c := range flightCases {
		rows := []any{c.good, c.value}
		_, err := env.client.WriteTable(ctx, "typed", typedTable([]int64{1, 2}, t0, []string{c.feature}, []arrow.DataType{c.in},
			func(_ string, r int) any { return rows[r] }))
		requireClientError(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", c.msg)
	}
	require.Equal(t, before, env.store.Watermark(), "a refused batch wrote nothing")
	// Join keys stay int64 or string.
	for _, typ := range []timefencev1.ValueType{timefencev1.ValueType_VALUE_TYPE_INT32, timefencev1.ValueType_VALUE_TYPE_TIMESTAMP} {
		_, err = env.client.ApplyEntity(ctx, &timefencev1.Entity{Name: "other", JoinKeys: []*timefencev1.JoinKey{{Name: "k", Type: typ}}})
		requireClientError(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", `join key "k": type must be int64 or string`)
	}
	on, err := env.client.GetOnline(ctx, []string{"typed"}, []string{"item_id"}, [][]any{{int64(1)}, {int64(2)}})
	require.NoError(t, err)
	for _, r := range on.Rows {
		for _, fv := range r {
			require.Equal(t, client.NotFound, fv.Status)
		}
	}
}

// exportBytes exports view under split "all" (or re-exports datasetID)
// and returns the output as IPC bytes, its schema and the summary.
func exportBytes(t *testing.T, c *client.Client, view, datasetID string) ([]byte, *arrow.Schema, *client.ExportSummary) {
	t.Helper()
	var out ipcBytes
	var schema *arrow.Schema
	fn := func(rec arrow.Record) error { schema = rec.Schema(); return out.add(rec) }
	var sum *client.ExportSummary
	var err error
	if datasetID != "" {
		sum, err = c.ExportDataset(context.Background(), datasetID, fn)
	} else {
		sum, err = c.Export(context.Background(), "all", view, fn)
	}
	require.NoError(t, err)
	return out.bytes(), schema, sum
}

// TestWideningKeepsRecordedDatasets: int32, float, int32_list and
// float_list features widen to int64, double, int64_list and double_list.
// Online reads and new joins return the new types, for values written
// before and after; a join and an export recorded before re-read as
// recorded, byte for byte, in the old types, also after a compaction and
// a reopen. Narrowing, or any other change of type, is refused.
func TestWideningKeepsRecordedDatasets(t *testing.T) {
	env := startServer(t)
	ctx := context.Background()
	_, err := env.client.ApplyEntity(ctx, &timefencev1.Entity{Name: "item", JoinKeys: []*timefencev1.JoinKey{{Name: "item_id", Type: tInt64}}})
	require.NoError(t, err)
	_, err = env.client.CreateSplit(ctx, "all", time.Unix(0, 0), time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	names := []string{"n", "f", "ids", "emb"}
	apply := func(types ...timefencev1.ValueType) error {
		v := &timefencev1.FeatureView{Name: "wide", Entity: "item"}
		for j, typ := range types {
			v.Features = append(v.Features, &timefencev1.Feature{Name: names[j], Type: typ})
		}
		_, err := env.client.ApplyFeatureView(ctx, v)
		return err
	}
	const (
		i32, i64     = timefencev1.ValueType_VALUE_TYPE_INT32, timefencev1.ValueType_VALUE_TYPE_INT64
		f32, f64     = timefencev1.ValueType_VALUE_TYPE_FLOAT, timefencev1.ValueType_VALUE_TYPE_DOUBLE
		i32l, i64l   = timefencev1.ValueType_VALUE_TYPE_INT32_LIST, timefencev1.ValueType_VALUE_TYPE_INT64_LIST
		f32l, f64l   = timefencev1.ValueType_VALUE_TYPE_FLOAT_LIST, timefencev1.ValueType_VALUE_TYPE_DOUBLE_LIST
		str, strList = timefencev1.ValueType_VALUE_TYPE_STRING, timefencev1.ValueType_VALUE_TYPE_STRING_LIST
	)
	require.NoError(t, apply(i32, f32, i32l, f32l))
	t0 := time.Now().Add(-time.Hour)
	_, err = env.client.Write(ctx, "wide", []client.Row{{Key: []any{int64(1)}, EventTime: t0,
		Values: []any{int32(7), float32(0.75), []int32{1, -2}, []float32{0.5, 1.5}}}})
	require.NoError(t, err)
	oldFields := []any{(*timefencev1.FeatureColumn_Int32Values)(nil), (*timefencev1.FeatureColumn_FloatValues)(nil),
		(*timefencev1.FeatureColumn_Int32ListValues)(nil), (*timefencev1.FeatureColumn_FloatListValues)(nil)}
	on := onlineTyped(t, env, []string{"wide"}, []timefencev1.ValueType{i32, f32, i32l, f32l}, oldFields, 1)
	require.Equal(t, []any{int32(7), float32(0.75), []int32{1, -2}, []float32{0.5, 1.5}}, values(on.Rows[0]))
	readAt := on.ReadTime

	oldTypes := []arrow.DataType{arrow.PrimitiveTypes.Int32, arrow.PrimitiveTypes.Float32,
		arrow.ListOf(arrow.PrimitiveTypes.Int32), arrow.ListOf(arrow.PrimitiveTypes.Float32)}
	newTypes := []arrow.DataType{arrow.PrimitiveTypes.Int64, arrow.PrimitiveTypes.Float64,
		arrow.ListOf(arrow.PrimitiveTypes.Int64), arrow.ListOf(arrow.PrimitiveTypes.Float64)}
	requireTypes := func(schema *arrow.Schema, from int, want []arrow.DataType) {
		t.Helper()
		for j, w := range want {
			require.True(t, arrow.TypeEqual(w, schema.Field(from+j).Type), "%s: %s", names[j], schema.Field(from+j).Type)
		}
	}
	spine := func() array.RecordReader { return typedSpine(readAt, 1) }
	first, schema, rows, sum := joinTable(t, env.client, []string{"wide"}, spine())
	requireTypes(schema, 2, oldTypes)
	require.Equal(t, []any{int32(7), float32(0.75), []int32{1, -2}, []float32{0.5, 1.5}}, rows[0][2:])
	firstExport, exportSchema, exportSum := exportBytes(t, env.client, "wide", "")
	requireTypes(exportSchema, 5, oldTypes)
	require.NoError(t, env.store.Compact()) // the old versions go to a run file as written

	// Widen, and write values of the new types, and of the old ones.
	require.NoError(t, apply(i64, f64, i64l, f64l))
	v, err := env.client.GetFeatureView(ctx, "wide")
	require.NoError(t, err)
	require.Equal(t, int64(2), v.GetVersion())
	_, err = env.client.Write(ctx, "wide", []client.Row{
		{Key: []any{int64(2)}, EventTime: t0, Values: []any{int64(1) << 40, 0.1, []int64{math.MaxInt64}, []float64{0.1, 2.5}}},
		{Key: []any{int64(3)}, EventTime: t0, Values: []any{int32(3), float32(4), []int32{5}, []float32{4}}},
	})
	require.NoError(t, err)
	newFields := []any{(*timefencev1.FeatureColumn_Int64Values)(nil), (*timefencev1.FeatureColumn_DoubleValues)(nil),
		(*timefencev1.FeatureColumn_Int64ListValues)(nil), (*timefencev1.FeatureColumn_DoubleListValues)(nil)}
	want := [][]any{
		{int64(7), 0.75, []int64{1, -2}, []float64{0.5, 1.5}},
		{int64(1) << 40, 0.1, []int64{math.MaxInt64}, []float64{0.1, 2.5}},
		{int64(3), 4.0, []int64{5}, []float64{4}},
	}
	checkNew := func() time.Time {
		t.Helper()
		on := onlineTyped(t, env, []string{"wide"}, []timefencev1.ValueType{i64, f64, i64l, f64l}, newFields, 1, 2, 3)
		for i, w := range want {
			require.Equal(t, w, values(on.Rows[i]))
		}
		_, schema, rows, _ := joinTable(t, env.client, []string{"wide"}, typedSpine(on.ReadTime, 1, 2, 3))
		requireTypes(schema, 2, newTypes)
		for i, w := range want {
			require.Equal(t, w, rows[i][2:])
		}
		return on.ReadTime
	}
	checkOld := func() {
		t.Helper()
		again, schema, rows, sum2 := joinTable(t, env.client, nil, spine(), client.WithDatasetID(sum.DatasetID))
		require.Equal(t, first, again)
		require.Equal(t, sum.Checksum, sum2.Checksum)
		requireTypes(schema, 2, oldTypes)
		require.Equal(t, []any{int32(7), float32(0.75), []int32{1, -2}, []float32{0.5, 1.5}}, rows[0][2:])
		exported, _, esum := exportBytes(t, env.client, "", exportSum.DatasetID)
		require.Equal(t, firstExport, exported)
		require.Equal(t, exportSum.Checksum, esum.Checksum)
	}
	checkNew()
	checkOld()
	_, schema, _ = exportBytes(t, env.client, "wide", "")
	requireTypes(schema, 5, newTypes)
	st, err := env.client.GetStatistics(ctx, "all", "wide")
	require.NoError(t, err)
	require.Equal(t, i64, st.GetFeatures()[0].GetType())
	require.Equal(t, 3.0, st.GetFeatures()[0].GetMin())
	require.Equal(t, float64(int64(1)<<40), st.GetFeatures()[0].GetMax())
	require.Equal(t, int64(1), st.GetFeatures()[3].GetMinLength())
	require.Equal(t, int64(2), st.GetFeatures()[3].GetMaxLength())

	require.NoError(t, env.store.Compact()) // old and new versions merge, widened
	checkNew()
	checkOld()
	env.restart(t)
	checkNew()
	checkOld()

	// Narrowing back, or any other change of type, is refused.
	for _, types := range [][]timefencev1.ValueType{
		{i32, f64, i64l, f64l}, {i64, f32, i64l, f64l}, {i64, f64, i32l, f64l}, {i64, f64, i64l, f32l},
		{str, f64, i64l, f64l}, {f64, f64, i64l, f64l}, {i64, f64, i64l, strList}, {i64, f64, f64l, f64l},
	} {
		err := apply(types...)
		requireClientError(t, err, codes.FailedPrecondition, "SCHEMA_MISMATCH", "cannot change type")
	}
	v, err = env.client.GetFeatureView(ctx, "wide")
	require.NoError(t, err)
	require.Equal(t, int64(2), v.GetVersion())
}

// values returns the values of a row of online results.
func values(row []client.FeatureValue) []any {
	out := make([]any, len(row))
	for i, fv := range row {
		out[i] = fv.Value
	}
	return out
}
