package server

import (
	"fmt"
	"math/bits"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"

	"github.com/timefence/timefence/storage"
)

// columnArray turns a storage column of n rows into an Arrow array. Fixed
// width values are shared, not copied: the column must not change after.
func columnArray(c *storage.Column, n int) arrow.Array {
	nulls := 0
	var valid *memory.Buffer
	if c.Valid != nil {
		nulls = n
		for _, b := range c.Valid {
			nulls -= bits.OnesCount8(b)
		}
		valid = memory.NewBufferBytes(c.Valid)
	}
	fixed := func(t arrow.DataType, b []byte) arrow.Array {
		return array.MakeFromData(array.NewData(t, n, []*memory.Buffer{valid, memory.NewBufferBytes(b)}, nil, nulls, 0))
	}
	switch c.Type {
	case storage.TypeInt64:
		return fixed(arrow.PrimitiveTypes.Int64, arrow.Int64Traits.CastToBytes(c.Int64))
	case storage.TypeTimestamp:
		return fixed(timestampNS, arrow.Int64Traits.CastToBytes(c.Int64))
	case storage.TypeInt32:
		v := make([]int32, len(c.Int64))
		for i, x := range c.Int64 {
			v[i] = int32(x)
		}
		return fixed(arrow.PrimitiveTypes.Int32, arrow.Int32Traits.CastToBytes(v))
	case storage.TypeFloat64:
		return fixed(arrow.PrimitiveTypes.Float64, arrow.Float64Traits.CastToBytes(c.Float64))
	case storage.TypeFloat32:
		return fixed(arrow.PrimitiveTypes.Float32, arrow.Float32Traits.CastToBytes(c.Float32))
	case storage.TypeBool:
		bm := make([]byte, (n+7)/8)
		for i, v := range c.Bool {
			if v != 0 {
				bm[i>>3] |= 1 << (i & 7)
			}
		}
		return fixed(arrow.FixedWidthTypes.Boolean, bm)
	}
	if c.Type.IsList() && c.Type != storage.TypeFloatList {
		return packedListArray(c, n)
	}
	off := make([]int32, len(c.Offsets))
	for i, o := range c.Offsets {
		off[i] = int32(o)
	}
	offBuf := memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(off))
	if c.Type == storage.TypeFloatList {
		items := array.NewData(arrow.PrimitiveTypes.Float32, len(c.Float32),
			[]*memory.Buffer{nil, memory.NewBufferBytes(arrow.Float32Traits.CastToBytes(c.Float32))}, nil, 0, 0)
		defer items.Release()
		return array.MakeFromData(array.NewData(arrowType(c.Type), n, []*memory.Buffer{valid, offBuf}, []arrow.ArrayData{items}, nulls, 0))
	}
	return array.MakeFromData(array.NewData(arrowType(c.Type), n, []*memory.Buffer{valid, offBuf, memory.NewBufferBytes(c.Data)}, nil, nulls, 0))
}

// packedListArray builds the list array of a column whose Data holds each
// row's packed list (every list type but float_list).
func packedListArray(c *storage.Column, n int) arrow.Array {
	b := array.NewListBuilder(memory.DefaultAllocator, arrowType(c.Type.Elem()))
	defer b.Release()
	b.Reserve(n)
	for i := range n {
		if c.Valid != nil && c.Valid[i>>3]&(1<<(i&7)) == 0 {
			b.AppendNull()
			continue
		}
		appendValue(b, storage.Value{Type: c.Type, Str: string(c.Data[c.Offsets[i]:c.Offsets[i+1]])})
	}
	return b.NewArray()
}

