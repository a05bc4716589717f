package tableio

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/stretchr/testify/require"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
)

// writeFile writes a file named name in a temporary directory and returns
// its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
	return path
}

// typed returns a column typer from a map; other columns are inferred.
func typed(types map[string]timefencev1.ValueType) func(string) (arrow.DataType, error) {
	return func(col string) (arrow.DataType, error) {
		if col == "event_timestamp" {
			return arrow.FixedWidthTypes.Timestamp_ns, nil
		}
		if vt, ok := types[col]; ok {
			return ArrowType(vt), nil
		}
		return nil, nil
	}
}

// readAll reads every record of a table as rows of Go values, by column name.
func readAll(t *testing.T, tbl *Table) ([]map[string]any, error) {
	t.Helper()
	var rows []map[string]any
	for tbl.Next() {
		rec := tbl.Record()
		for i := range int(rec.NumRows()) {
			row := map[string]any{}
			for j, f := range rec.Schema().Fields() {
				col := rec.Column(j)
				if col.IsNull(i) {
					row[f.Name] = nil
					continue
				}
				switch a := col.(type) {
				case *array.Timestamp:
					row[f.Name] = a.Value(i).ToTime(a.DataType().(*arrow.TimestampType).Unit)
				case *array.List:
					start, end := a.ValueOffsets(i)
					row[f.Name] = listItems(a.ListValues(), int(start), int(end))
				default:
					row[f.Name] = a.GetOneForMarshal(i)
				}
			}
			rows = append(rows, row)
		}
	}
	return rows, tbl.Err()
}

// listItems returns items start to end of a list's values as a slice of
// their Go type.
func listItems(vals arrow.Array, start, end int) any {
	switch v := vals.(type) {
	case *array.Float32:
		return append([]float32{}, v.Float32Values()[start:end]...)
	case *array.Float64:
		return append([]float64{}, v.Float64Values()[start:end]...)
	case *array.Int32:
		return append([]int32{}, v.Int32Values()[start:end]...)
	case *array.Int64:
		return append([]int64{}, v.Int64Values()[start:end]...)
	case *array.Boolean:
		out := []bool{}
		for i := start; i < end; i++ {
			out = append(out, v.Value(i))
		}
		return out
	case *array.String:
		out := []string{}
		for i := start; i < end; i++ {
			out = append(out, v.Value(i))
		}
		return out
	case *array.Binary:
		out := [][]byte{}
		for i := start; i < end; i++ {
			out = append(out, v.Value(i))
		}
		return out
	case *array.Timestamp:
		out := []time.Time{}
		for i := start; i < end; i++ {
			out = append(out, v.Value(i).ToTime(v.DataType().(*arrow.TimestampType).Unit).UTC())
		}
		return out
	}
	return fmt.Sprintf("a list of %s", vals.DataType())
}

