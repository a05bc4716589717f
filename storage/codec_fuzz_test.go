package storage

import (
	"cmp"
	"encoding/binary"
	"hash/crc32"
	"math"
	"os"
	"testing"
)

// FuzzDecodeVersion: arbitrary bytes never panic the decoder, and whatever
// decodes re-encodes to a value that decodes the same.
func FuzzDecodeVersion(f *testing.F) {
	f.Add(encodeVersion(nil, flagBackfilled, []uint32{0, 1, 2, 3}, []Value{Int64(-7), String("a"), FloatList([]float32{1, 2}), Bool(true)}))
	f.Add(encodeVersion(nil, 0, []uint32{0, 1, 2, 3, 4, 5, 6, 7}, []Value{Int32(-1), Timestamp(1), JSON(`[1]`), Map(`{"a":1}`),
		Int64List([]int64{1}), StringList([]string{"a", ""}), BytesList([][]byte{{0}}), BoolList([]bool{true})}))
	f.Add([]byte{0, 0, 1, 5})
	f.Add([]byte{flagDeleted})
	f.Fuzz(func(t *testing.T, b []byte) {
		pos := []int{0, 1, 2, 3, 4, 5, 6, 7}
		out := make([]Value, len(pos))
		flags, err := decodeVersion(b, pos, out)
		if err != nil {
			return
		}
		ids := make([]uint32, len(out))
		for i := range ids {
			ids[i] = uint32(i)
		}
		again := make([]Value, len(pos))
		flags2, err := decodeVersion(encodeVersion(nil, flags, ids, out), pos, again)
		if err != nil || flags2 != flags {
			t.Fatalf("re-encoded value does not decode: %v", err)
		}
		for i := range out {
			if !out[i].Equal(again[i]) {
				t.Fatalf("feature %d: %v became %v", i, out[i], again[i])
			}
		}
	})
}

// FuzzEntityKey: encoding is a bijection on valid keys and order-free
// decoding never panics.
func FuzzEntityKey(f *testing.F) {
	keys := []JoinKey{{"id", TypeInt64}, {"region", TypeString}}
	f.Add(int64(42), "eu", []byte{1, 2, 3})
	f.Add(int64(math.MinInt64), "", []byte{})
	f.Fuzz(func(t *testing.T, id int64, region string, junk []byte) {
		enc, err := encodeEntityKey(nil, keys, []Value{Int64(id), String(region)})
		if err != nil {
			t.Fatal(err)
		}
		dec, err := decodeKeyValues(enc, keys)
		if err != nil || dec[0].Int != id || dec[1].Str != region {
			t.Fatalf("round trip of (%d, %q) gave %v, %v", id, region, dec, err)
		}
		_, _ = decodeKeyValues(junk, keys)
	})
}

// FuzzChunk: no bytes make the chunk decoder panic, and rows written by
// writeChunks read back as written.
func FuzzChunk(f *testing.F) {
	f.Add([]byte("k"), int64(5), int64(0), []byte{0, 0, 1, 5}, uint64(7), 1<<20)
	f.Add([]byte{}, int64(-1), int64(9), []byte{flagDeleted}, uint64(1), 1)
	f.Add([]byte{}, int64(0), int64(0), append(make([]byte, 8), 0xf9, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 1, 2, 3, 4), uint64(1), 1) // a key length that overflows
	f.Fuzz(func(t *testing.T, key []byte, event, avail int64, value []byte, first uint64, size int) {
		first = first>>1 + 1
		size = 1 + int(uint(size)%(2<<20)) // chunk sizes are positive
		if avail < 0 || len(value) == 0 {
			avail, value = 0, []byte{0}
		}
		rows := []encodedRow{{key: key, event: event, available: avail, value: value}, {key: append(key, 1), event: event - 1, value: []byte{flagDeleted}}}
		var chunks [][2][]byte
		err := writeChunks(3, 77, size, rows, first, func(k, v []byte) error {
			chunks = append(chunks, [2][]byte{k, v})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		i := 0
		for _, c := range chunks {
			view, lo, hi, err := parseChunkKey(c[0])
			if err != nil || view != 3 {
				t.Fatalf("chunk key %x: view %d, %v", c[0], view, err)
			}
			err = decodeChunk(c[1], lo, hi, func(r *chunkRow) error {
				want := rows[i]
				if r.seq != first+uint64(i) || string(r.key) != string(want.key) || r.event != want.event ||
					r.available != cmp.Or(want.available, 77) || string(r.value) != string(want.value) {
					t.Fatalf("row %d read back as %+v", i, r)
				}
				i++
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			// The same bytes, damaged, are refused or read, never a panic.
			bad := append([]byte(nil), c[1]...)
			bad[int(event&0x7fffffff)%len(bad)] ^= byte(avail) | 1
			_ = decodeChunk(bad, lo, hi, func(*chunkRow) error { return nil })
			// Any body with a good checksum is parsed without a panic.
			body := append([]byte{chunkFormat}, value...)
			_ = decodeChunk(binary.LittleEndian.AppendUint32(body, crc32.Checksum(body, crcTable)), lo, hi, func(*chunkRow) error { return nil })
		}
		if i != len(rows) {
			t.Fatalf("%d rows read back, want %d", i, len(rows))
		}
	})
}

// FuzzRunFile: no bytes make the run file decoder panic, and a run it
// accepts can be read whole: every key's winner and every value.
func FuzzRunFile(f *testing.F) {
	b := newRunBuilder([]Feature{{ID: 0, Type: TypeInt64}, {ID: 1, Type: TypeString}, {ID: 2, Type: TypeFloatList}}, 3)
	b.add([]byte("a"), 20, 20, 3, 0, []Value{Int64(1), String("x"), FloatList([]float32{1})})
	b.add([]byte("a"), 10, 15, 1, flagBackfilled, []Value{{}, String(""), {}})
	b.add([]byte("bb"), 10, 10, 2, flagDeleted, []Value{{}, {}, {}})
	dir := f.TempDir()
	path, err := writeRunFile(dir, 1, b.finish(0, 3))
	if err != nil {
		f.Fatal(err)
	}
	valid, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add(valid[:len(valid)/2])
	f.Add(valid[len(valid)-runTrailer:])
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := decodeRunFile(data, 1)
		if err != nil {
			return
		}
		for k := range r.keys() {
			r.winner(k, At(math.MaxInt64), math.MaxUint64, math.MaxInt64)
			for i := int(r.start[k]); i < int(r.start[k+1]); i++ {
				for c := range r.cols {
					r.cols[c].value(i)
				}
			}
		}
	})
}
