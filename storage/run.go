package storage

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"slices"
	"sync"
	"sync/atomic"
)

// run is an immutable columnar set of versions of one view: every version
// with seq in (lo, hi], sorted by entity key and per key newest first in the
// read rule's order. Its slices live on the heap or in a memory-mapped file.
type run struct {
	lo, hi uint64

	// Distinct entity keys, ascending: key k is keyData[keyOff[k]:keyOff[k+1]],
	// keyHead[k] its first 8 bytes as a big-endian integer (zero padded), and
	// its versions are start[k] to start[k+1].
	keyOff  []int64
	keyData []byte
	keyHead []uint64
	start   []int64
	// head8 is set when every key is exactly 8 bytes long (as with one
	// int64 join key): keyHead then is the whole key.
	head8 bool

	// One element per version.
	event []int64
	avail []int64
	seq   []uint64
	flags []uint8

	cols []Column // ordered by feature id
	// widened holds columns converted to a wider type than the run was
	// written with (see colAs), by widenKey.
	widened sync.Map

	file *runFile // nil for a heap run
	refs atomic.Int32
}

// Column holds one feature's values in Arrow's memory layout. Only the
// slices of its type are set.
type Column struct {
	ID   uint32 // the feature's id
	Type Type
	// Valid has bit i set (least significant bit first) when row i has a
	// value; nil in a column that has no nulls.
	Valid   []byte
	Int64   []int64   // int64
	Float64 []float64 // double
	Float32 []float32 // float; the items of float lists
	Bool    []uint8   // bool, 0 or 1
	Offsets []int64   // string, bytes, float list: row i is Offsets[i]:Offsets[i+1]
	Data    []byte    // string, bytes
}

func (r *run) versions() int { return len(r.event) }

// bytes is about the size of the run's buffers, and so of its file.
func (r *run) bytes() int64 {
	if r.file != nil {
		return r.file.size
	}
	n := len(r.keyOff)*8 + len(r.keyData) + len(r.keyHead)*8 + len(r.start)*8 + len(r.event)*25
	for i := range r.cols {
		c := &r.cols[i]
		n += len(c.Valid) + 8*len(c.Int64) + 8*len(c.Float64) + 4*len(c.Float32) + len(c.Bool) + 8*len(c.Offsets) + len(c.Data)
	}
	return int64(n)
}
func (r *run) keys() int { return len(r.keyHead) }

func (r *run) key(k int) []byte { return r.keyData[r.keyOff[k]:r.keyOff[k+1]] }

// keyHead returns the first 8 bytes of key as a big-endian integer.
func keyHead(key []byte) uint64 {
	if len(key) >= 8 {
		return binary.BigEndian.Uint64(key)
	}
	var b [8]byte
	copy(b[:], key)
	return binary.BigEndian.Uint64(b[:])
}

// compareKey compares key k of r with key (whose head is head).
func (r *run) compareKey(k int, key []byte, head uint64) int {
	if h := r.keyHead[k]; h != head {
		return cmp.Compare(h, head)
	}
	if r.head8 && len(key) == 8 {
		return 0
	}
	return bytes.Compare(r.key(k), key)
}

// setHead8 sets head8 from the key offsets.
func (r *run) setHead8() {
	r.head8 = true
	for k := 1; k < len(r.keyOff); k++ {
		if r.keyOff[k]-r.keyOff[k-1] != 8 {
			r.head8 = false
			return
		}
	}
}

// find returns the index of the first key >= key, searching forward from
// hint when the keys before hint are all smaller (as when keys are visited
// in ascending order), else over the whole run.
func (r *run) find(key []byte, head uint64, hint int) int {
	n := r.keys()
	lo := 0
	if hint > 0 && hint <= n && r.compareKey(hint-1, key, head) < 0 {
		// Gallop forward from hint: the answer is near when keys are dense.
		lo = hint
		step := 1
		for lo+step <= n && r.compareKey(lo+step-1, key, head) < 0 {
			lo += step
			step <<= 1
		}
		n = min(n, lo+step)
	}
	for lo < n {
		m := int(uint(lo+n) >> 1)
		if r.compareKey(m, key, head) < 0 {
			lo = m + 1
		} else {
			n = m
		}
	}
	return lo
}

// colAs returns r's column of feature id as values of type t, or nil. A
// column of another type (written before the feature's type was widened to
// t, or read by a dataset recorded before) is converted once and kept.
func (r *run) colAs(id uint32, t Type) *Column {
	c := r.colFor(id)
	if c == nil || c.Type == t {
		return c
	}
	key := widenKey{id, t}
	if w, ok := r.widened.Load(key); ok {
		return w.(*Column)
	}
	w, _ := r.widened.LoadOrStore(key, c.widen(t, r.versions()))
	return w.(*Column)
}

type widenKey struct {
	id uint32
	t  Type
}

// widen returns a copy of the n rows of c as values of type t (see
// Value.As). Buffers of the same layout are shared.
func (c *Column) widen(t Type, n int) *Column {
	out := *c
	out.Type = t
	if c.Type.layout() == t.layout() {
		return &out
	}
	b := newColBuilder(Column{ID: c.ID, Type: t}, n)
	for i := range n {
		b.append(c.value(i))
	}
	out = *b.c
	return &out
}

