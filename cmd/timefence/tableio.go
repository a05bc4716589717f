package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
)

// batchRows is the number of rows read into one Arrow record.
const batchRows = 64 << 10

var timestampType = &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}

// arrowTypeOf is the Arrow type a value type is read into.
func arrowTypeOf(t timefencev1.ValueType) arrow.DataType {
	switch t {
	case timefencev1.ValueType_VALUE_TYPE_INT64:
		return arrow.PrimitiveTypes.Int64
	case timefencev1.ValueType_VALUE_TYPE_DOUBLE:
		return arrow.PrimitiveTypes.Float64
	case timefencev1.ValueType_VALUE_TYPE_FLOAT:
		return arrow.PrimitiveTypes.Float32
	case timefencev1.ValueType_VALUE_TYPE_BOOL:
		return arrow.FixedWidthTypes.Boolean
	case timefencev1.ValueType_VALUE_TYPE_BYTES:
		return arrow.BinaryTypes.Binary
	case timefencev1.ValueType_VALUE_TYPE_FLOAT_LIST:
		return arrow.ListOf(arrow.PrimitiveTypes.Float32)
	}
	return arrow.BinaryTypes.String
}

// tableKind returns "csv" or "parquet" from a file's extension.
func tableKind(path string) (string, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return "csv", nil
	case ".parquet", ".pq":
		return "parquet", nil
	}
	return "", fmt.Errorf("%s: unknown file type; expected a .csv or .parquet file", path)
}

// table is an open input table: its records, how much of it there is for a
// progress bar, and how far reading has come.
type table struct {
	array.RecordReader
	unit  string // "rows" or "bytes"
	total int64
	done  func() int64 // how much has been read, in unit
	close func()
}

// watch returns the table's records, reporting reading progress to p and
// calling end once they are all read.
func (t *table) watch(p *progress, end func()) array.RecordReader {
	return &hooks{RecordReader: t.RecordReader, each: func(arrow.Record) { p.update(t.done()) }, end: end}
}

// openTable opens a CSV or Parquet file. CSV columns get their types from
// typeOf; a column it returns nil for is inferred from the data.
func openTable(ctx context.Context, path string, typeOf func(col string) (arrow.DataType, error)) (*table, error) {
	kind, err := tableKind(path)
	if err != nil {
		return nil, err
	}
	if err := checkFile(path); err != nil {
		return nil, err
	}
	if kind == "parquet" {
		return openParquet(ctx, path)
	}
	return openCSV(path, typeOf)
}

// hooks wraps a record reader, calling each with every record read and
// end (if set) once, when there are no more.
type hooks struct {
	array.RecordReader
	each func(arrow.Record)
	end  func()
}

func (h *hooks) Next() bool {
	if !h.RecordReader.Next() {
		if h.end != nil {
			h.end()
			h.end = nil
		}
		return false
	}
	h.each(h.Record())
	return true
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}
