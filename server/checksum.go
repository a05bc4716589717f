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
}

func newTableHasher(ncols int) *tableHasher {
	t := &tableHasher{cols: make([]hash.Hash, ncols)}
	for i := range t.cols {
		t.cols[i] = sha256.New()
	}
	return t
}

// add hashes arr as the next rows of column i.
func (t *tableHasher) add(i int, arr arrow.Array) {
	b := t.buf[:0]
	for r := range arr.Len() {
		if arr.IsNull(r) {
			b = append(b, 0)
			continue
		}
		b = append(b, 1)
		switch a := arr.(type) {
		case *array.Int64:
			b = binary.LittleEndian.AppendUint64(b, uint64(a.Value(r)))
		case *array.Int32:
			b = binary.LittleEndian.AppendUint64(b, uint64(a.Value(r)))
		case *array.Timestamp:
			b = binary.LittleEndian.AppendUint64(b, uint64(a.Value(r)))
		case *array.Float64:
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(a.Value(r)))
		case *array.Float32:
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(a.Value(r)))
		case *array.Boolean:
			if a.Value(r) {
				b = append(b, 1)
			} else {
				b = append(b, 0)
			}
		case *array.String:
			b = binary.AppendUvarint(b, uint64(len(a.Value(r))))
			b = append(b, a.Value(r)...)
		case *array.Binary:
			b = binary.AppendUvarint(b, uint64(len(a.Value(r))))
			b = append(b, a.Value(r)...)
		case *array.List:
			s, e := a.ValueOffsets(r)
			b = binary.AppendUvarint(b, uint64(e-s))
			if f, ok := a.ListValues().(*array.Float32); ok {
				for _, x := range f.Float32Values()[s:e] {
					b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
				}
			} else {
				b = append(b, a.ValueStr(r)...)
			}
		default:
			s := arr.ValueStr(r)
			b = binary.AppendUvarint(b, uint64(len(s)))
			b = append(b, s...)
		}
		if len(b) > 1<<16 {
			t.cols[i].Write(b)
			b = b[:0]
		}
	}
	t.cols[i].Write(b)
	t.buf = b[:0]
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
