package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"
	"github.com/stretchr/testify/require"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
	"github.com/timefence/timefence/client"
	"github.com/timefence/timefence/definitions"
	"github.com/timefence/timefence/internal/tableio"
)

func TestFormatValueTypes(t *testing.T) {
	at := time.Date(2024, 1, 5, 12, 0, 0, 123456789, time.FixedZone("CET", 3600))
	for _, tc := range []struct {
		typ  timefencev1.ValueType
		v    any
		text string
		json string
	}{
		{timefencev1.ValueType_VALUE_TYPE_INT64, int64(42), "42", "42"},
		{timefencev1.ValueType_VALUE_TYPE_INT32, int32(-7), "-7", "-7"},
		{timefencev1.ValueType_VALUE_TYPE_DOUBLE, 2.5, "2.5", "2.5"},
		{timefencev1.ValueType_VALUE_TYPE_DOUBLE, math.Inf(1), "+Inf", `"+Inf"`},
		{timefencev1.ValueType_VALUE_TYPE_FLOAT, float32(0.1), "0.1", "0.1"},
		{timefencev1.ValueType_VALUE_TYPE_STRING, "a <b>", "a <b>", `"a \u003cb\u003e"`},
		{timefencev1.ValueType_VALUE_TYPE_BOOL, true, "true", "true"},
		{timefencev1.ValueType_VALUE_TYPE_BYTES, []byte("hi"), "aGk=", `"aGk="`},
		{timefencev1.ValueType_VALUE_TYPE_TIMESTAMP, at, "2024-01-05T11:00:00.123456789Z", `"2024-01-05T11:00:00.123456789Z"`},
		{timefencev1.ValueType_VALUE_TYPE_TIMESTAMP, time.Unix(0, 0), "1970-01-01T00:00:00Z", `"1970-01-01T00:00:00Z"`},
		{timefencev1.ValueType_VALUE_TYPE_JSON, client.JSON(`[1, {"a": null}]`), `[1, {"a": null}]`, `"[1, {\"a\": null}]"`},
		{timefencev1.ValueType_VALUE_TYPE_MAP, client.Map(`{"k": "v"}`), `{"k": "v"}`, `"{\"k\": \"v\"}"`},
		{timefencev1.ValueType_VALUE_TYPE_FLOAT_LIST, []float32{0.5, 1}, "[0.5, 1]", "[0.5,1]"},
		{timefencev1.ValueType_VALUE_TYPE_DOUBLE_LIST, []float64{0.5, 1000, math.Inf(-1)}, "[0.5, 1000, -Inf]", `[0.5,1000,"-Inf"]`},
		{timefencev1.ValueType_VALUE_TYPE_INT64_LIST, []int64{1, -2}, "[1, -2]", "[1,-2]"},
		{timefencev1.ValueType_VALUE_TYPE_INT32_LIST, []int32{3}, "[3]", "[3]"},
		{timefencev1.ValueType_VALUE_TYPE_INT32_LIST, []int32{}, "[]", "[]"},
		{timefencev1.ValueType_VALUE_TYPE_STRING_LIST, []string{"a", `b "c"`, "<é>"}, `["a", "b \"c\"", "<é>"]`, `["a","b \"c\"","\u003cé\u003e"]`},
		{timefencev1.ValueType_VALUE_TYPE_BOOL_LIST, []bool{true, false}, "[true, false]", "[true,false]"},
		{timefencev1.ValueType_VALUE_TYPE_BYTES_LIST, [][]byte{[]byte("hi"), {}}, `["aGk=", ""]`, `["aGk=",""]`},
		{timefencev1.ValueType_VALUE_TYPE_TIMESTAMP_LIST, []time.Time{at, time.Unix(0, 0)}, `["2024-01-05T11:00:00.123456789Z", "1970-01-01T00:00:00Z"]`,
			`["2024-01-05T11:00:00.123456789Z","1970-01-01T00:00:00Z"]`},
		{timefencev1.ValueType_VALUE_TYPE_STRING_LIST, nil, "null", "null"},
	} {
		name := definitions.TypeName(tc.typ)
		require.Equal(t, tc.text, formatValue(tc.v), name)
		data, err := json.Marshal(jsonValue(tc.v))
		require.NoError(t, err, name)
		require.Equal(t, tc.json, string(data), name)
	}
}

