package client

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
)

// requestOf builds, message by message, the WriteBatchRequest that
// encodeWriteBatch encodes.
func requestOf(t *testing.T, view string, o *op, rows []Row) *timefencev1.WriteBatchRequest {
	req := &timefencev1.WriteBatchRequest{FeatureView: view, BatchId: o.batchID, FeatureNames: o.features, Backfill: o.backfill}
	for _, r := range rows {
		wr := &timefencev1.WriteRow{EventTime: tsOrNil(r.EventTime), Delete: r.Delete, AvailableAt: tsOrNil(r.AvailableAt)}
		for _, k := range r.Key {
			v, err := toValue(k)
			require.NoError(t, err)
			wr.JoinKeys = append(wr.JoinKeys, v)
		}
		for _, x := range r.Values {
			v, err := toValue(x)
			require.NoError(t, err)
			wr.Values = append(wr.Values, v)
		}
		req.Rows = append(req.Rows, wr)
	}
	return req
}

// Rows of every Go value type Write takes, nulls, deletes, backfills, times
// before 1970 and extreme values encode to the bytes proto.Marshal writes
// for the same request built message by message.
func TestWriteWireMatchesProtobuf(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	times := []time.Time{time.Unix(0, 0), time.Unix(-1, 5), time.Unix(1<<33, 999_999_999), time.Date(1700, 1, 1, 0, 0, 0, 1, time.UTC), time.Now()}
	value := func() any {
		switch rng.IntN(22) {
		case 0:
			return nil
		case 1:
			return rng.IntN(1000) - 500
		case 2:
			return []int32{0, -1, math.MaxInt32, math.MinInt32}[rng.IntN(4)]
		case 3:
			return []int64{0, -1, math.MaxInt64, math.MinInt64}[rng.IntN(4)]
		case 4:
			return []float64{0, math.Copysign(0, -1), math.NaN(), math.Inf(1), rng.NormFloat64()}[rng.IntN(5)]
		case 5:
			return float32(rng.NormFloat64())
		case 6:
			return []string{"", "a", "é€😀"}[rng.IntN(3)]
		case 7:
			return rng.IntN(2) == 0
		case 8:
			return [][]byte{nil, {}, {0, 0xff}}[rng.IntN(3)]
		case 9:
			return times[rng.IntN(len(times))]
		case 10:
			return JSON(`{"a": 1}`)
		case 11:
			return json.RawMessage(`[1, "é"]`)
		case 12:
			return Map(`{"k": "v"}`)
		case 13:
			return map[string]any{"k": 1.5}
		case 14:
			return []float32{1, -2}
		case 15:
			return []int64{}
		case 16:
			return []int{1, 2}
		case 17:
			return []string{"x", ""}
		case 18:
			return []bool{true}
		case 19:
			return []time.Time{times[0], times[2]}
		case 20:
			return &timefencev1.Value{Kind: &timefencev1.Value_Int32Value{Int32Value: -7}}
		}
		return rng.Int64()
	}
	for iter := range 300 {
		o := &op{backfill: rng.IntN(3) == 0}
		if rng.IntN(2) == 0 {
			o.batchID = fmt.Sprint("batch-é-", iter)
		}
		for range rng.IntN(3) {
			o.features = append(o.features, fmt.Sprint("f", rng.IntN(9)))
		}
		var rows []Row
		for range []int{0, 1, 5, 100}[iter%4] {
			r := Row{Delete: rng.IntN(8) == 0}
			for range rng.IntN(3) {
				r.Key = append(r.Key, value())
			}
			for range rng.IntN(5) {
				r.Values = append(r.Values, value())
			}
			if rng.IntN(6) > 0 {
				r.EventTime = times[rng.IntN(len(times))]
			}
			if rng.IntN(3) == 0 {
				r.AvailableAt = times[rng.IntN(len(times))]
			}
			rows = append(rows, r)
		}
		view := []string{"", "v", "view_é"}[iter%3]
		want, err := proto.Marshal(requestOf(t, view, o, rows))
		require.NoError(t, err)
		got, err := encodeWriteBatch(view, o, rows)
		require.NoError(t, err)
		require.Equal(t, want, got, "iteration %d", iter)
	}
}

// What protobuf refuses to encode, and values of no supported type, are
// refused naming the row and value.
func TestWriteWireRefuses(t *testing.T) {
	for _, c := range []struct {
		view string
		o    *op
		rows []Row
		want string
	}{
		{"v", &op{}, []Row{{Key: []any{1}}, {Values: []any{"ok", "\xff"}}}, "row 1: value 1: timefence: invalid argument: string is not valid UTF-8"},
		{"v", &op{}, []Row{{Key: []any{JSON("\xc3")}}}, "row 0: key 0: timefence: invalid argument: string is not valid UTF-8"},
		{"v", &op{}, []Row{{Values: []any{struct{}{}}}}, "row 0: value 0: timefence: invalid argument: unsupported value type struct {}"},
		{"v", &op{}, []Row{{Values: []any{time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)}}}, "row 0: value 0: timefence: invalid argument: time 3000-01-01T00:00:00Z is outside the supported range 1678..2262"},
		{"\xff", &op{}, nil, "timefence: invalid argument: feature view: not valid UTF-8"},
		{"v", &op{batchID: "\xff"}, nil, "timefence: invalid argument: batch id: not valid UTF-8"},
		{"v", &op{features: []string{"a", "\xff"}}, nil, "timefence: invalid argument: feature 1: name is not valid UTF-8"},
	} {
		_, err := encodeWriteBatch(c.view, c.o, c.rows)
		require.ErrorIs(t, err, ErrInvalidArgument)
		require.EqualError(t, err, c.want)
	}
}