func TestCSVTypes(t *testing.T) {
	path := writeFile(t, "all.csv", "\ufeffuser_id, event_timestamp,clicks,spend,ratio,country,vip,blob,embedding,note\n"+
		"1,2024-01-31T12:00:00Z,3,12.5,0.25,DE,true,aGk=,\"[0.1, 0.2]\",x\n"+
		"2,2024-01-31 12:00:00,,,,,,,,\n"+
		"3,2024-01-31T14:00:00+02:00, 7 ,1e3,1,  ,FALSE,,{1},\"two\nlines\"\n"+
		"4,2024-01-31,-1,-0.5,2,FR,0,,[],\n")
	tbl, err := Open(context.Background(), path, typed(map[string]timefencev1.ValueType{
		"user_id":   timefencev1.ValueType_VALUE_TYPE_INT64,
		"clicks":    timefencev1.ValueType_VALUE_TYPE_INT64,
		"spend":     timefencev1.ValueType_VALUE_TYPE_DOUBLE,
		"ratio":     timefencev1.ValueType_VALUE_TYPE_FLOAT,
		"country":   timefencev1.ValueType_VALUE_TYPE_STRING,
		"vip":       timefencev1.ValueType_VALUE_TYPE_BOOL,
		"blob":      timefencev1.ValueType_VALUE_TYPE_BYTES,
		"embedding": timefencev1.ValueType_VALUE_TYPE_FLOAT_LIST,
		"note":      timefencev1.ValueType_VALUE_TYPE_STRING,
	}))
	require.NoError(t, err)
	defer tbl.Close()
	var names []string
	for _, f := range tbl.Schema().Fields() {
		names = append(names, f.Name)
	}
	require.Equal(t, []string{"user_id", "event_timestamp", "clicks", "spend", "ratio", "country", "vip", "blob", "embedding", "note"},
		names, "header names are trimmed, the byte order mark dropped")
	rows, err := readAll(t, tbl)
	require.NoError(t, err)
	noon := time.Date(2024, 1, 31, 12, 0, 0, 0, time.UTC)
	require.Equal(t, []map[string]any{
		{"user_id": int64(1), "event_timestamp": noon, "clicks": int64(3), "spend": 12.5, "ratio": float32(0.25),
			"country": "DE", "vip": true, "blob": []byte("hi"), "embedding": []float32{0.1, 0.2}, "note": "x"},
		{"user_id": int64(2), "event_timestamp": noon, "clicks": nil, "spend": nil, "ratio": nil,
			"country": nil, "vip": nil, "blob": nil, "embedding": nil, "note": nil},
		{"user_id": int64(3), "event_timestamp": noon, "clicks": int64(7), "spend": 1000.0, "ratio": float32(1),
			"country": nil, "vip": false, "blob": nil, "embedding": []float32{1}, "note": "two\nlines"},
		{"user_id": int64(4), "event_timestamp": noon.Add(-12 * time.Hour), "clicks": int64(-1), "spend": -0.5, "ratio": float32(2),
			"country": "FR", "vip": false, "blob": nil, "embedding": []float32{}, "note": nil},
	}, rows)
}

func TestCSVInfersUntypedColumns(t *testing.T) {
	path := writeFile(t, "spine.csv", "user_id,event_timestamp,n,x,ok,at,label\n"+
		"1,2024-01-01T00:00:00Z,1,1,true,2024-01-01 10:00:00,a\n"+
		"2,2024-01-02T00:00:00Z,,2.5,False,,1\n")
	tbl, err := Open(context.Background(), path, typed(nil))
	require.NoError(t, err)
	defer tbl.Close()
	var types []string
	for _, f := range tbl.Schema().Fields() {
		types = append(types, f.Type.String())
	}
	require.Equal(t, []string{"int64", "timestamp[ns, tz=UTC]", "int64", "float64", "bool", "timestamp[ns, tz=UTC]", "utf8"}, types)
	rows, err := readAll(t, tbl)
	require.NoError(t, err)
	require.Len(t, rows, 2)
	require.Equal(t, "1", rows[1]["label"])
}

