package tableio

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
)

// batchRows is the number of rows read into one Arrow record.
const batchRows = 64 << 10

// Format is the format of a table file.
type Format int

const (
	CSV Format = iota + 1
	Parquet
)

// FormatOf returns the format of a file from its extension: .csv, or
// .parquet or .pq.
func FormatOf(path string) (Format, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return CSV, nil
	case ".parquet", ".pq":
		return Parquet, nil
	}
	return 0, fmt.Errorf("%s: unknown file type; expected a .csv or .parquet file", path)
}

// ArrowType is the Arrow type of value type t: the type of its columns in
// results and exports. Timestamps are timestamp[ns, UTC], json and map
// utf8, and lists lists of their item's type.
func ArrowType(t timefencev1.ValueType) arrow.DataType {
	switch t {
	case timefencev1.ValueType_VALUE_TYPE_INT64:
		return arrow.PrimitiveTypes.Int64
	case timefencev1.ValueType_VALUE_TYPE_INT32:
		return arrow.PrimitiveTypes.Int32
	case timefencev1.ValueType_VALUE_TYPE_DOUBLE:
		return arrow.PrimitiveTypes.Float64
	case timefencev1.ValueType_VALUE_TYPE_FLOAT:
		return arrow.PrimitiveTypes.Float32
	case timefencev1.ValueType_VALUE_TYPE_BOOL:
		return arrow.FixedWidthTypes.Boolean
	case timefencev1.ValueType_VALUE_TYPE_BYTES:
		return arrow.BinaryTypes.Binary
	case timefencev1.ValueType_VALUE_TYPE_TIMESTAMP:
		return arrow.FixedWidthTypes.Timestamp_ns
	case timefencev1.ValueType_VALUE_TYPE_INT64_LIST:
		return arrow.ListOf(arrow.PrimitiveTypes.Int64)
	case timefencev1.ValueType_VALUE_TYPE_INT32_LIST:
		return arrow.ListOf(arrow.PrimitiveTypes.Int32)
	case timefencev1.ValueType_VALUE_TYPE_DOUBLE_LIST:
		return arrow.ListOf(arrow.PrimitiveTypes.Float64)
	case timefencev1.ValueType_VALUE_TYPE_FLOAT_LIST:
		return arrow.ListOf(arrow.PrimitiveTypes.Float32)
	case timefencev1.ValueType_VALUE_TYPE_STRING_LIST:
		return arrow.ListOf(arrow.BinaryTypes.String)
	case timefencev1.ValueType_VALUE_TYPE_BOOL_LIST:
		return arrow.ListOf(arrow.FixedWidthTypes.Boolean)
	case timefencev1.ValueType_VALUE_TYPE_BYTES_LIST:
		return arrow.ListOf(arrow.BinaryTypes.Binary)
	case timefencev1.ValueType_VALUE_TYPE_TIMESTAMP_LIST:
		return arrow.ListOf(arrow.FixedWidthTypes.Timestamp_ns)
	}
	return arrow.BinaryTypes.String
}

// CSVType is the type to give Open for a CSV column of value type t: its
// ArrowType, but for json and map a utf8 type whose cells the reader checks
// are JSON (an object, for a map).
func CSVType(t timefencev1.ValueType) arrow.DataType {
	switch t {
	case timefencev1.ValueType_VALUE_TYPE_JSON:
		return &jsonType{}
	case timefencev1.ValueType_VALUE_TYPE_MAP:
		return &jsonType{object: true}
	}
	return ArrowType(t)
}

// jsonType is a utf8 column of JSON text, or of JSON objects. A CSV column
// of this type is read as utf8.
type jsonType struct {
	arrow.StringType
	object bool
}

// Table is an open table file, read as Arrow records. Rows and Done say how
// far reading has come; call them from the goroutine reading, e.g. in
// OnRecord.
type Table struct {
	// Unit is what Total and Done count: "bytes" of a CSV file, "rows"
	// of a Parquet file.
	Unit  string
	Total int64
	// OnRecord, if set, is called after each record is read, and OnEnd
	// once, when there are no more.
	OnRecord func()
	OnEnd    func()

	r     array.RecordReader
	rows  int64
	done  func() int64
	close func()
}

var _ array.RecordReader = (*Table)(nil)

// Open opens a CSV or Parquet file. CSV columns get their types from
// typeOf (see CSVType); a column it returns nil for is inferred from the
// data: int64, double, bool or a timestamp when every cell parses as one,
// else string.
// Parquet files carry their own types. A file that cannot be opened gives
// the error of package os. Close the table when done.
func Open(ctx context.Context, path string, typeOf func(col string) (arrow.DataType, error)) (*Table, error) {
	format, err := FormatOf(path)
	if err != nil {
		return nil, err
	}
	if format == Parquet {
		return openParquet(ctx, path)
	}
	return openCSV(path, typeOf)
}

// Rows returns the number of rows read so far.
func (t *Table) Rows() int64 { return t.rows }

// Done returns how much of the table has been read so far, in Unit.
func (t *Table) Done() int64 { return t.done() }

// Close releases the table's records and closes its file.
func (t *Table) Close() { t.close() }

func (t *Table) Next() bool {
	if !t.r.Next() {
		if t.OnEnd != nil {
			t.OnEnd()
			t.OnEnd = nil
		}
		return false
	}
	t.rows += t.r.Record().NumRows()
	if t.OnRecord != nil {
		t.OnRecord()
	}
	return true
}

func (t *Table) Schema() *arrow.Schema { return t.r.Schema() }

func (t *Table) Record() arrow.Record { return t.r.Record() }

func (t *Table) Err() error { return t.r.Err() }

func (t *Table) Retain() { t.r.Retain() }

func (t *Table) Release() { t.r.Release() }
