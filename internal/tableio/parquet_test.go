package tableio

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/stretchr/testify/require"
)

func record(t *testing.T, ids ...int64) arrow.Record {
	t.Helper()
	schema := arrow.NewSchema([]arrow.Field{{Name: "user_id", Type: arrow.PrimitiveTypes.Int64}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	b.Field(0).(*array.Int64Builder).AppendValues(ids, nil)
	return b.NewRecord()
}

func TestParquetRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.parquet")
	w := NewParquetWriter(path)
	for _, ids := range [][]int64{{1, 2}, {3}} {
		rec := record(t, ids...)
		require.NoError(t, w.Write(rec))
		rec.Release()
	}
	_, err := os.Stat(path)
	require.ErrorIs(t, err, os.ErrNotExist, "the file appears only on commit")
	require.NoError(t, w.Commit())
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary file is left")

	tbl, err := Open(context.Background(), path, nil)
	require.NoError(t, err)
	defer tbl.Close()
	require.Equal(t, "rows", tbl.Unit)
	require.EqualValues(t, 3, tbl.Total)
	ends := 0
	tbl.OnEnd = func() { ends++ }
	rows, err := readAll(t, tbl)
	require.NoError(t, err, "the end of the records is no error")
	require.Equal(t, []map[string]any{{"user_id": int64(1)}, {"user_id": int64(2)}, {"user_id": int64(3)}}, rows)
	require.EqualValues(t, 3, tbl.Done())
	require.Equal(t, 1, ends)
}

func TestParquetWriterLeavesNothingBehind(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.parquet")
	require.EqualError(t, NewParquetWriter(path).Commit(), "nothing to write to "+path+": no records")

	w := NewParquetWriter(path)
	rec := record(t, 1)
	defer rec.Release()
	require.NoError(t, w.Write(rec))
	w.Abort()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, entries)

	missing := filepath.Join(dir, "no", "out.parquet")
	require.EqualError(t, NewParquetWriter(missing).Write(rec), "cannot create "+missing+": no such file or directory")
}

func TestOpenRefuses(t *testing.T) {
	_, err := Open(context.Background(), "data.json", nil)
	require.EqualError(t, err, "data.json: unknown file type; expected a .csv or .parquet file")
	_, err = Open(context.Background(), filepath.Join(t.TempDir(), "missing.csv"), nil)
	require.ErrorIs(t, err, fs.ErrNotExist)
	path := writeFile(t, "bad.parquet", "not parquet")
	_, err = Open(context.Background(), path, nil)
	require.ErrorContains(t, err, path+" is not a readable Parquet file")
}

func TestFormatOf(t *testing.T) {
	for path, want := range map[string]Format{"a.csv": CSV, "A.CSV": CSV, "b.parquet": Parquet, "c.pq": Parquet} {
		got, err := FormatOf(path)
		require.NoError(t, err, path)
		require.Equal(t, want, got, path)
	}
	_, err := FormatOf("d.txt")
	require.Error(t, err)
}

// TestParquetListsAndTimes checks that timestamp and list columns of a
// Parquet file reach the reader with their types: the server, not the
// reader, decides what a column may hold.
func TestParquetListsAndTimes(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "at", Type: &arrow.TimestampType{Unit: arrow.Millisecond}, Nullable: true},
		{Name: "n32", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "doc", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "i32s", Type: arrow.ListOf(arrow.PrimitiveTypes.Int32), Nullable: true},
		{Name: "strs", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
		{Name: "blobs", Type: arrow.ListOf(arrow.BinaryTypes.Binary), Nullable: true},
		{Name: "times", Type: arrow.ListOf(&arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}), Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	at := time.Date(2024, 1, 31, 12, 0, 0, 0, time.UTC)
	b.Field(0).(*array.TimestampBuilder).Append(arrow.Timestamp(at.UnixMilli()))
	b.Field(1).(*array.Int32Builder).Append(-7)
	b.Field(2).(*array.StringBuilder).Append(`{"a": 1}`)
	l := b.Field(3).(*array.ListBuilder)
	l.Append(true)
	l.ValueBuilder().(*array.Int32Builder).AppendValues([]int32{1, 2}, nil)
	l = b.Field(4).(*array.ListBuilder)
	l.Append(true)
	l.ValueBuilder().(*array.StringBuilder).AppendValues([]string{"a", "b"}, nil)
	l = b.Field(5).(*array.ListBuilder)
	l.Append(true)
	l.ValueBuilder().(*array.BinaryBuilder).AppendValues([][]byte{[]byte("hi")}, nil)
	l = b.Field(6).(*array.ListBuilder)
	l.Append(true)
	l.ValueBuilder().(*array.TimestampBuilder).Append(arrow.Timestamp(at.UnixMicro()))
	for _, f := range b.Fields() {
		f.AppendNull()
	}
	rec := b.NewRecord()
	defer rec.Release()
	path := filepath.Join(t.TempDir(), "new.parquet")
	w := NewParquetWriter(path)
	require.NoError(t, w.Write(rec))
	require.NoError(t, w.Commit())

	tbl, err := Open(context.Background(), path, nil)
	require.NoError(t, err)
	defer tbl.Close()
	// The name of a list's item field is the Parquet reader's choice.
	var types []string
	for _, f := range tbl.Schema().Fields() {
		name := f.Type.String()
		if l, ok := f.Type.(*arrow.ListType); ok {
			name = "list<" + l.Elem().String() + ">"
		}
		types = append(types, f.Name+" "+name)
	}
	require.Equal(t, []string{"at timestamp[ms, tz=UTC]", "n32 int32", "doc utf8", "i32s list<int32>", "strs list<utf8>",
		"blobs list<binary>", "times list<timestamp[us, tz=UTC]>"}, types)
	rows, err := readAll(t, tbl)
	require.NoError(t, err)
	require.Equal(t, []map[string]any{
		{"at": at, "n32": int32(-7), "doc": `{"a": 1}`, "i32s": []int32{1, 2}, "strs": []string{"a", "b"},
			"blobs": [][]byte{[]byte("hi")}, "times": []time.Time{at}},
		{"at": nil, "n32": nil, "doc": nil, "i32s": nil, "strs": nil, "blobs": nil, "times": nil},
	}, rows)
}