func TestCSVErrors(t *testing.T) {
	for _, tc := range []struct{ name, content, want string }{
		{"empty", "", "bad.csv is empty; expected a header line naming the columns"},
		{"duplicate column", "user_id,clicks,clicks\n", `bad.csv: column "clicks" appears twice in the header`},
		{"int64", "user_id,event_timestamp,clicks\n1,2024-01-01T00:00:00Z,3\n2,2024-01-01T00:00:00Z,abc\n",
			`bad.csv:3: column "clicks": expected an int64, got "abc"`},
		{"too many cells", "user_id,spend\n1,1,5\n", "bad.csv:2: 3 cells, but the header names 2 columns"},
		{"double", "user_id,spend\n1,\"1,5\"\n", `bad.csv:2: column "spend": expected a double, got "1,5"`},
		{"float", "user_id,ratio\n1,half\n", `bad.csv:2: column "ratio": expected a float, got "half"`},
		{"bool", "user_id,vip\n1,yes\n", `bad.csv:2: column "vip": expected true or false, got "yes"`},
		{"bytes", "user_id,blob\n1,not base64!\n", `bad.csv:2: column "blob": expected base64-encoded bytes, got "not base64!"`},
		{"float list", "user_id,embedding\n1,[0.1; 0.2]\n", `bad.csv:2: column "embedding": expected a list of floats like [0.1, 0.2], got "[0.1; 0.2]"`},
		{"time", "user_id,event_timestamp\n1,yesterday\n", `bad.csv:2: column "event_timestamp": expected a time like 2024-01-31T12:00:00Z, got "yesterday"`},
		{"line after a quoted line break", "user_id,note,clicks\n1,\"a\nb\",2\n2,c,x\n",
			`bad.csv:4: column "clicks": expected an int64, got "x"`},
		{"too few cells", "user_id,event_timestamp,clicks\n1,2024-01-01T00:00:00Z,3\n2,2024-01-01T00:00:00Z\n",
			"bad.csv:3: 2 cells, but the header names 3 columns"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, "bad.csv", tc.content)
			types := typed(map[string]timefencev1.ValueType{
				"user_id":   timefencev1.ValueType_VALUE_TYPE_INT64,
				"clicks":    timefencev1.ValueType_VALUE_TYPE_INT64,
				"spend":     timefencev1.ValueType_VALUE_TYPE_DOUBLE,
				"ratio":     timefencev1.ValueType_VALUE_TYPE_FLOAT,
				"vip":       timefencev1.ValueType_VALUE_TYPE_BOOL,
				"blob":      timefencev1.ValueType_VALUE_TYPE_BYTES,
				"embedding": timefencev1.ValueType_VALUE_TYPE_FLOAT_LIST,
				"note":      timefencev1.ValueType_VALUE_TYPE_STRING,
			})
			tbl, err := Open(context.Background(), path, types)
			if err == nil {
				defer tbl.Close()
				_, err = readAll(t, tbl)
			}
			require.Error(t, err)
			require.Equal(t, tc.want, strings.ReplaceAll(err.Error(), filepath.Dir(path)+string(filepath.Separator), ""))
		})
	}
}

func TestCSVRefusesColumnsTypeOfRefuses(t *testing.T) {
	path := writeFile(t, "x.csv", "user_id,likes\n1,2\n")
	_, err := Open(context.Background(), path, func(col string) (arrow.DataType, error) {
		if col == "likes" {
			return nil, fmt.Errorf("column %q is not a feature", col)
		}
		return arrow.PrimitiveTypes.Int64, nil
	})
	require.EqualError(t, err, `column "likes" is not a feature`)
}

// TestCSVProgress checks that a large file is read in several records and
// that the counters and hooks follow the reading.
func TestCSVProgress(t *testing.T) {
	var b strings.Builder
	b.WriteString("user_id,clicks\n")
	n := batchRows + batchRows/2
	for i := range n {
		fmt.Fprintf(&b, "%d,%d\n", i, i%7)
	}
	path := writeFile(t, "big.csv", b.String())
	tbl, err := Open(context.Background(), path, typed(map[string]timefencev1.ValueType{
		"user_id": timefencev1.ValueType_VALUE_TYPE_INT64, "clicks": timefencev1.ValueType_VALUE_TYPE_INT64}))
	require.NoError(t, err)
	defer tbl.Close()
	require.Equal(t, "bytes", tbl.Unit)
	require.EqualValues(t, b.Len(), tbl.Total)

	var done []int64
	ends := 0
	tbl.OnRecord = func() { done = append(done, tbl.Done()) }
	tbl.OnEnd = func() { ends++ }
	for tbl.Next() {
	}
	require.NoError(t, tbl.Err())
	require.False(t, tbl.Next())
	require.Len(t, done, 2)
	require.Less(t, done[0], done[1])
	require.Equal(t, tbl.Total, done[1])
	require.EqualValues(t, n, tbl.Rows())
	require.Equal(t, 1, ends)
}

