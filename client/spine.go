package client

import (
	"fmt"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
)

// NewSpine builds a small spine for GetHistorical from Go values: one
// column per join key (keyNames; each row of keys holds int, int64 or
// string values in that order) and "event_timestamp" from times. Larger
// spines are better built as Arrow records directly.
func NewSpine(keyNames []string, keys [][]any, times []time.Time) (array.RecordReader, error) {
	if len(keys) != len(times) {
		return nil, fmt.Errorf("timefence: spine has %d key rows but %d times", len(keys), len(times))
	}
	fields := make([]arrow.Field, 0, len(keyNames)+1)
	for j, name := range keyNames {
		var t arrow.DataType = arrow.PrimitiveTypes.Int64
		if len(keys) > 0 && j < len(keys[0]) {
			if _, ok := keys[0][j].(string); ok {
				t = arrow.BinaryTypes.String
			}
		}
		fields = append(fields, arrow.Field{Name: name, Type: t})
	}
	fields = append(fields, arrow.Field{Name: "event_timestamp", Type: &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}})
	schema := arrow.NewSchema(fields, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for i, row := range keys {
		if len(row) != len(keyNames) {
			return nil, fmt.Errorf("timefence: spine row %d has %d keys, expected %d (%v)", i, len(row), len(keyNames), keyNames)
		}
		for j, v := range row {
			switch col := b.Field(j).(type) {
			case *array.Int64Builder:
				switch n := v.(type) {
				case int:
					col.Append(int64(n))
				case int64:
					col.Append(n)
				default:
					return nil, fmt.Errorf("timefence: spine row %d: key %s: expected an integer, got %T", i, keyNames[j], v)
				}
			case *array.StringBuilder:
				s, ok := v.(string)
				if !ok {
					return nil, fmt.Errorf("timefence: spine row %d: key %s: expected a string, got %T", i, keyNames[j], v)
				}
				col.Append(s)
			}
		}
		b.Field(len(keyNames)).(*array.TimestampBuilder).Append(arrow.Timestamp(times[i].UnixNano()))
	}
	rec := b.NewRecord()
	defer rec.Release()
	return array.NewRecordReader(schema, []arrow.Record{rec})
}
