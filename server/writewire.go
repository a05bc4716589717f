package server

import (
	"math"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/types/known/timestamppb"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
	"github.com/timefence/timefence/internal/wire"
)

// Decoding is most of a small write's cost on the server: protobuf's
// generic decoder allocates every row, value and oneof wrapper on its own,
// through reflection, about 2.5 µs a row of three values. decodeWriteBatch
// decodes a WriteBatchRequest directly, into the same messages
// proto.Unmarshal builds (writewire_test.go and FuzzWriteBatch check this),
// allocated a slab at a time. It takes the messages protobuf encoders write:
// known fields of their declared wire types, a row's keys and values each in
// one stretch, at most one field per value and one event or available time
// per row, values of scalar kinds. Anything else (unknown fields, lists,
// invalid UTF-8, malformed bytes) it leaves to proto.Unmarshal, which keeps
// or refuses it as it always has.

// decodeWriteBatch decodes b into req, a new message, and reports whether
// it could. When it could not, req holds part of b: proto.Unmarshal, which
// resets it, decodes b instead.
func decodeWriteBatch(b []byte, req *timefencev1.WriteBatchRequest) bool {
	var d writeDecoder
	for len(b) > 0 {
		f, ok := nextField(b)
		if !ok {
			return false
		}
		b = f.rest
		switch {
		case f.is(wire.BatchID, protowire.BytesType):
			if req.BatchId, ok = utf8String(f.bytes); !ok {
				return false
			}
		case f.is(wire.FeatureView, protowire.BytesType):
			if req.FeatureView, ok = utf8String(f.bytes); !ok {
				return false
			}
		case f.is(wire.FeatureNames, protowire.BytesType):
			name, ok := utf8String(f.bytes)
			if !ok {
				return false
			}
			req.FeatureNames = append(req.FeatureNames, name)
		case f.is(wire.Rows, protowire.BytesType):
			if !d.row(f.bytes) {
				return false
			}
		case f.is(wire.Backfill, protowire.VarintType):
			req.Backfill = f.varint != 0
		default:
			return false
		}
	}
	req.Rows = d.finish()
	return true
}

// writeDecoder holds the slabs a request's messages are allocated from.
type writeDecoder struct {
	rows  []*timefencev1.WriteRow
	spans []rowSpans
	ptrs  []*timefencev1.Value // every row's keys and values, in order

	rowSlab   slab[timefencev1.WriteRow]
	valueSlab slab[timefencev1.Value]
	timeSlab  slab[timestamppb.Timestamp]
	int64s    slab[timefencev1.Value_Int64Value]
	doubles   slab[timefencev1.Value_DoubleValue]
	floats    slab[timefencev1.Value_FloatValue]
	strs      slab[timefencev1.Value_StringValue]
	bools     slab[timefencev1.Value_BoolValue]
	bytes     slab[timefencev1.Value_BytesValue]
	int32s    slab[timefencev1.Value_Int32Value]
	times     slab[timefencev1.Value_TimestampValue]
	jsons     slab[timefencev1.Value_JsonValue]
	maps      slab[timefencev1.Value_MapValue]
}

// rowSpans locates a row's join keys and values in writeDecoder.ptrs.
type rowSpans struct{ keys, values valueSpan }

type valueSpan struct {
	lo, hi int
	seen   bool
}

// add appends v to ptrs in s, which must be the stretch ptrs ends with.
func (s *valueSpan) add(ptrs []*timefencev1.Value, v *timefencev1.Value) ([]*timefencev1.Value, bool) {
	switch {
	case !s.seen:
		s.lo, s.hi, s.seen = len(ptrs), len(ptrs), true
	case s.hi != len(ptrs):
		return ptrs, false // keys and values interleaved
	}
	s.hi++
	return append(ptrs, v), true
}

func (s valueSpan) of(ptrs []*timefencev1.Value) []*timefencev1.Value {
	if s.hi == s.lo {
		return nil
	}
	return ptrs[s.lo:s.hi:s.hi]
}

// finish gives every row its keys and values, now that ptrs has stopped
// moving.
func (d *writeDecoder) finish() []*timefencev1.WriteRow {
	for i, r := range d.rows {
		r.JoinKeys, r.Values = d.spans[i].keys.of(d.ptrs), d.spans[i].values.of(d.ptrs)
	}
	return d.rows
}

func (d *writeDecoder) row(b []byte) bool {
	r := d.rowSlab.new()
	var sp rowSpans
	for len(b) > 0 {
		f, ok := nextField(b)
		if !ok {
			return false
		}
		b = f.rest
		switch {
		case f.is(wire.RowJoinKeys, protowire.BytesType), f.is(wire.RowValues, protowire.BytesType):
			v, ok := d.value(f.bytes)
			if !ok {
				return false
			}
			s := &sp.keys
			if f.num == wire.RowValues {
				s = &sp.values
			}
			if d.ptrs, ok = s.add(d.ptrs, v); !ok {
				return false
			}
		case f.is(wire.RowEventTime, protowire.BytesType):
			if r.EventTime != nil {
				return false // a repeated message field merges
			}
			if r.EventTime, ok = d.timestamp(f.bytes); !ok {
				return false
			}
		case f.is(wire.RowAvailableAt, protowire.BytesType):
			if r.AvailableAt != nil {
				return false
			}
			if r.AvailableAt, ok = d.timestamp(f.bytes); !ok {
				return false
			}
		case f.is(wire.RowDelete, protowire.VarintType):
			r.Delete = f.varint != 0
		default:
			return false
		}
	}
	d.rows = append(d.rows, r)
	d.spans = append(d.spans, sp)
	return true
}

