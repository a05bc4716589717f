package server

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
	"github.com/timefence/timefence/internal/grpcbuf"
	"github.com/timefence/timefence/storage"
)

// The online response encoder writes the same bytes as proto.Marshal, for
// responses of every value type, with and without rows, nulls, negative and
// extreme values, empty strings and lists, columns sharing their statuses
// and event times or not, and every optional field set or not.
func TestOnlineWireMatchesProtobuf(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for iter := range 400 {
		resp := randomOnlineResponse(rng, iter, []int{0, 1, 3, 100}[iter%4])
		want, err := proto.Marshal(resp)
		require.NoError(t, err)
		w, ok := planOnline(resp)
		require.True(t, ok)
		require.Equal(t, len(want), w.size, "iteration %d: planned size", iter)
		got, err := w.marshal(make([]byte, 0, w.size))
		require.NoError(t, err)
		require.Equal(t, want, got, "iteration %d", iter)
	}
}

// randomOnlineResponse returns a response of n entity rows and one to six
// columns of random types, as readColumns makes them: the columns of one
// view share their statuses and event times, and a new view starts at some
// columns. Optional fields are set or not at random.
func randomOnlineResponse(rng *rand.Rand, iter, n int) *timefencev1.GetOnlineFeaturesResponse {
	var types []storage.Type
	for t := storage.TypeInt64; t.Valid(); t++ {
		types = append(types, t)
	}
	resp := &timefencev1.GetOnlineFeaturesResponse{}
	var statuses []timefencev1.FeatureStatus
	var times []int64
	for c := range 1 + rng.IntN(6) {
		if c == 0 || rng.IntN(3) == 0 {
			statuses, times = make([]timefencev1.FeatureStatus, n), make([]int64, n)
			for i := range n {
				r := randomResult(rng, storage.TypeInt64)
				statuses[i], times[i] = statusToProto[r.Status], r.EventTime
			}
		}
		st := types[rng.IntN(len(types))]
		col := newOnlineColumn(st, statuses, times)
		for i := range n {
			r := randomResult(rng, st)
			if statuses[i] == timefencev1.FeatureStatus_FEATURE_STATUS_PRESENT && !r.Values[0].IsNull() {
				col.value(i, r.Values[0])
			} else {
				col.col.Nulls[i] = true
			}
		}
		resp.Features = append(resp.Features, fmt.Sprintf("view_%d:f%d_é", iter, c))
		resp.Columns = append(resp.Columns, col.col)
	}
	if rng.IntN(4) > 0 {
		resp.ReadTime = fromNanos(rng.Int64N(math.MaxInt64) - math.MaxInt64/2)
	}
	if rng.IntN(3) > 0 {
		resp.Watermark = rng.Int64()
	}
	if rng.IntN(2) > 0 {
		resp.RequestId = fmt.Sprint("req-", iter)
	}
	return resp
}

// A column without values, an empty response and a negative type or status
// (never sent, but valid protobuf) encode as protobuf does too.
func TestOnlineWireEdges(t *testing.T) {
	st, t1, t2 := []timefencev1.FeatureStatus{1, 2, 3}, []int64{-1, 1 << 60, 0}, []int64{5, 6, 7}
	for name, resp := range map[string]*timefencev1.GetOnlineFeaturesResponse{
		"shared statuses, own times": {Columns: []*timefencev1.FeatureColumn{
			{Statuses: st, EventTimeUnixNanos: t1}, {Statuses: st, EventTimeUnixNanos: t2}, {Statuses: st, EventTimeUnixNanos: t1}}},
		"shared prefix":     {Columns: []*timefencev1.FeatureColumn{{EventTimeUnixNanos: t1}, {EventTimeUnixNanos: t1[:2]}}},
		"shared, then none": {Columns: []*timefencev1.FeatureColumn{{Statuses: st}, {Statuses: st}, {}, {Statuses: st}}},
		"empty":             {},
		"no values":         {Columns: []*timefencev1.FeatureColumn{{Type: timefencev1.ValueType_VALUE_TYPE_DOUBLE, Statuses: []timefencev1.FeatureStatus{1}}}},
		"nil value slice":   {Columns: []*timefencev1.FeatureColumn{{Values: &timefencev1.FeatureColumn_Int64Values{}}}},
		"negative enums":    {Columns: []*timefencev1.FeatureColumn{{Type: -3, Statuses: []timefencev1.FeatureStatus{-1, 2}}}},
		"zero time":         {ReadTime: &timestamppb.Timestamp{}},
		"nil list":          {Columns: []*timefencev1.FeatureColumn{{Values: &timefencev1.FeatureColumn_FloatListValues{}}}},
	} {
		want, err := proto.Marshal(resp)
		require.NoError(t, err, name)
		w, ok := planOnline(resp)
		require.True(t, ok, name)
		got, err := w.marshal(nil)
		require.NoError(t, err, name)
		require.Equal(t, len(want), w.size, name)
		require.True(t, bytes.Equal(want, got), "%s: %x, want %x", name, got, want)
	}
}

