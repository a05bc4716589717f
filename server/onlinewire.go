package server

import (
	"math"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
	"github.com/timefence/timefence/internal/wire"
)

// An online response is most of an online lookup's cost after the read
// itself: protobuf's generic encoder spends about 50 ns a value on its
// packed columns. onlineWire encodes a GetOnlineFeaturesResponse directly,
// column by column, to the same bytes as proto.Marshal (onlinewire_test.go
// checks this for every value type). The columns of one view share their
// statuses and event times (readColumns), which are encoded once and copied.
// Columns of lists, which are rare and nested, are encoded by protobuf
// inside the frame written here.

// Field numbers of GetOnlineFeaturesResponse, FeatureColumn and its value
// messages (online_service.proto).
const (
	respFeatures  = 1
	respColumns   = 2
	respReadTime  = 3
	respWatermark = 4
	respRequestID = 5

	colType       = 1
	colStatuses   = 2
	colEventTimes = 3
	colNulls      = 4
	colInt64      = 5
	colDouble     = 6
	colFloat      = 7
	colString     = 8
	colBool       = 9
	colBytes      = 10
	colInt32      = 12

	valuesField = 1 // the repeated field of Int64Values, DoubleValues, ...

)

// onlineWire is a response's encoding plan: the sizes its length prefixes
// need, computed once.
type onlineWire struct {
	resp *timefencev1.GetOnlineFeaturesResponse
	cols []columnWire
	size int
}

// columnWire holds the sizes of one FeatureColumn's fields, without their
// tags and length prefixes.
type columnWire struct {
	statuses, times int // packed payloads; nulls are one byte a row
	// The statuses or event times are the previous column's slice.
	sameStatuses, sameTimes bool
	values                  int // the value message's payload
	valuesNum               protowire.Number
	packed                  int // the packed payload inside the value message; 0 unless packed
	nested                  proto.Message
	size                    int // the column message's payload
}

// planOnline returns the plan of resp, or false when it holds something
// only protobuf's encoder handles as protobuf does (a string that is not
// valid UTF-8, which it refuses) or packed results.
func planOnline(resp *timefencev1.GetOnlineFeaturesResponse) (*onlineWire, bool) {
	if resp.GetPacked() != nil {
		return nil, false // a few long fields: protobuf's encoder is quick at those
	}
	w := &onlineWire{resp: resp, cols: make([]columnWire, len(resp.GetColumns()))}
	for _, f := range resp.GetFeatures() {
		if !utf8.ValidString(f) {
			return nil, false
		}
		w.size += protowire.SizeTag(respFeatures) + protowire.SizeBytes(len(f))
	}
	for i, col := range resp.GetColumns() {
		var prev *timefencev1.FeatureColumn
		var prevWire *columnWire
		if i > 0 {
			prev, prevWire = resp.GetColumns()[i-1], &w.cols[i-1]
		}
		c, ok := planColumn(col, prev, prevWire)
		if !ok {
			return nil, false
		}
		w.cols[i] = c
		w.size += protowire.SizeTag(respColumns) + protowire.SizeBytes(c.size)
	}
	if t := resp.GetReadTime(); t != nil {
		w.size += protowire.SizeTag(respReadTime) + protowire.SizeBytes(timestampSize(t.GetSeconds(), t.GetNanos()))
	}
	if wm := resp.GetWatermark(); wm != 0 {
		w.size += protowire.SizeTag(respWatermark) + protowire.SizeVarint(uint64(wm))
	}
	if id := resp.GetRequestId(); id != "" {
		if !utf8.ValidString(id) {
			return nil, false
		}
		w.size += protowire.SizeTag(respRequestID) + protowire.SizeBytes(len(id))
	}
	return w, true
}

