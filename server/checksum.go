package server

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"hash"
	"math"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
)

// tableHasher hashes a table column by column, so the digest depends on the
// table's content, not on how its rows are split into record batches.
type tableHasher struct {
	cols []hash.Hash
	buf  []byte
	// textLists hashes lists of items other than float32 by their text, as
	// a spine's always have been: a spine's hash is part of dataset ids.
	textLists bool
}

func newTableHasher(ncols int) *tableHasher {
	t := &tableHasher{cols: make([]hash.Hash, ncols)}
	for i := range t.cols {
		t.cols[i] = sha256.New()
	}
	return t
}

// add hashes arr as the next rows of column i: per row a null marker (0)
// or a value marker (1) and the value's bytes.
func (t *tableHasher) add(i int, arr arrow.Array) {
	b := t.buf[:0]
	flush := func() {
		if len(b) > 1<<16 {
			t.cols[i].Write(b)
			b = b[:0]
		}
	}
	each := func(val func(r int)) {
		for r := range arr.Len() {
			if arr.IsNull(r) {
				b = append(b, 0)
			} else {
				b = append(b, 1)
				val(r)
			}
			flush()
		}
	}
	switch a := arr.(type) {
	case *array.Int64:
		fixed64(&b, a, a.Int64Values(), func(x int64) uint64 { return uint64(x) }, t.cols[i])
	case *array.Int32:
		fixed64(&b, a, a.Int32Values(), func(x int32) uint64 { return uint64(x) }, t.cols[i])
	case *array.Timestamp:
		fixed64(&b, a, a.TimestampValues(), func(x arrow.Timestamp) uint64 { return uint64(x) }, t.cols[i])
	case *array.Float64:
		fixed64(&b, a, a.Float64Values(), math.Float64bits, t.cols[i])
	case *array.Float32:
		each(func(r int) { b = binary.LittleEndian.AppendUint32(b, math.Float32bits(a.Value(r))) })
	case *array.Boolean:
		each(func(r int) {
			if a.Value(r) {
				b = append(b, 1)
			} else {
				b = append(b, 0)
			}
		})
	case *array.String:
		each(func(r int) {
			b = binary.AppendUvarint(b, uint64(len(a.Value(r))))
			b = append(b, a.Value(r)...)
		})
	case *array.Binary:
		each(func(r int) {
			b = binary.AppendUvarint(b, uint64(len(a.Value(r))))
			b = append(b, a.Value(r)...)
		})
	case *array.List:
		items := a.ListValues()
		_, f32 := items.(*array.Float32)
		each(func(r int) {
			s, e := a.ValueOffsets(r)
			b = binary.AppendUvarint(b, uint64(e-s))
			if t.textLists && !f32 {
				b = append(b, a.ValueStr(r)...)
				return
			}
			b = appendItems(b, items, int(s), int(e))
		})
	default:
		each(func(r int) {
			s := arr.ValueStr(r)
			b = binary.AppendUvarint(b, uint64(len(s)))
			b = append(b, s...)
		})
	}
	t.cols[i].Write(b)
	t.buf = b[:0]
}

// appendItems appends the list items [s, e) of items: 4 bytes per float,
// 8 per double, integer or time, 1 per bool, and a length before the bytes
// of a string or binary item (all little endian).
func appendItems(b []byte, items arrow.Array, s, e int) []byte {
	switch v := items.(type) {
	case *array.Float32:
		for _, x := range v.Float32Values()[s:e] {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
		}
	case *array.Float64:
		for _, x := range v.Float64Values()[s:e] {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
		}
	case *array.Int64:
		for _, x := range v.Int64Values()[s:e] {
			b = binary.LittleEndian.AppendUint64(b, uint64(x))
		}
	case *array.Int32:
		for _, x := range v.Int32Values()[s:e] {
			b = binary.LittleEndian.AppendUint64(b, uint64(int64(x)))
		}
	case *array.Timestamp:
		for _, x := range v.TimestampValues()[s:e] {
			b = binary.LittleEndian.AppendUint64(b, uint64(x))
		}
	case *array.Boolean:
		for k := s; k < e; k++ {
			if v.Value(k) {
				b = append(b, 1)
			} else {
				b = append(b, 0)
			}
		}
	case *array.String:
		for k := s; k < e; k++ {
			b = binary.AppendUvarint(b, uint64(len(v.Value(k))))
			b = append(b, v.Value(k)...)
		}
	case *array.Binary:
		for k := s; k < e; k++ {
			b = binary.AppendUvarint(b, uint64(len(v.Value(k))))
			b = append(b, v.Value(k)...)
		}
	default:
		for k := s; k < e; k++ {
			x := items.ValueStr(k)
			b = binary.AppendUvarint(b, uint64(len(x)))
			b = append(b, x...)
		}
	}
	return b
}

// fixed64 hashes a column of 8-byte values: a marker byte and the value,
// little-endian, per row, written in blocks of fixed-size slots.
func fixed64[T any](buf *[]byte, arr arrow.Array, vals []T, bits func(T) uint64, h hash.Hash) {
	h.Write(*buf) // what earlier rows left
	*buf = (*buf)[:0]
	const block = 4096
	b := make([]byte, 9*block)
	var nulls []byte // validity bitmap, nil without nulls
	off := arr.Data().Offset()
	if arr.NullN() > 0 {
		nulls = arr.NullBitmapBytes()
	}
	for lo := 0; lo < len(vals); lo += block {
		part := vals[lo:min(lo+block, len(vals))]
		n := 0
		for r, x := range part {
			if i := off + lo + r; nulls != nil && nulls[i>>3]&(1<<(i&7)) == 0 {
				b[n] = 0
				n++
				continue
			}
			b[n] = 1
			binary.LittleEndian.PutUint64(b[n+1:n+9], bits(x))
			n += 9
		}
		h.Write(b[:n])
	}
}

// sum returns the hex digest of prefix and every column's digest.
func (t *tableHasher) sum(prefix string) string {
	h := sha256.New()
	h.Write([]byte(prefix))
	for _, c := range t.cols {
		h.Write(c.Sum(nil))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// datasetID derives a dataset id from everything that determines a read's output.
func datasetID(identity any) string {
	b, err := json.Marshal(identity)
	if err != nil {
		panic(err) // identities are plain structs
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:16])
}
