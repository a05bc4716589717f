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
					row[f.Name] = a.Value(i).ToTime(arrow.Nanosecond)
				case *array.List:
					vals := a.ListValues().(*array.Float32)
					start, end := a.ValueOffsets(i)
					row[f.Name] = append([]float32{}, vals.Float32Values()[start:end]...)
				default:
					row[f.Name] = a.GetOneForMarshal(i)
				}
			}
			rows = append(rows, row)
		}
	}
	return rows, tbl.Err()
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