// everyTypeDefinitions defines a view with a feature of each type, named
// after it.
const everyTypeDefinitions = `entities:
  - name: user
    join_keys: [{name: user_id, type: int64}]
feature_views:
  - name: every_type
    entity: user
    features:
      - {name: v_int64, type: int64}
      - {name: v_int32, type: int32}
      - {name: v_double, type: double}
      - {name: v_float, type: float}
      - {name: v_string, type: string}
      - {name: v_bool, type: bool}
      - {name: v_bytes, type: bytes}
      - {name: v_timestamp, type: timestamp}
      - {name: v_json, type: json}
      - {name: v_map, type: map}
      - {name: v_int64_list, type: int64_list}
      - {name: v_int32_list, type: int32_list}
      - {name: v_double_list, type: double_list}
      - {name: v_float_list, type: float_list}
      - {name: v_string_list, type: string_list}
      - {name: v_bool_list, type: bool_list}
      - {name: v_bytes_list, type: bytes_list}
      - {name: v_timestamp_list, type: timestamp_list}
splits:
  - {name: jan, start: 2024-01-01T00:00:00Z, end: 2024-01-31T23:59:59Z}
`

// everyType is one value of each type: its CSV cell, how 'timefence get'
// prints it, its --json value, its Arrow type in joins and exports, and
// its value read from Parquet (see parquetValue).
var everyType = []struct {
	feature, cell, text, json, arrow string
	parquet                          any
}{
	{"v_int64", "42", "42", "42", "int64", int64(42)},
	{"v_int32", "-7", "-7", "-7", "int32", int32(-7)},
	{"v_double", "2.5", "2.5", "2.5", "float64", 2.5},
	{"v_float", "0.25", "0.25", "0.25", "float32", float32(0.25)},
	{"v_string", `"a, b"`, "a, b", `"a, b"`, "utf8", "a, b"},
	{"v_bool", "true", "true", "true", "bool", true},
	{"v_bytes", "aGk=", "aGk=", `"aGk="`, "binary", []byte("hi")},
	{"v_timestamp", "2024-01-05 12:00:00.123456789", "2024-01-05T12:00:00.123456789Z", `"2024-01-05T12:00:00.123456789Z"`,
		"timestamp[ns, tz=UTC]", time.Date(2024, 1, 5, 12, 0, 0, 123456789, time.UTC)},
	{"v_json", `"[1, {""a"": null}]"`, `[1, {"a": null}]`, `"[1, {\"a\": null}]"`, "utf8", `[1, {"a": null}]`},
	{"v_map", `"{""k"": ""v""}"`, `{"k": "v"}`, `"{\"k\": \"v\"}"`, "utf8", `{"k": "v"}`},
	{"v_int64_list", `"[1, -2]"`, "[1, -2]", "[1,-2]", "list<int64>", []int64{1, -2}},
	{"v_int32_list", "[3]", "[3]", "[3]", "list<int32>", []int32{3}},
	{"v_double_list", `"[0.5, 1e3]"`, "[0.5, 1000]", "[0.5,1000]", "list<float64>", []float64{0.5, 1000}},
	{"v_float_list", `"{0.25, 1}"`, "[0.25, 1]", "[0.25,1]", "list<float32>", []float32{0.25, 1}},
	{"v_string_list", `"[""a"", ""b,c""]"`, `["a", "b,c"]`, `["a","b,c"]`, "list<utf8>", []string{"a", "b,c"}},
	{"v_bool_list", `"[true, false]"`, "[true, false]", "[true,false]", "list<bool>", []bool{true, false}},
	{"v_bytes_list", `"[""aGk="", """"]"`, `["aGk=", ""]`, `["aGk=",""]`, "list<binary>", [][]byte{[]byte("hi"), {}}},
	{"v_timestamp_list", `"[""2024-01-05T12:00:00Z"", ""2024-01-06""]"`, `["2024-01-05T12:00:00Z", "2024-01-06T00:00:00Z"]`,
		`["2024-01-05T12:00:00Z","2024-01-06T00:00:00Z"]`, "list<timestamp[ns, tz=UTC]>",
		[]time.Time{time.Date(2024, 1, 5, 12, 0, 0, 0, time.UTC), time.Date(2024, 1, 6, 0, 0, 0, 0, time.UTC)}},
}

// everyTypeCSV is a CSV file of two rows of every_type: user 1 with the
// values of everyType, user 2 with nulls.
func everyTypeCSV() string {
	header := []string{"user_id", "event_timestamp", "available_at"}
	row1 := []string{"1", "2024-01-10T00:00:00Z", "2024-01-10T01:00:00Z"}
	row2 := []string{"2", "2024-01-10T00:00:00Z", "2024-01-10T01:00:00Z"}
	for _, f := range everyType {
		header = append(header, f.feature)
		row1 = append(row1, f.cell)
		row2 = append(row2, "")
	}
	return strings.Join(header, ",") + "\n" + strings.Join(row1, ",") + "\n" + strings.Join(row2, ",") + "\n"
}

