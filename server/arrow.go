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
	if t.IsList() {
		return arrow.ListOf(arrowType(t.Elem()))
	}
	switch t {
	case storage.TypeInt64:
		return arrow.PrimitiveTypes.Int64
	case storage.TypeInt32:
		return arrow.PrimitiveTypes.Int32
	case storage.TypeTimestamp:
		return timestampNS
	case storage.TypeFloat64:
		return arrow.PrimitiveTypes.Float64
	case storage.TypeFloat32:
		return arrow.PrimitiveTypes.Float32
	case storage.TypeString, storage.TypeJSON, storage.TypeMap:
		return arrow.BinaryTypes.String
	case storage.TypeBool:
		return arrow.FixedWidthTypes.Boolean
	case storage.TypeBytes:
		return arrow.BinaryTypes.Binary
	}
	panic(fmt.Sprintf("no arrow type for %s", t))
}

// column reads storage values out of an Arrow column of a given storage type.
type column struct {
	arr arrow.Array
	get func(i int) storage.Value
	// check, when set, says why row i, not null, holds no value of the
	// type: a null list item, a time outside the supported range.
	check func(i int) error
	name  string
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
// writer is likely to hold for it (e.g. int32 for int64, large_string for
// string, a list of doubles for a float list). Values out of the type's
// range are left for Value.Check to refuse.
func newColumn(name string, arr arrow.Array, want storage.Type) (*column, error) {
	c := &column{arr: arr, name: name}
	if want.IsList() {
		c.get, c.check = listGetter(arr, want)
	} else {
		c.get, c.check = scalarGetter(arr, want)
	}
	if c.get == nil {
		return nil, invalid(fmt.Sprintf("column %q: expected %s, got Arrow type %s", name, want, arr.DataType()))
	}
	return c, nil
}

// scalarGetter returns how to read item i of arr as a value of type want,
// and when some items may not be read (see column.check), how to tell;
// nil when arr does not hold values of the type.
func scalarGetter(arr arrow.Array, want storage.Type) (func(int) storage.Value, func(int) error) {
	switch want {
	case storage.TypeInt64:
		return ints(arr, want, true), nil
	case storage.TypeInt32:
		return ints(arr, want, false), nil
	case storage.TypeTimestamp:
		a, ok := arr.(*array.Timestamp)
		if !ok {
			return nil, nil
		}
		mult := unitNanos[a.DataType().(*arrow.TimestampType).Unit]
		get := func(i int) storage.Value { return storage.Timestamp(int64(a.Value(i)) * mult) }
		if mult == 1 {
			return get, nil
		}
		return get, func(i int) error {
			if v := int64(a.Value(i)); v > math.MaxInt64/mult || v < math.MinInt64/mult {
				return fmt.Errorf("timestamp outside the supported range 1678..2262")
			}
			return nil
		}
	case storage.TypeFloat64:
		switch a := arr.(type) {
		case *array.Float64:
			return func(i int) storage.Value { return storage.Float64(a.Value(i)) }, nil
		case *array.Float32:
			return func(i int) storage.Value { return storage.Float64(float64(a.Value(i))) }, nil
		}
	case storage.TypeFloat32:
		if a, ok := arr.(*array.Float32); ok {
			return func(i int) storage.Value { return storage.Float32(a.Value(i)) }, nil
		}
	case storage.TypeString, storage.TypeJSON, storage.TypeMap:
		switch a := arr.(type) {
		case *array.String:
			return func(i int) storage.Value { return storage.Value{Type: want, Str: a.Value(i)} }, nil
		case *array.LargeString:
			return func(i int) storage.Value { return storage.Value{Type: want, Str: a.Value(i)} }, nil
		}
	case storage.TypeBool:
		if a, ok := arr.(*array.Boolean); ok {
			return func(i int) storage.Value { return storage.Bool(a.Value(i)) }, nil
		}
	case storage.TypeBytes:
		switch a := arr.(type) {
		case *array.Binary:
			return func(i int) storage.Value { return storage.Bytes(a.Value(i)) }, nil
		case *array.LargeBinary:
			return func(i int) storage.Value { return storage.Bytes(a.Value(i)) }, nil
		}
	}
	return nil, nil
}

var unitNanos = map[arrow.TimeUnit]int64{arrow.Second: 1e9, arrow.Millisecond: 1e6, arrow.Microsecond: 1e3, arrow.Nanosecond: 1}

// ints reads an integer column as values of type t (int64 or int32): int64
// takes every signed type and the unsigned ones up to uint32 (wide64), int32
// the types up to int32 and uint16, and int64, whose values Check refuses
// when out of range.
func ints(arr arrow.Array, t storage.Type, wide64 bool) func(int) storage.Value {
	val := func(x int64) storage.Value { return storage.Value{Type: t, Int: x} }
	switch a := arr.(type) {
	case *array.Int64:
		return func(i int) storage.Value { return val(a.Value(i)) }
	case *array.Int32:
		return func(i int) storage.Value { return val(int64(a.Value(i))) }
	case *array.Int16:
		return func(i int) storage.Value { return val(int64(a.Value(i))) }
	case *array.Int8:
		return func(i int) storage.Value { return val(int64(a.Value(i))) }
	case *array.Uint16:
		return func(i int) storage.Value { return val(int64(a.Value(i))) }
	case *array.Uint8:
		return func(i int) storage.Value { return val(int64(a.Value(i))) }
	case *array.Uint32:
		if wide64 {
			return func(i int) storage.Value { return val(int64(a.Value(i))) }
		}
	}
	return nil
}

// listGetter is scalarGetter for a list type: arr is a list, large list or
// fixed-size list of items the list's item type accepts. A null item is
// refused: lists hold no nulls.
func listGetter(arr arrow.Array, want storage.Type) (func(int) storage.Value, func(int) error) {
	var items arrow.Array
	var offsets func(i int) (int64, int64)
	switch a := arr.(type) {
	case *array.List:
		items, offsets = a.ListValues(), a.ValueOffsets
	case *array.LargeList:
		items, offsets = a.ListValues(), a.ValueOffsets
	case *array.FixedSizeList:
		items, offsets = a.ListValues(), a.ValueOffsets
	default:
		return nil, nil
	}
	item, itemCheck := scalarGetter(items, want.Elem())
	if item == nil && want == storage.TypeFloatList {
		item, itemCheck = scalarGetter(items, storage.TypeFloat64) // doubles, made floats
	}
	if item == nil {
		return nil, nil
	}
	var check func(int) error
	if items.NullN() > 0 || itemCheck != nil {
		check = func(i int) error {
			s, e := offsets(i)
			for k := int(s); k < int(e); k++ {
				if items.IsNull(k) {
					return fmt.Errorf("item %d is null; a list holds no nulls (a whole list may be null)", k-int(s))
				}
				if itemCheck != nil {
					if err := itemCheck(k); err != nil {
						return fmt.Errorf("item %d: %v", k-int(s), err)
					}
				}
			}
			return nil
		}
	}
	// The common item types are copied at once.
	switch v := items.(type) {
	case *array.Float32:
		if want == storage.TypeFloatList {
			return func(i int) storage.Value { s, e := offsets(i); return storage.FloatList(v.Float32Values()[s:e]) }, check
		}
	case *array.Float64:
		if want == storage.TypeFloat64List {
			return func(i int) storage.Value { s, e := offsets(i); return storage.Float64List(v.Float64Values()[s:e]) }, check
		}
	case *array.Int64:
		if want == storage.TypeInt64List {
			return func(i int) storage.Value { s, e := offsets(i); return storage.Int64List(v.Int64Values()[s:e]) }, check
		}
	}
	return func(i int) storage.Value {
		s, e := offsets(i)
		return packList(want, item, int(s), int(e))
	}, check
}

// packList packs items [s, e) read by item into a list of type t.
func packList(t storage.Type, item func(int) storage.Value, s, e int) storage.Value {
	n := e - s
	switch t {
	case storage.TypeInt64List, storage.TypeInt32List, storage.TypeTimestampList:
		l := make([]int64, n)
		for k := range l {
			l[k] = item(s + k).Int
		}
		if t == storage.TypeTimestampList {
			return storage.TimestampList(l)
		}
		// int32 lists are packed as int64 lists are; Check refuses items out of range.
		return storage.Int64List(l).As(t)
	case storage.TypeFloat64List:
		l := make([]float64, n)
		for k := range l {
			l[k] = item(s + k).Float
		}
		return storage.Float64List(l)
	case storage.TypeFloatList:
		l := make([]float32, n)
		for k := range l {
			l[k] = float32(item(s + k).Float)
		}
		return storage.FloatList(l)
	case storage.TypeBoolList:
		l := make([]bool, n)
		for k := range l {
			l[k] = item(s+k).Int != 0
		}
		return storage.BoolList(l)
	case storage.TypeStringList:
		l := make([]string, n)
		for k := range l {
			l[k] = item(s + k).Str
		}
		return storage.StringList(l)
	case storage.TypeBytesList:
		l := make([][]byte, n)
		for k := range l {
			l[k] = []byte(item(s + k).Str)
		}
		return storage.BytesList(l)
	}
	panic(fmt.Sprintf("not a list type: %s", t))
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
	return &timeColumn{arr: a, mult: unitNanos[a.DataType().(*arrow.TimestampType).Unit], name: name}, nil
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
