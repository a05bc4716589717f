package server

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
)

// Packed results unpack, as a client reads them, to the columns they were
// made of: every value type, with and without rows, nulls and empty lists.
// The serving log's copy of the response is not changed by packing.
func TestPackedColumnsUnpack(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for iter := range 400 {
		n := []int{0, 1, 3, 100}[iter%4]
		resp := randomOnlineResponse(rng, iter, n)
		before := proto.Clone(resp)
		packed, err := packedResponse(resp, n)
		require.NoError(t, err)
		require.True(t, proto.Equal(before, resp), "iteration %d: the response packed was changed", iter)
		require.Empty(t, packed.GetColumns())
		require.Equal(t, resp.GetFeatures(), packed.GetFeatures())
		require.True(t, proto.Equal(resp.GetReadTime(), packed.GetReadTime()))
		require.Equal(t, resp.GetWatermark(), packed.GetWatermark())
		require.Equal(t, resp.GetRequestId(), packed.GetRequestId())
		got := unpackColumns(t, packed.GetPacked(), n)
		require.Len(t, got, len(resp.GetColumns()))
		for j := range got {
			require.True(t, proto.Equal(resp.GetColumns()[j], got[j]), "iteration %d, column %d:\nwant %v\ngot  %v",
				iter, j, resp.GetColumns()[j], got[j])
		}
		// The codec leaves packed responses to protobuf.
		_, ok := planOnline(packed)
		require.False(t, ok)
	}
}

// A column that does not hold one entry per row is an internal error, not
// a response that would unpack to other rows.
func TestPackedColumnsRefuseRagged(t *testing.T) {
	col := newOnlineColumn(1, make([]timefencev1.FeatureStatus, 2), make([]int64, 2)).col
	_, err := packColumns([]*timefencev1.FeatureColumn{col}, 3)
	require.ErrorContains(t, err, "online column 0: 2 statuses, 2 event times, 2 nulls for 3 rows")
	col.Values = &timefencev1.FeatureColumn_Int64Values{Int64Values: &timefencev1.Int64Values{Values: []int64{1}}}
	_, err = packColumns([]*timefencev1.FeatureColumn{col}, 2)
	require.ErrorContains(t, err, "online column 0: 1 values for 2 rows")
	col.Values = nil
	_, err = packColumns([]*timefencev1.FeatureColumn{col}, 2)
	require.ErrorContains(t, err, "online column 0: -1 values for 2 rows")
}