// colFor returns r's column of feature id, or nil.
func (r *run) colFor(id uint32) *Column {
	lo, hi := 0, len(r.cols)
	for lo < hi {
		m := (lo + hi) / 2
		switch c := &r.cols[m]; {
		case c.ID == id:
			return c
		case c.ID < id:
			lo = m + 1
		default:
			hi = m
		}
	}
	return nil
}

func (c *Column) isValid(i int) bool { return c.Valid[i>>3]&(1<<(i&7)) != 0 }

// value returns row i of the column.
func (c *Column) value(i int) Value {
	if !c.isValid(i) {
		return Value{}
	}
	switch c.Type.layout() {
	case layoutInt64:
		return Value{Type: c.Type, Int: c.Int64[i]}
	case layoutFloat64:
		return Float64(c.Float64[i])
	case layoutFloat32:
		return Float32(c.Float32[i])
	case layoutBool:
		return Bool(c.Bool[i] != 0)
	case layoutFloatList:
		return FloatList(c.Float32[c.Offsets[i]:c.Offsets[i+1]])
	}
	return Value{Type: c.Type, Str: string(c.Data[c.Offsets[i]:c.Offsets[i+1]])}
}

// runBuilder appends versions, in run order, to a new heap run.
type runBuilder struct {
	r    *run
	cols []*colBuilder
	pos  []int // feature id -> index in cols, -1 when absent
}

// colBuilder builds one column.
type colBuilder struct {
	c *Column
	n int
}

// newRunBuilder starts a run of the given features (any order).
func newRunBuilder(feats []Feature, versions int) *runBuilder {
	ids := make([]Feature, len(feats))
	copy(ids, feats)
	sortFeaturesByID(ids)
	b := &runBuilder{r: &run{keyOff: []int64{0}, start: []int64{}}}
	maxID := uint32(0)
	for _, f := range ids {
		maxID = max(maxID, f.ID+1)
	}
	b.pos = make([]int, maxID)
	for i := range b.pos {
		b.pos[i] = -1
	}
	b.r.event = make([]int64, 0, versions)
	b.r.avail = make([]int64, 0, versions)
	b.r.seq = make([]uint64, 0, versions)
	b.r.flags = make([]uint8, 0, versions)
	b.r.cols = make([]Column, len(ids))
	for i, f := range ids {
		b.r.cols[i] = Column{ID: f.ID, Type: f.Type}
		b.cols = append(b.cols, newColBuilder(b.r.cols[i], versions))
		b.r.cols[i] = *b.cols[i].c
		b.cols[i].c = &b.r.cols[i]
		b.pos[f.ID] = i
	}
	return b
}

// reserveKeys makes room for keys distinct keys of keyBytes bytes in all.
func (b *runBuilder) reserveKeys(keys, keyBytes int) {
	r := b.r
	r.keyOff = slices.Grow(r.keyOff, keys)
	r.keyData = slices.Grow(r.keyData, keyBytes)
	r.keyHead = slices.Grow(r.keyHead, keys)
	r.start = slices.Grow(r.start, keys)
}

// newColBuilder returns a builder appending to c, with room for n rows.
func newColBuilder(c Column, n int) *colBuilder {
	c.Valid = make([]byte, 0, (n+7)/8)
	switch c.Type.layout() {
	case layoutInt64:
		c.Int64 = make([]int64, 0, n)
	case layoutFloat64:
		c.Float64 = make([]float64, 0, n)
	case layoutFloat32:
		c.Float32 = make([]float32, 0, n)
	case layoutBool:
		c.Bool = make([]uint8, 0, n)
	case layoutBytes, layoutFloatList:
		c.Offsets = append(make([]int64, 0, n+1), 0)
	}
	return &colBuilder{c: &c}
}

func sortFeaturesByID(fs []Feature) {
	for i := 1; i < len(fs); i++ {
		for j := i; j > 0 && fs[j].ID < fs[j-1].ID; j-- {
			fs[j], fs[j-1] = fs[j-1], fs[j]
		}
	}
}

// add appends one version. Versions must come in run order; vals holds one
// value per column of the run, in column order (see newRunBuilder).
func (b *runBuilder) add(key []byte, event, avail int64, seq uint64, flags byte, vals []Value) {
	b.addVersion(key, event, avail, seq, flags)
	for i, cb := range b.cols {
		cb.append(vals[i])
	}
}

// addFrom appends row i of run src; srcCols[c] is src's column for the
// builder's column c (nil where src has none).
func (b *runBuilder) addFrom(src *run, k, i int, srcCols []*Column) {
	b.addVersion(src.key(k), src.event[i], src.avail[i], src.seq[i], src.flags[i])
	for c, cb := range b.cols {
		cb.appendRange(srcCols[c], i, i+1)
	}
}

