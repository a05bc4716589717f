package server

import (
	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"

	"github.com/timefence/timefence/storage"
)

// colBuf collects one result column: set may be called concurrently for
// different rows. array builds the Arrow column with row order[n] taken from
// row n of the buffer.
type colBuf interface {
	set(i int, v storage.Value)
	array(order []int32) arrow.Array
}

func newColBuf(t storage.Type, n int) colBuf {
	switch t {
	case storage.TypeInt64:
		return &fixedBuf[int64]{vals: make([]int64, n), valid: make([]bool, n), get: func(v storage.Value) int64 { return v.Int },
			build: func(v []int64, ok []bool) arrow.Array {
				b := array.NewInt64Builder(memory.DefaultAllocator)
				defer b.Release()
				b.AppendValues(v, ok)
				return b.NewArray()
			}}
	case storage.TypeFloat64:
		return &fixedBuf[float64]{vals: make([]float64, n), valid: make([]bool, n), get: func(v storage.Value) float64 { return v.Float },
			build: func(v []float64, ok []bool) arrow.Array {
				b := array.NewFloat64Builder(memory.DefaultAllocator)
				defer b.Release()
				b.AppendValues(v, ok)
				return b.NewArray()
			}}
	case storage.TypeFloat32:
		return &fixedBuf[float32]{vals: make([]float32, n), valid: make([]bool, n), get: func(v storage.Value) float32 { return float32(v.Float) },
			build: func(v []float32, ok []bool) arrow.Array {
				b := array.NewFloat32Builder(memory.DefaultAllocator)
				defer b.Release()
				b.AppendValues(v, ok)
				return b.NewArray()
			}}
	case storage.TypeBool:
		return &fixedBuf[bool]{vals: make([]bool, n), valid: make([]bool, n), get: func(v storage.Value) bool { return v.Int != 0 },
			build: func(v []bool, ok []bool) arrow.Array {
				b := array.NewBooleanBuilder(memory.DefaultAllocator)
				defer b.Release()
				b.AppendValues(v, ok)
				return b.NewArray()
			}}
	}
	return &valueBuf{t: t, vals: make([]storage.Value, n)}
}

// fixedBuf holds a fixed-width column.
type fixedBuf[T any] struct {
	vals  []T
	valid []bool
	get   func(storage.Value) T
	build func([]T, []bool) arrow.Array
}

func (b *fixedBuf[T]) set(i int, v storage.Value) {
	if !v.IsNull() {
		b.vals[i], b.valid[i] = b.get(v), true
	}
}

func (b *fixedBuf[T]) array(order []int32) arrow.Array {
	vals, valid := make([]T, len(b.vals)), make([]bool, len(b.valid))
	for n, i := range order {
		vals[i], valid[i] = b.vals[n], b.valid[n]
	}
	return b.build(vals, valid)
}

// valueBuf holds a variable-width column (strings, bytes, float lists).
type valueBuf struct {
	t    storage.Type
	vals []storage.Value
}

func (b *valueBuf) set(i int, v storage.Value) {
	if v.Type == storage.TypeFloatList {
		v.List = append([]float32(nil), v.List...)
	}
	b.vals[i] = v
}

func (b *valueBuf) array(order []int32) arrow.Array {
	vals := make([]storage.Value, len(b.vals))
	for n, i := range order {
		vals[i] = b.vals[n]
	}
	bld := newBuilder(b.t)
	defer bld.Release()
	bld.Reserve(len(vals))
	for _, v := range vals {
		appendValue(bld, v)
	}
	return bld.NewArray()
}