// planColumn plans col, the column after prev, planned as prevWire (both
// nil for the first).
func planColumn(col, prev *timefencev1.FeatureColumn, prevWire *columnWire) (columnWire, bool) {
	var c columnWire
	if t := col.GetType(); t != 0 {
		c.size += protowire.SizeTag(colType) + protowire.SizeVarint(uint64(int64(t)))
	}
	if c.sameStatuses = prev != nil && sameSlice(col.GetStatuses(), prev.GetStatuses()); c.sameStatuses {
		c.statuses = prevWire.statuses
	} else {
		for _, s := range col.GetStatuses() {
			c.statuses += protowire.SizeVarint(uint64(int64(s)))
		}
	}
	if c.sameTimes = prev != nil && sameSlice(col.GetEventTimeUnixNanos(), prev.GetEventTimeUnixNanos()); c.sameTimes {
		c.times = prevWire.times
	} else {
		c.times = varintsSize(col.GetEventTimeUnixNanos())
	}
	c.size += packedSize(colStatuses, c.statuses) + packedSize(colEventTimes, c.times) + packedSize(colNulls, len(col.GetNulls()))
	switch v := col.GetValues().(type) {
	case nil:
		return c, true
	case *timefencev1.FeatureColumn_Int64Values:
		c.valuesNum, c.packed = colInt64, varintsSize(v.Int64Values.GetValues())
	case *timefencev1.FeatureColumn_DoubleValues:
		c.valuesNum, c.packed = colDouble, 8*len(v.DoubleValues.GetValues())
	case *timefencev1.FeatureColumn_FloatValues:
		c.valuesNum, c.packed = colFloat, 4*len(v.FloatValues.GetValues())
	case *timefencev1.FeatureColumn_BoolValues:
		c.valuesNum, c.packed = colBool, len(v.BoolValues.GetValues())
	case *timefencev1.FeatureColumn_Int32Values:
		c.valuesNum = colInt32
		for _, x := range v.Int32Values.GetValues() {
			c.packed += protowire.SizeVarint(uint64(int64(x)))
		}
	case *timefencev1.FeatureColumn_StringValues:
		c.valuesNum = colString
		for _, s := range v.StringValues.GetValues() {
			if !utf8.ValidString(s) {
				return c, false
			}
			c.values += protowire.SizeTag(valuesField) + protowire.SizeBytes(len(s))
		}
	case *timefencev1.FeatureColumn_BytesValues:
		c.valuesNum = colBytes
		for _, s := range v.BytesValues.GetValues() {
			c.values += protowire.SizeTag(valuesField) + protowire.SizeBytes(len(s))
		}
	default: // a column of lists
		c.valuesNum, c.nested = oneofValues(col)
		c.values = proto.Size(c.nested)
	}
	if c.packed > 0 {
		c.values = packedSize(valuesField, c.packed)
	}
	c.size += protowire.SizeTag(c.valuesNum) + protowire.SizeBytes(c.values)
	return c, true
}

// oneofValues returns the field number and message of the value set in
// col's values oneof.
func oneofValues(col *timefencev1.FeatureColumn) (protowire.Number, proto.Message) {
	m := col.ProtoReflect()
	fd := m.WhichOneof(m.Descriptor().Oneofs().ByName("values"))
	return fd.Number(), m.Get(fd).Message().Interface()
}

// marshal returns the response's encoding, appended to b[:0] when b is
// large enough.
func (w *onlineWire) marshal(b []byte) ([]byte, error) {
	b = b[:0]
	r := w.resp
	for _, f := range r.GetFeatures() {
		b = protowire.AppendTag(b, respFeatures, protowire.BytesType)
		b = protowire.AppendString(b, f)
	}
	var statuses, times wireSpan // the last encoded, with their tags
	for i, col := range r.GetColumns() {
		c := &w.cols[i]
		b = protowire.AppendTag(b, respColumns, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(c.size))
		var err error
		if b, err = appendColumn(b, col, c, &statuses, &times); err != nil {
			return nil, err
		}
	}
	if t := r.GetReadTime(); t != nil {
		b = protowire.AppendTag(b, respReadTime, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(timestampSize(t.GetSeconds(), t.GetNanos())))
		if s := t.GetSeconds(); s != 0 {
			b = protowire.AppendTag(b, wire.Seconds, protowire.VarintType)
			b = protowire.AppendVarint(b, uint64(s))
		}
		if n := t.GetNanos(); n != 0 {
			b = protowire.AppendTag(b, wire.Nanos, protowire.VarintType)
			b = protowire.AppendVarint(b, uint64(int64(n)))
		}
	}
	if wm := r.GetWatermark(); wm != 0 {
		b = protowire.AppendTag(b, respWatermark, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(wm))
	}
	if id := r.GetRequestId(); id != "" {
		b = protowire.AppendTag(b, respRequestID, protowire.BytesType)
		b = protowire.AppendString(b, id)
	}
	return b, nil
}

// wireSpan is where in the encoding a field was written.
type wireSpan struct{ from, to int }