// TestEveryTypeCSV reads the CSV file of TestCLIEveryType as 'timefence
// write' does, typed by the view's definition: each column has the Arrow
// type of its feature, and user 1's values are those the round trip
// expects back.
func TestEveryTypeCSV(t *testing.T) {
	defs, err := definitions.Parse("defs.yaml", []byte(everyTypeDefinitions))
	require.NoError(t, err)
	view, entity := defs.FeatureViews[0].Def, defs.Entities[0].Def
	path := filepath.Join(t.TempDir(), "every.csv")
	require.NoError(t, os.WriteFile(path, []byte(everyTypeCSV()), 0o644))
	tbl, err := tableio.Open(context.Background(), path, writeColumns(view, entity, writeFlags{
		eventTime: "event_timestamp", backfill: true, availableAt: "available_at"}, path))
	require.NoError(t, err)
	defer tbl.Close()
	require.True(t, tbl.Next())
	rec := tbl.Record()
	require.EqualValues(t, 2, rec.NumRows())
	for i, f := range everyType {
		col := rec.Column(3 + i)
		typ := col.DataType().String()
		if l, ok := col.DataType().(*arrow.ListType); ok {
			typ = "list<" + l.Elem().String() + ">"
		}
		require.Equal(t, f.arrow, typ, f.feature)
		require.Equal(t, f.parquet, parquetValue(col, 0), f.feature)
		require.Nil(t, parquetValue(col, 1), f.feature)
	}
	require.False(t, tbl.Next())
	require.NoError(t, tbl.Err())
}

// TestCLIEveryType writes a CSV file with a column of each type, reads it
// back online with 'timefence get' (as a table and as JSON), joins and
// exports it to Parquet and checks the columns' types and values, and
// writes the export back to another server.
func TestCLIEveryType(t *testing.T) {
	c := startCLIServer(t)
	c.ok("apply", c.write("defs.yaml", everyTypeDefinitions))

	data := c.write("every.csv", everyTypeCSV())
	require.Contains(t, c.ok("write", "--backfill", "every_type", data), "wrote 2 rows to every_type in one backfill batch")

	t.Run("get", func(t *testing.T) {
		out := c.ok("get", "--features", "every_type", "--key", "user_id=1", "--key", "user_id=2")
		for _, f := range everyType {
			require.Regexp(t, `(?m)^1 +every_type:`+f.feature+` +`+regexp.QuoteMeta(f.text)+` +present +2024-01-10T00:00:00Z$`, out)
			require.Regexp(t, `(?m)^2 +every_type:`+f.feature+` +null +present +2024-01-10T00:00:00Z$`, out)
		}
		var res struct {
			Rows []struct {
				Values []struct {
					Feature string          `json:"feature"`
					Value   json.RawMessage `json:"value"`
					Status  string          `json:"status"`
				} `json:"values"`
			} `json:"rows"`
		}
		require.NoError(t, json.Unmarshal([]byte(c.ok("get", "--features", "every_type", "--key", "user_id=1", "--key", "user_id=2", "--json")), &res))
		require.Len(t, res.Rows, 2)
		for i, f := range everyType {
			v := res.Rows[0].Values[i]
			require.Equal(t, "every_type:"+f.feature, v.Feature)
			require.Equal(t, "present", v.Status, f.feature)
			require.JSONEq(t, f.json, string(v.Value), f.feature)
			require.Equal(t, "null", string(res.Rows[1].Values[i].Value), f.feature)
		}
	})

	t.Run("join", func(t *testing.T) {
		c.write("spine.csv", "user_id,event_timestamp,label\n1,2024-01-20T00:00:00Z,a\n2,2024-01-20T00:00:00Z,b\n3,2024-01-20T00:00:00Z,c\n")
		c.ok("join", "--split", "jan", "--spine", "spine.csv", "--features", "every_type", "-o", "train.parquet")
		types, rows := readTypedParquet(t, filepath.Join(c.dir, "train.parquet"))
		require.Len(t, rows, 3)
		for _, f := range everyType {
			require.Equal(t, f.arrow, types[f.feature], f.feature)
			require.Equal(t, f.parquet, rows[0][f.feature], f.feature)
			require.Nil(t, rows[1][f.feature], f.feature)
			require.Nil(t, rows[2][f.feature], f.feature)
		}
	})

	t.Run("export", func(t *testing.T) {
		c.ok("export", "--split", "jan", "--view", "every_type", "-o", "a.parquet")
		types, rows := readTypedParquet(t, filepath.Join(c.dir, "a.parquet"))
		require.Len(t, rows, 2)
		for _, f := range everyType {
			require.Equal(t, f.arrow, types[f.feature], f.feature)
			require.Equal(t, f.parquet, rows[0][f.feature], f.feature)
			require.Nil(t, rows[1][f.feature], f.feature)
		}

		// The export's Parquet columns write back as they are.
		other := startCLIServer(t)
		other.dir = c.dir
		other.ok("apply", "defs.yaml")
		require.Contains(t, other.ok("write", "--backfill", "every_type", "a.parquet"), "wrote 2 rows to every_type in one backfill batch")
		other.ok("export", "--split", "jan", "--view", "every_type", "-o", "b.parquet")
		_, again := readTypedParquet(t, filepath.Join(c.dir, "b.parquet"))
		require.Equal(t, rows, again)
	})

	t.Run("refusals", func(t *testing.T) {
		for _, tc := range []struct{ feature, cell, want string }{
			{"v_int32", "2147483648", "2147483648 does not fit in an int32"},
			{"v_json", "{", "not valid JSON: unexpected end of JSON input"},
			{"v_map", "[1]", `a map is a JSON object ({"key": value, ...}), got [1]`},
			{"v_int64_list", `"[1, null]"`, "item 1 is null; a list holds no null items (write null for the whole list)"},
			{"v_timestamp", "soon", `expected a time like 2024-01-31T12:00:00Z, got "soon"`},
		} {
			bad := c.write("bad.csv", "user_id,event_timestamp,"+tc.feature+"\n1,2024-01-10T00:00:00Z,"+tc.cell+"\n")
			require.Equal(t, fmt.Sprintf(`timefence: bad.csv:2: column %q: %s`, tc.feature, tc.want), c.fail("write", "every_type", bad), tc.feature)
		}
	})
}

