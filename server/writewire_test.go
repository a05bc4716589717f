package server

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
	"github.com/timefence/timefence/internal/wire"
)

// requireSameRequest fails unless the write decoder takes data and builds
// the message proto.Unmarshal builds from it.
func requireSameRequest(t *testing.T, data []byte, msg string) {
	t.Helper()
	var want, got timefencev1.WriteBatchRequest
	require.NoError(t, proto.Unmarshal(data, &want), msg)
	require.True(t, decodeWriteBatch(data, &got), "%s: not taken", msg)
	require.True(t, proto.Equal(&want, &got), "%s:\n got %v\nwant %v", msg, &got, &want)
	// Byte for byte, NaNs and the sign of zero included.
	det := proto.MarshalOptions{Deterministic: true}
	wb, err := det.Marshal(&want)
	require.NoError(t, err)
	gb, err := det.Marshal(&got)
	require.NoError(t, err)
	require.Equal(t, wb, gb, msg)
}

// Requests as protobuf encoders write them, of every scalar value kind,
// nulls, deletes, backfills, extreme and negative values, and empty and
// non-ASCII strings, decode as proto.Unmarshal decodes them.
func TestWriteWireMatchesProtobuf(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	ints := []int64{0, 1, -1, math.MaxInt64, math.MinInt64, 1 << 40}
	strs := []string{"", "a", "é€😀", "line\nbreak"}
	value := func() *timefencev1.Value {
		switch rng.IntN(12) {
		case 0:
			return &timefencev1.Value{}
		case 1:
			return &timefencev1.Value{Kind: &timefencev1.Value_Int64Value{Int64Value: ints[rng.IntN(len(ints))]}}
		case 2:
			d := []float64{0, math.Copysign(0, -1), math.NaN(), math.Inf(-1), 1.5, rng.NormFloat64()}
			return &timefencev1.Value{Kind: &timefencev1.Value_DoubleValue{DoubleValue: d[rng.IntN(len(d))]}}
		case 3:
			return &timefencev1.Value{Kind: &timefencev1.Value_FloatValue{FloatValue: float32(rng.NormFloat64())}}
		case 4:
			return &timefencev1.Value{Kind: &timefencev1.Value_StringValue{StringValue: strs[rng.IntN(len(strs))]}}
		case 5:
			return &timefencev1.Value{Kind: &timefencev1.Value_BoolValue{BoolValue: rng.IntN(2) == 0}}
		case 6:
			return &timefencev1.Value{Kind: &timefencev1.Value_BytesValue{BytesValue: []byte(strs[rng.IntN(len(strs))])}}
		case 7:
			return &timefencev1.Value{Kind: &timefencev1.Value_Int32Value{Int32Value: int32(ints[rng.IntN(len(ints))])}}
		case 8:
			return &timefencev1.Value{Kind: &timefencev1.Value_TimestampValue{TimestampValue: ints[rng.IntN(len(ints))]}}
		case 9:
			return &timefencev1.Value{Kind: &timefencev1.Value_JsonValue{JsonValue: `{"a": [1]}`}}
		case 10:
			return &timefencev1.Value{Kind: &timefencev1.Value_MapValue{MapValue: `{"k": "é"}`}}
		}
		return &timefencev1.Value{Kind: &timefencev1.Value_Int64Value{Int64Value: rng.Int64()}}
	}
	values := func(n int) []*timefencev1.Value {
		var vs []*timefencev1.Value
		for range n {
			vs = append(vs, value())
		}
		return vs
	}
	for iter := range 300 {
		req := &timefencev1.WriteBatchRequest{FeatureView: fmt.Sprint("view_é", iter), Backfill: rng.IntN(3) == 0}
		if rng.IntN(2) == 0 {
			req.BatchId = fmt.Sprint("batch-", iter)
		}
		for range rng.IntN(4) {
			req.FeatureNames = append(req.FeatureNames, strs[rng.IntN(len(strs))])
		}
		for range []int{0, 1, 7, 100, 2000}[iter%5] {
			row := &timefencev1.WriteRow{JoinKeys: values(rng.IntN(3)), Values: values(rng.IntN(6)), Delete: rng.IntN(10) == 0}
			if rng.IntN(8) > 0 {
				row.EventTime = timestamppb.New(timestamppb.Now().AsTime().Add(-time.Duration(rng.Int64N(1 << 50))))
			}
			switch rng.IntN(4) {
			case 0:
				row.AvailableAt = &timestamppb.Timestamp{Seconds: -rng.Int64N(1 << 40), Nanos: -1}
			case 1:
				row.AvailableAt = &timestamppb.Timestamp{}
			}
			req.Rows = append(req.Rows, row)
		}
		data, err := proto.Marshal(req)
		require.NoError(t, err)
		requireSameRequest(t, data, fmt.Sprint("iteration ", iter))
	}
}

// Fields repeated where the last one wins (a scalar, a time's seconds) and
// an empty message decode as protobuf decodes them.
func TestWriteWireRepeatedScalars(t *testing.T) {
	var b []byte
	b = protowire.AppendTag(b, wire.FeatureView, protowire.BytesType)
	b = protowire.AppendString(b, "first")
	b = protowire.AppendTag(b, wire.Backfill, protowire.VarintType)
	b = protowire.AppendVarint(b, 7)
	b = protowire.AppendTag(b, wire.FeatureView, protowire.BytesType)
	b = protowire.AppendString(b, "second")
	var ts []byte
	ts = protowire.AppendTag(ts, wire.Seconds, protowire.VarintType)
	ts = protowire.AppendVarint(ts, 5)
	ts = protowire.AppendTag(ts, wire.Seconds, protowire.VarintType)
	ts = protowire.AppendVarint(ts, uint64(1<<40))
	ts = protowire.AppendTag(ts, wire.Nanos, protowire.VarintType)
	ts = protowire.AppendVarint(ts, math.MaxUint64) // an int32 of -1
	var row []byte
	row = protowire.AppendTag(row, wire.RowEventTime, protowire.BytesType)
	row = protowire.AppendBytes(row, ts)
	row = protowire.AppendTag(row, wire.RowDelete, protowire.VarintType)
	row = protowire.AppendVarint(row, 0)
	b = protowire.AppendTag(b, wire.Rows, protowire.BytesType)
	b = protowire.AppendBytes(b, row)
	b = protowire.AppendTag(b, wire.Rows, protowire.BytesType)
	b = protowire.AppendBytes(b, nil)
	requireSameRequest(t, b, "repeated scalars")
	requireSameRequest(t, nil, "empty request")
}