// appendColumn appends col. statuses and times are where the last column's
// were written; a column with the same slices copies them from there.
func appendColumn(b []byte, col *timefencev1.FeatureColumn, c *columnWire, statuses, times *wireSpan) ([]byte, error) {
	if t := col.GetType(); t != 0 {
		b = protowire.AppendTag(b, colType, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(int64(t)))
	}
	b = appendShared(b, colStatuses, c.statuses, col.GetStatuses(), c.sameStatuses, statuses,
		func(s timefencev1.FeatureStatus) uint64 { return uint64(int64(s)) })
	b = appendShared(b, colEventTimes, c.times, col.GetEventTimeUnixNanos(), c.sameTimes, times,
		func(t int64) uint64 { return uint64(t) })
	if nulls := col.GetNulls(); len(nulls) > 0 {
		b = appendPackedHeader(b, colNulls, len(nulls))
		b = appendBools(b, nulls)
	}
	if c.valuesNum == 0 {
		return b, nil
	}
	b = protowire.AppendTag(b, c.valuesNum, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(c.values))
	if c.packed > 0 {
		b = appendPackedHeader(b, valuesField, c.packed)
	}
	switch v := col.GetValues().(type) {
	case *timefencev1.FeatureColumn_Int64Values:
		for _, x := range v.Int64Values.GetValues() {
			b = protowire.AppendVarint(b, uint64(x))
		}
	case *timefencev1.FeatureColumn_DoubleValues:
		for _, x := range v.DoubleValues.GetValues() {
			b = protowire.AppendFixed64(b, math.Float64bits(x))
		}
	case *timefencev1.FeatureColumn_FloatValues:
		for _, x := range v.FloatValues.GetValues() {
			b = protowire.AppendFixed32(b, math.Float32bits(x))
		}
	case *timefencev1.FeatureColumn_BoolValues:
		b = appendBools(b, v.BoolValues.GetValues())
	case *timefencev1.FeatureColumn_Int32Values:
		for _, x := range v.Int32Values.GetValues() {
			b = protowire.AppendVarint(b, uint64(int64(x)))
		}
	case *timefencev1.FeatureColumn_StringValues:
		for _, s := range v.StringValues.GetValues() {
			b = protowire.AppendTag(b, valuesField, protowire.BytesType)
			b = protowire.AppendString(b, s)
		}
	case *timefencev1.FeatureColumn_BytesValues:
		for _, s := range v.BytesValues.GetValues() {
			b = protowire.AppendTag(b, valuesField, protowire.BytesType)
			b = protowire.AppendBytes(b, s)
		}
	default:
		return proto.MarshalOptions{UseCachedSize: true}.MarshalAppend(b, c.nested)
	}
	return b, nil
}

// appendShared appends the packed varint field num of vals (payload bytes;
// nothing when 0), or, when same, copies it from where it was last written,
// at *last, which it then sets to where it wrote it.
func appendShared[T any](b []byte, num protowire.Number, payload int, vals []T, same bool, last *wireSpan, varint func(T) uint64) []byte {
	if payload == 0 {
		return b
	}
	from := len(b)
	if same {
		b = append(b, b[last.from:last.to]...)
	} else {
		b = appendPackedHeader(b, num, payload)
		for _, v := range vals {
			b = protowire.AppendVarint(b, varint(v))
		}
	}
	*last = wireSpan{from, len(b)}
	return b
}

// sameSlice reports whether a and b are the same slice: the same length
// and, unless empty, the same first element.
func sameSlice[T any](a, b []T) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

func appendBools(b []byte, v []bool) []byte {
	for _, x := range v {
		if x {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
	}
	return b
}

func appendPackedHeader(b []byte, num protowire.Number, n int) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendVarint(b, uint64(n))
}

// packedSize is the size of a packed field of n payload bytes; protobuf
// omits an empty one.
func packedSize(num protowire.Number, n int) int {
	if n == 0 {
		return 0
	}
	return protowire.SizeTag(num) + protowire.SizeBytes(n)
}

func varintsSize(v []int64) int {
	n := 0
	for _, x := range v {
		n += protowire.SizeVarint(uint64(x))
	}
	return n
}

func timestampSize(seconds int64, nanos int32) int {
	n := 0
	if seconds != 0 {
		n += protowire.SizeTag(wire.Seconds) + protowire.SizeVarint(uint64(seconds))
	}
	if nanos != 0 {
		n += protowire.SizeTag(wire.Nanos) + protowire.SizeVarint(uint64(int64(nanos)))
	}
	return n
}