func (d *writeDecoder) timestamp(b []byte) (*timestamppb.Timestamp, bool) {
	t := d.timeSlab.new()
	for len(b) > 0 {
		f, ok := nextField(b)
		if !ok {
			return nil, false
		}
		b = f.rest
		switch {
		case f.is(wire.Seconds, protowire.VarintType):
			t.Seconds = int64(f.varint)
		case f.is(wire.Nanos, protowire.VarintType):
			t.Nanos = int32(f.varint)
		default:
			return nil, false
		}
	}
	return t, true
}

// value decodes a Value of at most one field, of a scalar kind.
func (d *writeDecoder) value(b []byte) (*timefencev1.Value, bool) {
	v := d.valueSlab.new()
	if len(b) == 0 {
		return v, true
	}
	f, ok := nextField(b)
	if !ok || len(f.rest) > 0 {
		return nil, false
	}
	switch {
	case f.is(wire.Int64Value, protowire.VarintType):
		w := d.int64s.new()
		w.Int64Value = int64(f.varint)
		v.Kind = w
	case f.is(wire.DoubleValue, protowire.Fixed64Type):
		w := d.doubles.new()
		w.DoubleValue = math.Float64frombits(f.varint)
		v.Kind = w
	case f.is(wire.FloatValue, protowire.Fixed32Type):
		w := d.floats.new()
		w.FloatValue = math.Float32frombits(uint32(f.varint))
		v.Kind = w
	case f.is(wire.StringValue, protowire.BytesType):
		w := d.strs.new()
		w.StringValue, ok = utf8String(f.bytes)
		v.Kind = w
	case f.is(wire.BoolValue, protowire.VarintType):
		w := d.bools.new()
		w.BoolValue = f.varint != 0
		v.Kind = w
	case f.is(wire.BytesValue, protowire.BytesType):
		w := d.bytes.new()
		w.BytesValue = append([]byte{}, f.bytes...)
		v.Kind = w
	case f.is(wire.Int32Value, protowire.VarintType):
		w := d.int32s.new()
		w.Int32Value = int32(f.varint)
		v.Kind = w
	case f.is(wire.TimestampValue, protowire.VarintType):
		w := d.times.new()
		w.TimestampValue = int64(f.varint)
		v.Kind = w
	case f.is(wire.JSONValue, protowire.BytesType):
		w := d.jsons.new()
		w.JsonValue, ok = utf8String(f.bytes)
		v.Kind = w
	case f.is(wire.MapValue, protowire.BytesType):
		w := d.maps.new()
		w.MapValue, ok = utf8String(f.bytes)
		v.Kind = w
	default:
		return nil, false
	}
	return v, ok
}

// wireField is one decoded field: a varint or fixed value in varint, a
// length-delimited one in bytes; rest is what follows it.
type wireField struct {
	num    protowire.Number
	typ    protowire.Type
	varint uint64
	bytes  []byte
	rest   []byte
}

func (f wireField) is(num protowire.Number, typ protowire.Type) bool {
	return f.num == num && f.typ == typ
}

// nextField decodes the field at the start of b; groups are not taken.
func nextField(b []byte) (wireField, bool) {
	num, typ, n := protowire.ConsumeTag(b)
	if n < 0 {
		return wireField{}, false
	}
	f := wireField{num: num, typ: typ}
	b = b[n:]
	switch typ {
	case protowire.VarintType:
		f.varint, n = protowire.ConsumeVarint(b)
	case protowire.Fixed64Type:
		f.varint, n = protowire.ConsumeFixed64(b)
	case protowire.Fixed32Type:
		var v uint32
		v, n = protowire.ConsumeFixed32(b)
		f.varint = uint64(v)
	case protowire.BytesType:
		f.bytes, n = protowire.ConsumeBytes(b)
	default:
		return wireField{}, false
	}
	if n < 0 {
		return wireField{}, false
	}
	f.rest = b[n:]
	return f, true
}

// utf8String copies b into a string when it is valid UTF-8, as proto3
// requires of a string field.
func utf8String(b []byte) (string, bool) {
	if !utf8.Valid(b) {
		return "", false
	}
	return string(b), true
}

// slab allocates values of T in runs that grow from 8 to 1024, so a
// request of n rows costs a few allocations, not a few per row.
type slab[T any] struct {
	free []T
	size int
}

func (s *slab[T]) new() *T {
	if len(s.free) == 0 {
		s.size = min(max(2*s.size, 8), 1024)
		s.free = make([]T, s.size)
	}
	p := &s.free[0]
	s.free = s.free[1:]
	return p
}