// What the decoder does not take, proto.Unmarshal decodes (or refuses)
// instead.
func TestWriteWireLeavesTheRest(t *testing.T) {
	field := func(num protowire.Number, payload []byte) []byte {
		b := protowire.AppendTag(nil, num, protowire.BytesType)
		return protowire.AppendBytes(b, payload)
	}
	varint := func(num protowire.Number, v uint64) []byte {
		return protowire.AppendVarint(protowire.AppendTag(nil, num, protowire.VarintType), v)
	}
	cat := func(parts ...[]byte) []byte {
		var b []byte
		for _, p := range parts {
			b = append(b, p...)
		}
		return b
	}
	int64Value := varint(wire.Int64Value, 3)
	list, err := proto.Marshal(&timefencev1.Value{Kind: &timefencev1.Value_DoubleListValue{DoubleListValue: &timefencev1.DoubleList{Values: []float64{1}}}})
	require.NoError(t, err)
	for name, data := range map[string][]byte{
		"unknown field":             varint(9, 1),
		"unknown field of a row":    field(wire.Rows, varint(9, 1)),
		"unknown field of a time":   field(wire.Rows, field(wire.RowEventTime, varint(3, 1))),
		"list value":                field(wire.Rows, field(wire.RowValues, list)),
		"two fields in a value":     field(wire.Rows, field(wire.RowValues, cat(int64Value, varint(wire.BoolValue, 1)))),
		"keys and values mixed":     field(wire.Rows, cat(field(wire.RowJoinKeys, int64Value), field(wire.RowValues, int64Value), field(wire.RowJoinKeys, int64Value))),
		"event time twice":          field(wire.Rows, cat(field(wire.RowEventTime, nil), field(wire.RowEventTime, nil))),
		"available time twice":      field(wire.Rows, cat(field(wire.RowAvailableAt, nil), field(wire.RowAvailableAt, nil))),
		"wrong wire type":           varint(wire.FeatureView, 1),
		"wrong wire type of values": field(wire.Rows, field(wire.RowValues, protowire.AppendFixed32(protowire.AppendTag(nil, wire.DoubleValue, protowire.Fixed32Type), 1))),
		"invalid UTF-8 view":        field(wire.FeatureView, []byte{0xff}),
		"invalid UTF-8 name":        field(wire.FeatureNames, []byte{'a', 0xc3}),
		"invalid UTF-8 batch id":    field(wire.BatchID, []byte{0xed, 0xa0, 0x80}),
		"invalid UTF-8 string":      field(wire.Rows, field(wire.RowValues, field(wire.StringValue, []byte{0xff}))),
		"invalid UTF-8 JSON":        field(wire.Rows, field(wire.RowJoinKeys, field(wire.JSONValue, []byte{0xff}))),
		"invalid UTF-8 map":         field(wire.Rows, field(wire.RowJoinKeys, field(wire.MapValue, []byte{0xff}))),
		"truncated":                 field(wire.FeatureView, []byte("view"))[:4],
		"truncated varint":          append(protowire.AppendTag(nil, wire.Backfill, protowire.VarintType), 0x80),
		"group":                     protowire.AppendTag(nil, wire.Rows, protowire.StartGroupType),
		"field number zero":         {0x02, 0x00},
	} {
		var req timefencev1.WriteBatchRequest
		require.False(t, decodeWriteBatch(data, &req), name)
	}
}

// FuzzWriteBatch (fuzz_test.go) checks the decoder against proto.Unmarshal
// on arbitrary bytes too.

// The decoder allocates a few slabs, not a few objects a row.
func TestWriteWireAllocations(t *testing.T) {
	req := &timefencev1.WriteBatchRequest{FeatureView: "v", FeatureNames: []string{"a", "b", "c"}}
	for i := range 100 {
		req.Rows = append(req.Rows, &timefencev1.WriteRow{
			JoinKeys:  []*timefencev1.Value{{Kind: &timefencev1.Value_Int64Value{Int64Value: int64(i)}}},
			EventTime: timestamppb.Now(),
			Values: []*timefencev1.Value{{Kind: &timefencev1.Value_Int64Value{Int64Value: 1}},
				{Kind: &timefencev1.Value_DoubleValue{DoubleValue: 1.5}}, {Kind: &timefencev1.Value_DoubleValue{DoubleValue: 2.5}}},
		})
	}
	data, err := proto.Marshal(req)
	require.NoError(t, err)
	allocs := testing.AllocsPerRun(20, func() {
		var got timefencev1.WriteBatchRequest
		if !decodeWriteBatch(data, &got) {
			t.Fatal("not taken")
		}
	})
	var slow int
	slowAllocs := testing.AllocsPerRun(20, func() {
		var got timefencev1.WriteBatchRequest
		require.NoError(t, proto.Unmarshal(data, &got))
		slow = len(got.Rows)
	})
	require.Equal(t, 100, slow)
	require.Less(t, allocs, 60.0, "protobuf: %.0f", slowAllocs)
}
