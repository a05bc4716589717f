package server

import (
	"crypto/sha256"
	"encoding/binary"
	"testing"

	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/stretchr/testify/require"
)

// TestHashFormat pins the bytes a column's digest covers — per row 0 for
// null, or 1 and the value little-endian — on a sliced array with nulls,
// so that checksums recorded in manifests stay comparable.
func TestHashFormat(t *testing.T) {
	b := array.NewInt64Builder(memory.DefaultAllocator)
	for i := range 10_000 {
		if i%7 == 3 {
			b.AppendNull()
		} else {
			b.Append(int64(i * 31))
		}
	}
	full := b.NewInt64Array()
	arr := array.NewSlice(full, 5, 9_000).(*array.Int64)

	want := sha256.New()
	for r := range arr.Len() {
		if arr.IsNull(r) {
			want.Write([]byte{0})
			continue
		}
		want.Write(binary.LittleEndian.AppendUint64([]byte{1}, uint64(arr.Value(r))))
	}
	h := newTableHasher(1)
	h.add(0, array.NewSlice(arr, 0, 4_000))
	h.add(0, array.NewSlice(arr, 4_000, int64(arr.Len())))
	require.Equal(t, want.Sum(nil), h.cols[0].Sum(nil))
}