func TestArrowType(t *testing.T) {
	want := map[timefencev1.ValueType]string{
		timefencev1.ValueType_VALUE_TYPE_INT64:          "int64",
		timefencev1.ValueType_VALUE_TYPE_INT32:          "int32",
		timefencev1.ValueType_VALUE_TYPE_DOUBLE:         "float64",
		timefencev1.ValueType_VALUE_TYPE_FLOAT:          "float32",
		timefencev1.ValueType_VALUE_TYPE_STRING:         "utf8",
		timefencev1.ValueType_VALUE_TYPE_BOOL:           "bool",
		timefencev1.ValueType_VALUE_TYPE_BYTES:          "binary",
		timefencev1.ValueType_VALUE_TYPE_TIMESTAMP:      "timestamp[ns, tz=UTC]",
		timefencev1.ValueType_VALUE_TYPE_JSON:           "utf8",
		timefencev1.ValueType_VALUE_TYPE_MAP:            "utf8",
		timefencev1.ValueType_VALUE_TYPE_FLOAT_LIST:     "list<item: float32, nullable>",
		timefencev1.ValueType_VALUE_TYPE_INT32_LIST:     "list<item: int32, nullable>",
		timefencev1.ValueType_VALUE_TYPE_INT64_LIST:     "list<item: int64, nullable>",
		timefencev1.ValueType_VALUE_TYPE_DOUBLE_LIST:    "list<item: float64, nullable>",
		timefencev1.ValueType_VALUE_TYPE_STRING_LIST:    "list<item: utf8, nullable>",
		timefencev1.ValueType_VALUE_TYPE_BOOL_LIST:      "list<item: bool, nullable>",
		timefencev1.ValueType_VALUE_TYPE_BYTES_LIST:     "list<item: binary, nullable>",
		timefencev1.ValueType_VALUE_TYPE_TIMESTAMP_LIST: "list<item: timestamp[ns, tz=UTC], nullable>",
	}
	require.Len(t, want, len(timefencev1.ValueType_name)-1, "every type of the API")
	for vt, name := range want {
		require.Equal(t, name, ArrowType(vt).String(), vt.String())
		require.Equal(t, name, CSVType(vt).String(), vt.String())
	}
	require.True(t, arrow.TypeEqual(arrow.BinaryTypes.String, ArrowType(timefencev1.ValueType_VALUE_TYPE_JSON)))
}

// newTypes are the types of the columns of TestCSVNewTypes and
// TestCSVNewTypeErrors.
var newTypes = map[string]timefencev1.ValueType{
	"user_id": timefencev1.ValueType_VALUE_TYPE_INT64,
	"n32":     timefencev1.ValueType_VALUE_TYPE_INT32,
	"at":      timefencev1.ValueType_VALUE_TYPE_TIMESTAMP,
	"doc":     timefencev1.ValueType_VALUE_TYPE_JSON,
	"attrs":   timefencev1.ValueType_VALUE_TYPE_MAP,
	"i64s":    timefencev1.ValueType_VALUE_TYPE_INT64_LIST,
	"i32s":    timefencev1.ValueType_VALUE_TYPE_INT32_LIST,
	"f64s":    timefencev1.ValueType_VALUE_TYPE_DOUBLE_LIST,
	"f32s":    timefencev1.ValueType_VALUE_TYPE_FLOAT_LIST,
	"strs":    timefencev1.ValueType_VALUE_TYPE_STRING_LIST,
	"flags":   timefencev1.ValueType_VALUE_TYPE_BOOL_LIST,
	"blobs":   timefencev1.ValueType_VALUE_TYPE_BYTES_LIST,
	"times":   timefencev1.ValueType_VALUE_TYPE_TIMESTAMP_LIST,
}

func csvTyped(types map[string]timefencev1.ValueType) func(string) (arrow.DataType, error) {
	return func(col string) (arrow.DataType, error) {
		if vt, ok := types[col]; ok {
			return CSVType(vt), nil
		}
		return nil, nil
	}
}