// appendValue appends v, or a null, to a builder of arrowType(v's type).
func appendValue(b array.Builder, v storage.Value) {
	if v.IsNull() {
		b.AppendNull()
		return
	}
	switch b := b.(type) {
	case *array.Int64Builder:
		b.Append(v.Int)
	case *array.Int32Builder:
		b.Append(int32(v.Int))
	case *array.TimestampBuilder:
		b.Append(arrow.Timestamp(v.Int))
	case *array.Float64Builder:
		b.Append(v.Float)
	case *array.Float32Builder:
		b.Append(float32(v.Float))
	case *array.StringBuilder:
		b.Append(v.Str)
	case *array.BinaryBuilder:
		b.Append([]byte(v.Str))
	case *array.BooleanBuilder:
		b.Append(v.Int != 0)
	case *array.ListBuilder:
		b.Append(true)
		switch items := b.ValueBuilder().(type) {
		case *array.Int64Builder:
			items.AppendValues(v.Ints(), nil)
		case *array.Int32Builder:
			for _, x := range v.Ints() {
				items.Append(int32(x))
			}
		case *array.TimestampBuilder:
			for _, x := range v.Ints() {
				items.Append(arrow.Timestamp(x))
			}
		case *array.Float64Builder:
			items.AppendValues(v.Floats(), nil)
		case *array.Float32Builder:
			items.AppendValues(v.Float32s(), nil)
		case *array.BooleanBuilder:
			items.AppendValues(v.Bools(), nil)
		case *array.StringBuilder:
			items.AppendValues(v.Strings(), nil)
		case *array.BinaryBuilder:
			for _, x := range v.Strings() {
				items.AppendString(x)
			}
		default:
			panic(fmt.Sprintf("appendValue: no list items of %s", v.Type))
		}
	default:
		panic(fmt.Sprintf("appendValue: no case for %T", b))
	}
}

// timestampArray shares ns as a non-null UTC nanosecond timestamp array.
func timestampArray(ns []int64) arrow.Array {
	return array.MakeFromData(array.NewData(timestampNS, len(ns),
		[]*memory.Buffer{nil, memory.NewBufferBytes(arrow.Int64Traits.CastToBytes(ns))}, nil, 0, 0))
}

// boolArray builds a non-null boolean array.
func boolArray(v []bool) arrow.Array {
	b := array.NewBooleanBuilder(memory.DefaultAllocator)
	defer b.Release()
	b.AppendValues(v, nil)
	return b.NewArray()
}

// scatter returns c with row n moved to row order[n].
func scatter(c *storage.Column, order []int32) storage.Column {
	n := len(order)
	out := storage.Column{ID: c.ID, Type: c.Type, Valid: make([]byte, (n+7)/8)}
	valid := func(i int) bool { return c.Valid[i>>3]&(1<<(i&7)) != 0 }
	for from, to := range order {
		if valid(from) {
			out.Valid[to>>3] |= 1 << (to & 7)
		}
	}
	switch c.Type {
	case storage.TypeInt64, storage.TypeInt32, storage.TypeTimestamp:
		out.Int64 = scatterFixed(c.Int64, order)
	case storage.TypeFloat64:
		out.Float64 = scatterFixed(c.Float64, order)
	case storage.TypeFloat32:
		out.Float32 = scatterFixed(c.Float32, order)
	case storage.TypeBool:
		out.Bool = scatterFixed(c.Bool, order)
	default:
		// Variable width (strings, bytes, JSON, lists): lengths first,
		// then the bytes, or a float list's items.
		src := make([]int32, n) // the source row of each destination row
		for from, to := range order {
			src[to] = int32(from)
		}
		out.Offsets = make([]int64, n+1)
		for to, from := range src {
			lo, hi := c.Offsets[from], c.Offsets[from+1]
			if c.Type == storage.TypeFloatList {
				out.Float32 = append(out.Float32, c.Float32[lo:hi]...)
				out.Offsets[to+1] = int64(len(out.Float32))
			} else {
				out.Data = append(out.Data, c.Data[lo:hi]...)
				out.Offsets[to+1] = int64(len(out.Data))
			}
		}
	}
	return out
}

func scatterFixed[T any](vals []T, order []int32) []T {
	out := make([]T, len(vals))
	for from, to := range order {
		out[to] = vals[from]
	}
	return out
}