// A string that is not valid UTF-8 is left to protobuf, which refuses it.
func TestOnlineWireLeavesInvalidUTF8ToProtobuf(t *testing.T) {
	bad := string([]byte{0xff, 'a'})
	for name, resp := range map[string]*timefencev1.GetOnlineFeaturesResponse{
		"feature":    {Features: []string{bad}},
		"request id": {RequestId: bad},
		"value":      {Columns: []*timefencev1.FeatureColumn{{Values: &timefencev1.FeatureColumn_StringValues{StringValues: &timefencev1.StringValues{Values: []string{"ok", bad}}}}}},
	} {
		_, ok := planOnline(resp)
		require.False(t, ok, name)
		_, err := serverCodec{grpcbuf.NewCodec()}.Marshal(resp)
		require.Error(t, err, name)
	}
}

// randomResult is a lookup's result with one value of type t: present,
// null, stale or not found, with extreme numbers and empty or odd strings
// and lists.
func randomResult(rng *rand.Rand, t storage.Type) storage.Result {
	r := storage.Result{Status: storage.Status(rng.IntN(3)), Values: make([]storage.Value, 1)}
	if r.Status != storage.NotFound || rng.IntN(2) == 0 {
		r.EventTime = []int64{0, -1, 1, math.MinInt64, math.MaxInt64, rng.Int64()}[rng.IntN(6)]
	}
	if r.Status != storage.Present || rng.IntN(5) == 0 {
		return r
	}
	ints := []int64{0, -1, 1, 127, 128, math.MinInt32, math.MaxInt32, math.MinInt64, math.MaxInt64, rng.Int64()}
	floats := []float64{0, math.Copysign(0, -1), 1.5, -2.25, math.Inf(1), math.NaN(), math.MaxFloat64, math.SmallestNonzeroFloat64}
	strs := []string{"", "a", "é中\u0000", `{"k": [1, 2]}`, string(make([]byte, 300))}
	n := rng.IntN(4)
	pick := func() int64 { return ints[rng.IntN(len(ints))] }
	fl := func() float64 { return floats[rng.IntN(len(floats))] }
	str := func() string { return strs[rng.IntN(len(strs))] }
	var v storage.Value
	switch t {
	case storage.TypeInt64:
		v = storage.Int64(pick())
	case storage.TypeTimestamp:
		v = storage.Timestamp(pick())
	case storage.TypeInt32:
		v = storage.Int32(int32(pick()))
	case storage.TypeFloat64:
		v = storage.Float64(fl())
	case storage.TypeFloat32:
		v = storage.Float32(float32(fl()))
	case storage.TypeString:
		v = storage.String(str())
	case storage.TypeJSON:
		v = storage.JSON(str())
	case storage.TypeMap:
		v = storage.Map(str())
	case storage.TypeBool:
		v = storage.Bool(rng.IntN(2) == 0)
	case storage.TypeBytes:
		v = storage.Bytes([]byte(str()))
	case storage.TypeFloatList:
		v = storage.FloatList(listOf(n, func() float32 { return float32(fl()) }))
	case storage.TypeInt32List:
		v = storage.Int32List(listOf(n, func() int32 { return int32(pick()) }))
	case storage.TypeInt64List:
		v = storage.Int64List(listOf(n, pick))
	case storage.TypeTimestampList:
		v = storage.TimestampList(listOf(n, pick))
	case storage.TypeFloat64List:
		v = storage.Float64List(listOf(n, fl))
	case storage.TypeStringList:
		v = storage.StringList(listOf(n, str))
	case storage.TypeBoolList:
		v = storage.BoolList(listOf(n, func() bool { return rng.IntN(2) == 0 }))
	case storage.TypeBytesList:
		v = storage.BytesList(listOf(n, func() []byte { return []byte(str()) }))
	default:
		panic(fmt.Sprintf("no random value of type %s", t))
	}
	r.Values[0] = v
	return r
}

func listOf[T any](n int, f func() T) []T {
	out := make([]T, n)
	for i := range out {
		out[i] = f()
	}
	return out
}

// Buffers come in powers of two from 4 KiB, at the length asked; beyond the
// last tier they are allocated and never pooled.
func TestWireBuffers(t *testing.T) {
	var p bufferPool
	for _, size := range []int{0, 1, 4096, 4097, 100_000, 8 << 20} {
		b := p.Get(size)
		require.Len(t, *b, size)
		require.Equal(t, 4096<<p.tier(size), cap(*b), "size %d", size)
		p.Put(b)
	}
	huge := p.Get(8<<20 + 1)
	require.Len(t, *huge, 8<<20+1)
	require.Equal(t, -1, p.tier(cap(*huge)))
	p.Put(huge) // dropped
	odd := make([]byte, 5000)
	p.Put(&odd) // not a tier's size: dropped
	require.Equal(t, 8192, cap(*p.Get(5000)))
}