// unpackColumns reads packed results of n rows back into columns, as a
// client does: each feature takes the next n entries of the field of its
// type, or for a list feature, n lengths and that many items.
func unpackColumns(t *testing.T, p *timefencev1.PackedColumns, n int) []*timefencev1.FeatureColumn {
	t.Helper()
	var at struct{ i64, i32, f64, f32, str, b, by, lengths int }
	lists := func() []int32 { return take(p.GetListLengths(), &at.lengths, n) }
	var cols []*timefencev1.FeatureColumn
	for f, typ := range p.GetTypes() {
		col := &timefencev1.FeatureColumn{Type: typ, Statuses: p.GetStatuses()[f*n : (f+1)*n],
			EventTimeUnixNanos: p.GetEventTimeUnixNanos()[f*n : (f+1)*n], Nulls: p.GetNulls()[f*n : (f+1)*n]}
		switch typ {
		case timefencev1.ValueType_VALUE_TYPE_INT64, timefencev1.ValueType_VALUE_TYPE_TIMESTAMP:
			col.Values = &timefencev1.FeatureColumn_Int64Values{Int64Values: &timefencev1.Int64Values{Values: take(p.GetInt64Values(), &at.i64, n)}}
		case timefencev1.ValueType_VALUE_TYPE_INT32:
			col.Values = &timefencev1.FeatureColumn_Int32Values{Int32Values: &timefencev1.Int32Values{Values: take(p.GetInt32Values(), &at.i32, n)}}
		case timefencev1.ValueType_VALUE_TYPE_DOUBLE:
			col.Values = &timefencev1.FeatureColumn_DoubleValues{DoubleValues: &timefencev1.DoubleValues{Values: take(p.GetDoubleValues(), &at.f64, n)}}
		case timefencev1.ValueType_VALUE_TYPE_FLOAT:
			col.Values = &timefencev1.FeatureColumn_FloatValues{FloatValues: &timefencev1.FloatValues{Values: take(p.GetFloatValues(), &at.f32, n)}}
		case timefencev1.ValueType_VALUE_TYPE_STRING, timefencev1.ValueType_VALUE_TYPE_JSON, timefencev1.ValueType_VALUE_TYPE_MAP:
			col.Values = &timefencev1.FeatureColumn_StringValues{StringValues: &timefencev1.StringValues{Values: take(p.GetStringValues(), &at.str, n)}}
		case timefencev1.ValueType_VALUE_TYPE_BOOL:
			col.Values = &timefencev1.FeatureColumn_BoolValues{BoolValues: &timefencev1.BoolValues{Values: take(p.GetBoolValues(), &at.b, n)}}
		case timefencev1.ValueType_VALUE_TYPE_BYTES:
			col.Values = &timefencev1.FeatureColumn_BytesValues{BytesValues: &timefencev1.BytesValues{Values: take(p.GetBytesValues(), &at.by, n)}}
		case timefencev1.ValueType_VALUE_TYPE_FLOAT_LIST:
			vals := unpackLists(lists(), p.GetFloatValues(), &at.f32, func(v []float32) *timefencev1.FloatList { return &timefencev1.FloatList{Values: v} })
			col.Values = &timefencev1.FeatureColumn_FloatListValues{FloatListValues: &timefencev1.FloatListValues{Values: vals}}
		case timefencev1.ValueType_VALUE_TYPE_DOUBLE_LIST:
			vals := unpackLists(lists(), p.GetDoubleValues(), &at.f64, func(v []float64) *timefencev1.DoubleList { return &timefencev1.DoubleList{Values: v} })
			col.Values = &timefencev1.FeatureColumn_DoubleListValues{DoubleListValues: &timefencev1.DoubleListValues{Values: vals}}
		case timefencev1.ValueType_VALUE_TYPE_INT32_LIST:
			vals := unpackLists(lists(), p.GetInt32Values(), &at.i32, func(v []int32) *timefencev1.Int32List { return &timefencev1.Int32List{Values: v} })
			col.Values = &timefencev1.FeatureColumn_Int32ListValues{Int32ListValues: &timefencev1.Int32ListValues{Values: vals}}
		case timefencev1.ValueType_VALUE_TYPE_INT64_LIST, timefencev1.ValueType_VALUE_TYPE_TIMESTAMP_LIST:
			vals := unpackLists(lists(), p.GetInt64Values(), &at.i64, func(v []int64) *timefencev1.Int64List { return &timefencev1.Int64List{Values: v} })
			col.Values = &timefencev1.FeatureColumn_Int64ListValues{Int64ListValues: &timefencev1.Int64ListValues{Values: vals}}
		case timefencev1.ValueType_VALUE_TYPE_STRING_LIST:
			vals := unpackLists(lists(), p.GetStringValues(), &at.str, func(v []string) *timefencev1.StringList { return &timefencev1.StringList{Values: v} })
			col.Values = &timefencev1.FeatureColumn_StringListValues{StringListValues: &timefencev1.StringListValues{Values: vals}}
		case timefencev1.ValueType_VALUE_TYPE_BOOL_LIST:
			vals := unpackLists(lists(), p.GetBoolValues(), &at.b, func(v []bool) *timefencev1.BoolList { return &timefencev1.BoolList{Values: v} })
			col.Values = &timefencev1.FeatureColumn_BoolListValues{BoolListValues: &timefencev1.BoolListValues{Values: vals}}
		case timefencev1.ValueType_VALUE_TYPE_BYTES_LIST:
			vals := unpackLists(lists(), p.GetBytesValues(), &at.by, func(v [][]byte) *timefencev1.BytesList { return &timefencev1.BytesList{Values: v} })
			col.Values = &timefencev1.FeatureColumn_BytesListValues{BytesListValues: &timefencev1.BytesListValues{Values: vals}}
		default:
			t.Fatalf("feature %d: type %v", f, typ)
		}
		cols = append(cols, col)
	}
	require.Len(t, p.GetStatuses(), len(cols)*n)
	require.Equal(t, []int{len(p.GetInt64Values()), len(p.GetInt32Values()), len(p.GetDoubleValues()), len(p.GetFloatValues()),
		len(p.GetStringValues()), len(p.GetBoolValues()), len(p.GetBytesValues()), len(p.GetListLengths())},
		[]int{at.i64, at.i32, at.f64, at.f32, at.str, at.b, at.by, at.lengths}, "every entry is read once")
	return cols
}

// unpackLists takes a list of each length from items at *at, made by mk.
func unpackLists[T, L any](lengths []int32, items []T, at *int, mk func([]T) L) []L {
	var out []L
	for _, k := range lengths {
		out = append(out, mk(take(items, at, int(k))))
	}
	return out
}

// take returns the k entries of s from *at and moves *at past them.
func take[T any](s []T, at *int, k int) []T {
	out := s[*at : *at+k]
	*at += k
	return out
}