func TestCSVNewTypes(t *testing.T) {
	path := writeFile(t, "new.csv", "user_id,n32,at,doc,attrs,i64s,i32s,f64s,f32s,strs,flags,blobs,times\n"+
		`1,2147483647,2024-01-31T12:00:00Z,"{""a"": [1, 2]}","{""k"": ""v""}","[1, -2, 9007199254740993]","[1,2]","[0.5, 1e3]",[0.25],"[""a"", ""b,c""]","[true, false]","[""aGk="", """"]","[""2024-01-31T12:00:00Z"", ""2024-01-31 14:00:00+02:00""]"`+"\n"+
		"2,,,,,,,,,,,,\n"+
		`3, -2147483648 ,2024-01-31,42, {} ,[],[ ],"{1, 2}",0.5,[],[],[],[]`+"\n"+
		`4,0,2024-01-31 12:00:00,"""text""",{},[ 7 ],[-7],[],{},"[""é""]",[false],"[""""]","[""2024-01-31""]"`+"\n")
	tbl, err := Open(context.Background(), path, csvTyped(newTypes))
	require.NoError(t, err)
	defer tbl.Close()
	var types []string
	for _, f := range tbl.Schema().Fields() {
		types = append(types, f.Name+" "+f.Type.String())
	}
	require.Equal(t, []string{"user_id int64", "n32 int32", "at timestamp[ns, tz=UTC]", "doc utf8", "attrs utf8",
		"i64s list<item: int64, nullable>", "i32s list<item: int32, nullable>", "f64s list<item: float64, nullable>",
		"f32s list<item: float32, nullable>", "strs list<item: utf8, nullable>", "flags list<item: bool, nullable>",
		"blobs list<item: binary, nullable>", "times list<item: timestamp[ns, tz=UTC], nullable>"}, types)
	rows, err := readAll(t, tbl)
	require.NoError(t, err)
	noon := time.Date(2024, 1, 31, 12, 0, 0, 0, time.UTC)
	require.Equal(t, []map[string]any{
		{"user_id": int64(1), "n32": int32(2147483647), "at": noon, "doc": `{"a": [1, 2]}`, "attrs": `{"k": "v"}`,
			"i64s": []int64{1, -2, 9007199254740993}, "i32s": []int32{1, 2}, "f64s": []float64{0.5, 1000}, "f32s": []float32{0.25},
			"strs": []string{"a", "b,c"}, "flags": []bool{true, false}, "blobs": [][]byte{[]byte("hi"), {}},
			"times": []time.Time{noon, noon}},
		{"user_id": int64(2), "n32": nil, "at": nil, "doc": nil, "attrs": nil, "i64s": nil, "i32s": nil, "f64s": nil,
			"f32s": nil, "strs": nil, "flags": nil, "blobs": nil, "times": nil},
		{"user_id": int64(3), "n32": int32(-2147483648), "at": noon.Add(-12 * time.Hour), "doc": "42", "attrs": " {} ",
			"i64s": []int64{}, "i32s": []int32{}, "f64s": []float64{1, 2}, "f32s": []float32{0.5}, "strs": []string{},
			"flags": []bool{}, "blobs": [][]byte{}, "times": []time.Time{}},
		{"user_id": int64(4), "n32": int32(0), "at": noon, "doc": `"text"`, "attrs": "{}",
			"i64s": []int64{7}, "i32s": []int32{-7}, "f64s": []float64{}, "f32s": []float32{}, "strs": []string{"é"},
			"flags": []bool{false}, "blobs": [][]byte{{}}, "times": []time.Time{noon.Add(-12 * time.Hour)}},
	}, rows)
}