// readTypedParquet reads a Parquet file with the Arrow Parquet reader: each
// column's type (a list as list<ITEM>, whatever its item field's name) and
// rows of Go values (see parquetValue).
func readTypedParquet(t *testing.T, path string) (map[string]string, []map[string]any) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	tbl, err := pqarrow.ReadTable(context.Background(), f, parquet.NewReaderProperties(nil), pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	require.NoError(t, err)
	defer tbl.Release()
	types := map[string]string{}
	for _, fd := range tbl.Schema().Fields() {
		types[fd.Name] = fd.Type.String()
		if l, ok := fd.Type.(*arrow.ListType); ok {
			types[fd.Name] = "list<" + l.Elem().String() + ">"
		}
	}
	rows := make([]map[string]any, tbl.NumRows())
	for i := range rows {
		rows[i] = map[string]any{}
	}
	for c := range int(tbl.NumCols()) {
		col := tbl.Column(c)
		i := 0
		for _, chunk := range col.Data().Chunks() {
			for j := range chunk.Len() {
				rows[i][col.Name()] = parquetValue(chunk, j)
				i++
			}
		}
	}
	return types, rows
}

// parquetValue is row i of an Arrow array as a Go value: a number, string,
// bool, []byte or UTC time.Time, a slice of those for a list, or nil.
func parquetValue(a arrow.Array, i int) any {
	if a.IsNull(i) {
		return nil
	}
	switch a := a.(type) {
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
	case *array.Boolean:
		return a.Value(i)
	case *array.Binary:
		return append([]byte{}, a.Value(i)...)
	case *array.Timestamp:
		return a.Value(i).ToTime(a.DataType().(*arrow.TimestampType).Unit).UTC()
	case *array.List:
		start, end := a.ValueOffsets(i)
		items := a.ListValues()
		switch items.(type) {
		case *array.Int64:
			return listOf[int64](items, int(start), int(end))
		case *array.Int32:
			return listOf[int32](items, int(start), int(end))
		case *array.Float64:
			return listOf[float64](items, int(start), int(end))
		case *array.Float32:
			return listOf[float32](items, int(start), int(end))
		case *array.String:
			return listOf[string](items, int(start), int(end))
		case *array.Boolean:
			return listOf[bool](items, int(start), int(end))
		case *array.Binary:
			return listOf[[]byte](items, int(start), int(end))
		case *array.Timestamp:
			return listOf[time.Time](items, int(start), int(end))
		}
	}
	return fmt.Sprintf("a %s", a.DataType())
}

// listOf returns items start to end of a list's values as a []T.
func listOf[T any](items arrow.Array, start, end int) []T {
	out := []T{}
	for i := start; i < end; i++ {
		out = append(out, parquetValue(items, i).(T))
	}
	return out
}
