package storage

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Key prefixes. Every key of the store starts with one of these.
const (
	prefixChunk      = 'c' // c | view id u32 | first seq u64 | last seq u64: versions (chunk.go)
	prefixRegistry   = 'r' // r/<kind>/<name>[/<version>]
	prefixMeta       = 'm' // m/<name>
	prefixBatch      = 'b' // b/<batch id>
	prefixDataset    = 'd' // d/<dataset id>: a manifest
	prefixServingLog = 'l' // l | read time u64 | request id: a logged lookup (servinglog.go)
	prefixValidation = 'e' // e | commit time u64 | first seq u64 | index u16: a validation event (expect.go)

	// prefixVersionV0 held one version per key in stores of the first
	// development releases; Open refuses such a store (see checkFormat).
	prefixVersionV0 = 'v'
)

// appendKeyValue appends the order-preserving, self-delimiting encoding of a
// join key value of type t.
func appendKeyValue(b []byte, t Type, v Value) []byte {
	switch t {
	case TypeInt64:
		var s [8]byte
		binary.BigEndian.PutUint64(s[:], uint64(v.Int)^1<<63)
		return append(b, s[:]...)
	default: // TypeString
		b = binary.AppendUvarint(b, uint64(len(v.Str)))
		return append(b, v.Str...)
	}
}

// decodeKeyValues decodes an entity key encoded with appendKeyValue.
func decodeKeyValues(b []byte, keys []JoinKey) ([]Value, error) {
	out := make([]Value, len(keys))
	for i, k := range keys {
		switch k.Type {
		case TypeInt64:
			if len(b) < 8 {
				return nil, fmt.Errorf("%w: short int64 key", ErrCorrupt)
			}
			out[i] = Int64(int64(binary.BigEndian.Uint64(b) ^ 1<<63))
			b = b[8:]
		default:
			n, w := binary.Uvarint(b)
			if w <= 0 || uint64(len(b)-w) < n {
				return nil, fmt.Errorf("%w: bad string key", ErrCorrupt)
			}
			out[i] = String(string(b[w : w+int(n)]))
			b = b[w+int(n):]
		}
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing key bytes", ErrCorrupt, len(b))
	}
	return out, nil
}

// Version value flags.
const (
	flagDeleted    = 1 << 0
	flagBackfilled = 1 << 1
)

// appendValue appends one non-null feature value: id, type, payload.
func appendValue(b []byte, id uint32, v Value) []byte {
	b = binary.AppendUvarint(b, uint64(id))
	b = append(b, byte(v.Type))
	switch v.Type {
	case TypeInt64, TypeInt32, TypeTimestamp:
		b = binary.AppendVarint(b, v.Int)
	case TypeBool:
		b = append(b, byte(v.Int))
	case TypeFloat64:
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v.Float))
	case TypeFloat32:
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(v.Float)))
	case TypeFloatList: // its item count, then the packed items
		b = binary.AppendUvarint(b, uint64(len(v.Str)/4))
		b = append(b, v.Str...)
	default: // string, bytes, JSON, map, lists: the length, then the bytes
		b = binary.AppendUvarint(b, uint64(len(v.Str)))
		b = append(b, v.Str...)
	}
	return b
}

// encodeVersion encodes a version's value: flags, then the non-null values.
func encodeVersion(b []byte, flags byte, ids []uint32, vals []Value) []byte {
	b = append(b, flags)
	for i, v := range vals {
		if !v.IsNull() {
			b = appendValue(b, ids[i], v)
		}
	}
	return b
}

// decodeVersion decodes a version's value. For each stored feature whose id
// has pos[id] >= 0, it sets out[pos[id]]; other entries of out are left null.
func decodeVersion(b []byte, pos []int, out []Value) (flags byte, err error) {
	if len(b) == 0 {
		return 0, fmt.Errorf("%w: empty version", ErrCorrupt)
	}
	flags, b = b[0], b[1:]
	for len(b) > 0 {
		id, w := binary.Uvarint(b)
		if w <= 0 || len(b) < w+1 {
			return 0, fmt.Errorf("%w: bad feature id", ErrCorrupt)
		}
		t := Type(b[w])
		b = b[w+1:]
		var v Value
		if v, b, err = decodePayload(t, b); err != nil {
			return 0, err
		}
		if id < uint64(len(pos)) && pos[id] >= 0 {
			out[pos[id]] = v
		}
	}
	return flags, nil
}

var errShortValue = fmt.Errorf("%w: truncated value", ErrCorrupt)

func decodePayload(t Type, b []byte) (Value, []byte, error) {
	short := errShortValue
	switch t {
	case TypeInt64, TypeInt32, TypeTimestamp:
		x, w := binary.Varint(b)
		if w <= 0 {
			return Value{}, nil, short
		}
		return Value{Type: t, Int: x}, b[w:], nil
	case TypeBool:
		if len(b) < 1 {
			return Value{}, nil, short
		}
		return Bool(b[0] != 0), b[1:], nil
	case TypeFloat64:
		if len(b) < 8 {
			return Value{}, nil, short
		}
		return Float64(math.Float64frombits(binary.LittleEndian.Uint64(b))), b[8:], nil
	case TypeFloat32:
		if len(b) < 4 {
			return Value{}, nil, short
		}
		return Float32(math.Float32frombits(binary.LittleEndian.Uint32(b))), b[4:], nil
	case TypeFloatList:
		n, w := binary.Uvarint(b)
		if w <= 0 || uint64(len(b)-w)/4 < n {
			return Value{}, nil, short
		}
		return Value{Type: t, Str: string(b[w : w+4*int(n)])}, b[w+4*int(n):], nil
	}
	if !t.Valid() {
		return Value{}, nil, fmt.Errorf("%w: unknown value type %d", ErrCorrupt, t)
	}
	n, w := binary.Uvarint(b)
	if w <= 0 || uint64(len(b)-w) < n {
		return Value{}, nil, short
	}
	v := Value{Type: t, Str: string(b[w : w+int(n)])}
	if t.IsList() {
		if err := v.checkPacking(); err != nil {
			return Value{}, nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
	}
	return v, b[w+int(n):], nil
}