func TestCSVNewTypeErrors(t *testing.T) {
	for _, tc := range []struct{ name, col, cell, want string }{
		{"int32 range", "n32", "2147483648", `2147483648 does not fit in an int32`},
		{"int32 below range", "n32", "-2147483649", `-2147483649 does not fit in an int32`},
		{"int32 beyond int64", "n32", "99999999999999999999", `99999999999999999999 does not fit in an int32`},
		{"int32", "n32", "1.5", `expected an int32, got "1.5"`},
		{"timestamp", "at", "yesterday", `expected a time like 2024-01-31T12:00:00Z, got "yesterday"`},
		{"json", "doc", `"{""a"": }"`, `not valid JSON: invalid character '}' looking for beginning of value`},
		{"json text", "doc", "hello", `not valid JSON: invalid character 'h' looking for beginning of value`},
		{"map not an object", "attrs", `"[1, 2]"`, `a map is a JSON object ({"key": value, ...}), got [1, 2]`},
		{"map of a string", "attrs", `"""k"""`, `a map is a JSON object ({"key": value, ...}), got "k"`},
		{"map", "attrs", `"{""k"": }"`, `not valid JSON: invalid character '}' looking for beginning of value`},
		{"null item", "i64s", `"[1, null]"`, "item 1 is null; a list holds no null items (write null for the whole list)"},
		{"null float item", "f32s", `"[0.5, null]"`, "item 1 is null; a list holds no null items (write null for the whole list)"},
		{"int64 item", "i64s", `"[1, 2.5]"`, "item 1: expected an int64, got 2.5"},
		{"int64 list", "i64s", "1", `expected a list of int64 as a JSON array like [1, 2, 3], got "1"`},
		{"null list text", "i64s", "null", `expected a list of int64 as a JSON array like [1, 2, 3], got "null"`},
		{"int32 item range", "i32s", `"[1, 3000000000]"`, "item 1: 3000000000 does not fit in an int32"},
		{"int32 item string", "i32s", `"[""1""]"`, `item 0: expected an int32, got "1"`},
		{"double list", "f64s", "[a]", `expected a list of doubles like [0.1, 0.2], got "[a]"`},
		{"float list", "f32s", "[0.1; 0.2]", `expected a list of floats like [0.1, 0.2], got "[0.1; 0.2]"`},
		{"string list", "strs", `"a, b"`, `expected a list of strings as a JSON array like ["a", "b"], got "a, b"`},
		{"string item", "strs", `"[""a"", 1]"`, "item 1: expected a string, got 1"},
		{"string item UTF-8", "strs", "\"[\"\"\xff\"\"]\"", "item 0: not valid UTF-8"},
		{"bool item", "flags", "[1]", "item 0: expected true or false, got 1"},
		{"bytes item", "blobs", `"[""!!""]"`, `item 0: expected base64-encoded bytes in a string, got "!!"`},
		{"time item", "times", `"[""yesterday""]"`, `item 0: expected a time like 2024-01-31T12:00:00Z, got "yesterday"`},
		{"timestamp after 2262", "at", "2300-01-01T00:00:00Z", `time "2300-01-01T00:00:00Z" is outside the supported range 1678 to 2262`},
		{"timestamp before 1678", "at", "1600-01-01", `time "1600-01-01" is outside the supported range 1678 to 2262`},
		{"time item range", "times", `"[""2300-01-01T00:00:00Z""]"`, `item 0: time "2300-01-01T00:00:00Z" is outside the supported range 1678 to 2262`},
		{"time item number", "times", "[1706702400]", `item 0: expected a time in a string, like "2024-01-31T12:00:00Z", got 1706702400`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, "bad.csv", "user_id,"+tc.col+"\n1,\n2,"+tc.cell+"\n")
			tbl, err := Open(context.Background(), path, csvTyped(newTypes))
			require.NoError(t, err)
			defer tbl.Close()
			_, err = readAll(t, tbl)
			require.Error(t, err)
			require.Equal(t, `bad.csv:3: column "`+tc.col+`": `+tc.want, strings.ReplaceAll(err.Error(), filepath.Dir(path)+string(filepath.Separator), ""))
		})
	}
}
