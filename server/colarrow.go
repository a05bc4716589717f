package server

import (
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
