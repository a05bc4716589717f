package storage

import (
	"math"
	"os"
	"testing"
)

// FuzzDecodeVersion: arbitrary bytes never panic the decoder, and whatever
// decodes re-encodes to a value that decodes the same.
func FuzzDecodeVersion(f *testing.F) {
	f.Add(encodeVersion(nil, flagBackfilled, []uint32{0, 1, 2, 3}, []Value{Int64(-7), String("a"), FloatList([]float32{1, 2}), Bool(true)}))
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

// FuzzVersionSuffix: the key suffix round-trips and orders newest first.
func FuzzVersionSuffix(f *testing.F) {
	f.Add(int64(5), int64(6), uint64(7), int64(5), int64(6), uint64(8))
	f.Fuzz(func(t *testing.T, e1, a1 int64, s1 uint64, e2, a2 int64, s2 uint64) {
		s1, s2 = s1>>1, s2>>1 // sequence numbers fit in int64
		k1, k2 := appendVersionSuffix(nil, e1, a1, s1), appendVersionSuffix(nil, e2, a2, s2)
		if e, a, s := versionSuffix(k1); e != e1 || a != a1 || s != s1 {
			t.Fatalf("round trip: (%d,%d,%d) became (%d,%d,%d)", e1, a1, s1, e, a, s)
		}
		newer := e1 > e2 || (e1 == e2 && (a1 > a2 || (a1 == a2 && s1 > s2)))
		if newer != (string(k1) < string(k2)) && !(e1 == e2 && a1 == a2 && s1 == s2) {
			t.Fatalf("order of (%d,%d,%d) and (%d,%d,%d) is wrong", e1, a1, s1, e2, a2, s2)
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