// addRange appends rows i to end-1 of run src, the first of key index k,
// as addFrom would one by one.
func (b *runBuilder) addRange(src *run, k, i, end int, srcCols []*Column) {
	r := b.r
	for n := i; n < end; k++ {
		key := src.key(k)
		if nk := r.keys(); nk == 0 || !bytes.Equal(r.key(nk-1), key) {
			r.keyData = append(r.keyData, key...)
			r.keyOff = append(r.keyOff, int64(len(r.keyData)))
			r.keyHead = append(r.keyHead, src.keyHead[k])
			r.start = append(r.start, int64(len(r.event)+n-i))
		}
		n = int(src.start[k+1])
	}
	r.event = append(r.event, src.event[i:end]...)
	r.avail = append(r.avail, src.avail[i:end]...)
	r.seq = append(r.seq, src.seq[i:end]...)
	r.flags = append(r.flags, src.flags[i:end]...)
	for c, cb := range b.cols {
		cb.appendRange(srcCols[c], i, end)
	}
}

// addVersion appends a version's key and times; its columns follow.
func (b *runBuilder) addVersion(key []byte, event, avail int64, seq uint64, flags byte) {
	r := b.r
	n := len(r.event)
	if k := r.keys(); k == 0 || !bytes.Equal(r.key(k-1), key) {
		r.keyData = append(r.keyData, key...)
		r.keyOff = append(r.keyOff, int64(len(r.keyData)))
		r.keyHead = append(r.keyHead, keyHead(key))
		r.start = append(r.start, int64(n))
	}
	r.event = append(r.event, event)
	r.avail = append(r.avail, avail)
	r.seq = append(r.seq, seq)
	r.flags = append(r.flags, flags)
}

// appendRange appends rows i to end-1 of src, or as many nulls when src is
// nil.
func (cb *colBuilder) appendRange(src *Column, i, end int) {
	c := cb.c
	for n := i; n < end; n++ {
		if cb.n%8 == 0 {
			c.Valid = append(c.Valid, 0)
		}
		if src != nil && src.isValid(n) {
			c.Valid[cb.n>>3] |= 1 << (cb.n & 7)
		}
		cb.n++
	}
	rows := end - i
	switch c.Type.layout() {
	case layoutInt64:
		c.Int64 = appendSpan(c.Int64, src, i, end, func(s *Column) []int64 { return s.Int64 })
	case layoutFloat64:
		c.Float64 = appendSpan(c.Float64, src, i, end, func(s *Column) []float64 { return s.Float64 })
	case layoutFloat32:
		c.Float32 = appendSpan(c.Float32, src, i, end, func(s *Column) []float32 { return s.Float32 })
	case layoutBool:
		c.Bool = appendSpan(c.Bool, src, i, end, func(s *Column) []uint8 { return s.Bool })
	default:
		if src == nil {
			last := c.Offsets[len(c.Offsets)-1]
			for range rows {
				c.Offsets = append(c.Offsets, last)
			}
			return
		}
		lo, hi := src.Offsets[i], src.Offsets[end]
		var shift int64
		if c.Type == TypeFloatList {
			shift = int64(len(c.Float32)) - lo
			c.Float32 = append(c.Float32, src.Float32[lo:hi]...)
		} else {
			shift = int64(len(c.Data)) - lo
			c.Data = append(c.Data, src.Data[lo:hi]...)
		}
		for _, o := range src.Offsets[i+1 : end+1] {
			c.Offsets = append(c.Offsets, o+shift)
		}
	}
}

// appendSpan appends rows i to end-1 of src's values (vals picks the
// slice), or zero values when src is nil.
func appendSpan[T any](dst []T, src *Column, i, end int, vals func(*Column) []T) []T {
	if src == nil {
		var zero T
		for range end - i {
			dst = append(dst, zero)
		}
		return dst
	}
	return append(dst, vals(src)[i:end]...)
}

func (cb *colBuilder) append(v Value) {
	c := cb.c
	if cb.n%8 == 0 {
		c.Valid = append(c.Valid, 0)
	}
	ok := !v.IsNull()
	if ok {
		c.Valid[cb.n>>3] |= 1 << (cb.n & 7)
		if v.Type != c.Type { // written before the feature's type was widened
			v = v.As(c.Type)
		}
	}
	cb.n++
	switch c.Type.layout() {
	case layoutInt64:
		c.Int64 = append(c.Int64, v.Int)
	case layoutFloat64:
		c.Float64 = append(c.Float64, v.Float)
	case layoutFloat32:
		c.Float32 = append(c.Float32, float32(v.Float))
	case layoutBool:
		c.Bool = append(c.Bool, uint8(v.Int))
	case layoutFloatList:
		c.Float32 = append(c.Float32, v.Float32s()...)
		c.Offsets = append(c.Offsets, int64(len(c.Float32)))
	default:
		c.Data = append(c.Data, v.Str...)
		c.Offsets = append(c.Offsets, int64(len(c.Data)))
	}
}

// finish returns the run covering (lo, hi].
func (b *runBuilder) finish(lo, hi uint64) *run {
	r := b.r
	r.start = append(r.start, int64(len(r.event)))
	r.lo, r.hi = lo, hi
	r.setHead8()
	return r
}
