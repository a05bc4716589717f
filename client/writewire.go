package client

import (
	"encoding/json"
	"fmt"
	"math"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/timefence/timefence/internal/wire"
)

// Building a WriteBatchRequest message by message allocates every row,
// value and oneof wrapper, and protobuf's generic encoder then walks them
// through reflection: most of a small write's cost on the client. Write
// encodes its rows straight to the bytes proto.Marshal writes for that
// message instead (writewire_test.go checks this for every value type), and
// sends them as they are (grpcbuf.Encoded).

// encodeWriteBatch returns the encoded WriteBatchRequest of rows; errors
// name the row and value, as Write's.
func encodeWriteBatch(view string, o *op, rows []Row) ([]byte, error) {
	switch {
	case !utf8.ValidString(o.batchID):
		return nil, fmt.Errorf("%w: batch id: not valid UTF-8", ErrInvalidArgument)
	case !utf8.ValidString(view):
		return nil, fmt.Errorf("%w: feature view: not valid UTF-8", ErrInvalidArgument)
	}
	for i, f := range o.features {
		if !utf8.ValidString(f) {
			return nil, fmt.Errorf("%w: feature %d: name is not valid UTF-8", ErrInvalidArgument, i)
		}
	}
	b := make([]byte, 0, 64+len(rows)*(24+8*rowWidth(rows)))
	if o.batchID != "" {
		b = appendString(b, wire.BatchID, o.batchID)
	}
	if view != "" {
		b = appendString(b, wire.FeatureView, view)
	}
	for _, f := range o.features {
		b = appendString(b, wire.FeatureNames, f)
	}
	var row []byte // one row's fields, before its length is known
	for i, r := range rows {
		row = row[:0]
		var err error
		for j, k := range r.Key {
			if row, err = appendValue(row, wire.RowJoinKeys, k); err != nil {
				return nil, fmt.Errorf("row %d: key %d: %w", i, j, err)
			}
		}
		if !r.EventTime.IsZero() {
			row = appendTime(row, wire.RowEventTime, r.EventTime)
		}
		for j, x := range r.Values {
			if row, err = appendValue(row, wire.RowValues, x); err != nil {
				return nil, fmt.Errorf("row %d: value %d: %w", i, j, err)
			}
		}
		if r.Delete {
			row = protowire.AppendVarint(protowire.AppendTag(row, wire.RowDelete, protowire.VarintType), 1)
		}
		if !r.AvailableAt.IsZero() {
			row = appendTime(row, wire.RowAvailableAt, r.AvailableAt)
		}
		b = protowire.AppendBytes(protowire.AppendTag(b, wire.Rows, protowire.BytesType), row)
	}
	if o.backfill {
		b = protowire.AppendVarint(protowire.AppendTag(b, wire.Backfill, protowire.VarintType), 1)
	}
	return b, nil
}

// rowWidth is the number of keys and values of the first row, for a guess
// at the size of the request.
func rowWidth(rows []Row) int {
	if len(rows) == 0 {
		return 0
	}
	return len(rows[0].Key) + len(rows[0].Values)
}

func appendString(b []byte, num protowire.Number, s string) []byte {
	return protowire.AppendString(protowire.AppendTag(b, num, protowire.BytesType), s)
}

// appendTime appends a Timestamp field, as timestamppb.New(t) encodes.
func appendTime(b []byte, num protowire.Number, t time.Time) []byte {
	secs, nanos := t.Unix(), int32(t.Nanosecond())
	n := 0
	if secs != 0 {
		n += 1 + protowire.SizeVarint(uint64(secs))
	}
	if nanos != 0 {
		n += 1 + protowire.SizeVarint(uint64(nanos))
	}
	b = protowire.AppendVarint(protowire.AppendTag(b, num, protowire.BytesType), uint64(n))
	if secs != 0 {
		b = protowire.AppendVarint(protowire.AppendTag(b, wire.Seconds, protowire.VarintType), uint64(secs))
	}
	if nanos != 0 {
		b = protowire.AppendVarint(protowire.AppendTag(b, wire.Nanos, protowire.VarintType), uint64(nanos))
	}
	return b
}

// appendValue appends field num holding v as a Value, as toValue builds it.
func appendValue(b []byte, num protowire.Number, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return protowire.AppendVarint(protowire.AppendTag(b, num, protowire.BytesType), 0), nil
	case int:
		return appendVarintValue(b, num, wire.Int64Value, uint64(x)), nil
	case int64:
		return appendVarintValue(b, num, wire.Int64Value, uint64(x)), nil
	case int32:
		return appendVarintValue(b, num, wire.Int32Value, uint64(int64(x))), nil
	case bool:
		return appendVarintValue(b, num, wire.BoolValue, protowire.EncodeBool(x)), nil
	case float64:
		b = protowire.AppendVarint(protowire.AppendTag(b, num, protowire.BytesType), 9)
		return protowire.AppendFixed64(protowire.AppendTag(b, wire.DoubleValue, protowire.Fixed64Type), math.Float64bits(x)), nil
	case float32:
		b = protowire.AppendVarint(protowire.AppendTag(b, num, protowire.BytesType), 5)
		return protowire.AppendFixed32(protowire.AppendTag(b, wire.FloatValue, protowire.Fixed32Type), math.Float32bits(x)), nil
	case time.Time:
		ns, err := unixNanos(x)
		if err != nil {
			return b, err
		}
		return appendVarintValue(b, num, wire.TimestampValue, uint64(ns)), nil
	case string:
		return appendTextValue(b, num, wire.StringValue, x)
	case []byte:
		return appendBytesValue(b, num, wire.BytesValue, x), nil
	case JSON:
		return appendTextValue(b, num, wire.JSONValue, string(x))
	case json.RawMessage:
		return appendTextValue(b, num, wire.JSONValue, string(x))
	case Map:
		return appendTextValue(b, num, wire.MapValue, string(x))
	}
	// Lists, maps and *timefencev1.Value: as protobuf encodes toValue's.
	m, err := toValue(v)
	if err != nil {
		return b, err
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(proto.Size(m)))
	return proto.MarshalOptions{UseCachedSize: true}.MarshalAppend(b, m)
}

func appendVarintValue(b []byte, num, field protowire.Number, x uint64) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(1+protowire.SizeVarint(x)))
	return protowire.AppendVarint(protowire.AppendTag(b, field, protowire.VarintType), x)
}

func appendBytesValue(b []byte, num, field protowire.Number, x []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(1+protowire.SizeBytes(len(x))))
	return protowire.AppendBytes(protowire.AppendTag(b, field, protowire.BytesType), x)
}

// appendTextValue appends a string Value; protobuf refuses a string that is
// not valid UTF-8.
func appendTextValue(b []byte, num, field protowire.Number, s string) ([]byte, error) {
	if !utf8.ValidString(s) {
		return b, fmt.Errorf("%w: string is not valid UTF-8", ErrInvalidArgument)
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(1+protowire.SizeBytes(len(s))))
	return protowire.AppendString(protowire.AppendTag(b, field, protowire.BytesType), s), nil
}
