package server

import (
	"fmt"
	"math"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"

	"github.com/timefence/timefence/storage"
)

// arrowType is the Arrow type of a feature type in results and exports.
func arrowType(t storage.Type) arrow.DataType {
	switch t {
	case storage.TypeInt64:
		return arrow.PrimitiveTypes.Int64
	case storage.TypeFloat64:
		return arrow.PrimitiveTypes.Float64
	case storage.TypeFloat32:
		return arrow.PrimitiveTypes.Float32
	case storage.TypeString:
		return arrow.BinaryTypes.String
	case storage.TypeBool:
		return arrow.FixedWidthTypes.Boolean
	case storage.TypeBytes:
		return arrow.BinaryTypes.Binary
	case storage.TypeFloatList:
		return arrow.ListOf(arrow.PrimitiveTypes.Float32)
	}
	panic(fmt.Sprintf("no arrow type for %s", t))
}

// column reads storage values out of an Arrow column of a given storage type.
type column struct {
	arr  arrow.Array
	get  func(i int) storage.Value
	name string
}

func (c *column) isNull(i int) bool { return c.arr.IsNull(i) }

// value returns row i as a storage value; null when the row is null.
func (c *column) value(i int) storage.Value {
	if c.arr.IsNull(i) {
		return storage.Value{}
	}
	return c.get(i)
}

// newColumn adapts arr to values of type want, accepting the Arrow types a
// writer is likely to hold for it (e.g. int32 for int64, large_string for string).
func newColumn(name string, arr arrow.Array, want storage.Type) (*column, error) {
	c := &column{arr: arr, name: name}
	switch want {
	case storage.TypeInt64:
		switch a := arr.(type) {
		case *array.Int64:
			c.get = func(i int) storage.Value { return storage.Int64(a.Value(i)) }
		case *array.Int32:
			c.get = func(i int) storage.Value { return storage.Int64(int64(a.Value(i))) }
		case *array.Int16:
			c.get = func(i int) storage.Value { return storage.Int64(int64(a.Value(i))) }
		case *array.Int8:
			c.get = func(i int) storage.Value { return storage.Int64(int64(a.Value(i))) }
		case *array.Uint32:
			c.get = func(i int) storage.Value { return storage.Int64(int64(a.Value(i))) }
		case *array.Uint16:
			c.get = func(i int) storage.Value { return storage.Int64(int64(a.Value(i))) }
		case *array.Uint8:
			c.get = func(i int) storage.Value { return storage.Int64(int64(a.Value(i))) }
		}
	case storage.TypeFloat64:
		switch a := arr.(type) {
		case *array.Float64:
			c.get = func(i int) storage.Value { return storage.Float64(a.Value(i)) }
		case *array.Float32:
			c.get = func(i int) storage.Value { return storage.Float64(float64(a.Value(i))) }
		}
	case storage.TypeFloat32:
		if a, ok := arr.(*array.Float32); ok {
			c.get = func(i int) storage.Value { return storage.Float32(a.Value(i)) }
		}
	case storage.TypeString:
		switch a := arr.(type) {
		case *array.String:
			c.get = func(i int) storage.Value { return storage.String(a.Value(i)) }
		case *array.LargeString:
			c.get = func(i int) storage.Value { return storage.String(a.Value(i)) }
		}
	case storage.TypeBool:
		if a, ok := arr.(*array.Boolean); ok {
			c.get = func(i int) storage.Value { return storage.Bool(a.Value(i)) }
		}
	case storage.TypeBytes:
		switch a := arr.(type) {
		case *array.Binary:
			c.get = func(i int) storage.Value { return storage.Bytes(a.Value(i)) }
		case *array.LargeBinary:
			c.get = func(i int) storage.Value { return storage.Bytes(a.Value(i)) }
		}
	case storage.TypeFloatList:
		c.get = floatListGetter(arr)
	}
	if c.get == nil {
		return nil, invalid(fmt.Sprintf("column %q: expected %s, got Arrow type %s", name, want, arr.DataType()))
	}
	return c, nil
}

func floatListGetter(arr arrow.Array) func(int) storage.Value {
	var values arrow.Array
	var offsets func(i int) (int64, int64)
	switch a := arr.(type) {
	case *array.List:
		values, offsets = a.ListValues(), a.ValueOffsets
	case *array.LargeList:
		values, offsets = a.ListValues(), a.ValueOffsets
	case *array.FixedSizeList:
		values, offsets = a.ListValues(), a.ValueOffsets
	default:
		return nil
	}
	switch v := values.(type) {
	case *array.Float32:
		return func(i int) storage.Value {
			s, e := offsets(i)
			return storage.FloatList(append([]float32(nil), v.Float32Values()[s:e]...))
		}
	case *array.Float64:
		return func(i int) storage.Value {
			s, e := offsets(i)
			l := make([]float32, e-s)
			for j := range l {
				l[j] = float32(v.Value(int(s) + j))
			}
			return storage.FloatList(l)
		}
	}
	return nil
}

// timeColumn reads an Arrow timestamp column as Unix nanoseconds.
type timeColumn struct {
	arr  *array.Timestamp
	mult int64
	name string
}

func newTimeColumn(name string, arr arrow.Array) (*timeColumn, error) {
	a, ok := arr.(*array.Timestamp)
	if !ok {
		return nil, invalid(fmt.Sprintf("column %q: expected a timestamp, got Arrow type %s", name, arr.DataType()))
	}
	mult := map[arrow.TimeUnit]int64{arrow.Second: 1e9, arrow.Millisecond: 1e6, arrow.Microsecond: 1e3, arrow.Nanosecond: 1}
	return &timeColumn{arr: a, mult: mult[a.DataType().(*arrow.TimestampType).Unit], name: name}, nil
}

// nanos returns row i in Unix nanoseconds; the error names the row.
func (c *timeColumn) nanos(i, row int) (int64, error) {
	if c.arr.IsNull(i) {
		return 0, invalid(fmt.Sprintf("row %d: column %q: timestamp is null", row, c.name))
	}
	v := int64(c.arr.Value(i))
	if v > math.MaxInt64/c.mult || v < math.MinInt64/c.mult {
		return 0, invalid(fmt.Sprintf("row %d: column %q: timestamp outside the supported range 1678..2262", row, c.name))
	}
	return v * c.mult, nil
}
