package client_test

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
	"github.com/timefence/timefence/client"
)

// TestGoValuesOfEveryType writes a Go value of every feature type and
// reads back the Go value of the type: timestamps as time.Time in UTC,
// json and map values as JSON and Map, lists as slices. An int32 key or
// value is read as an int64 where the key or feature is one.
func TestGoValuesOfEveryType(t *testing.T) {
	dir, err := os.MkdirTemp("", "timefence-client")
	require.NoError(t, err)
	defer os.RemoveAll(dir)
	addr, end := serve(dir, nil)
	defer end()
	c, err := client.Dial(addr)
	require.NoError(t, err)
	defer c.Close()
	ctx := context.Background()

	paris := time.FixedZone("Paris", 3600)
	at := time.Date(2001, 2, 3, 4, 5, 6, 7, paris)
	cases := []struct {
		typ         timefencev1.ValueType
		write, read any
	}{
		{timefencev1.ValueType_VALUE_TYPE_INT64, int32(5), int64(5)},
		{timefencev1.ValueType_VALUE_TYPE_INT32, int32(-7), int32(-7)},
		{timefencev1.ValueType_VALUE_TYPE_DOUBLE, 2.5, 2.5},
		{timefencev1.ValueType_VALUE_TYPE_FLOAT, float32(1.25), float32(1.25)},
		{timefencev1.ValueType_VALUE_TYPE_STRING, "s", "s"},
		{timefencev1.ValueType_VALUE_TYPE_BYTES, []byte{1, 2}, []byte{1, 2}},
		{timefencev1.ValueType_VALUE_TYPE_BOOL, true, true},
		{timefencev1.ValueType_VALUE_TYPE_TIMESTAMP, at, at.UTC()},
		{timefencev1.ValueType_VALUE_TYPE_JSON, json.RawMessage(`{"a": [1, 2]}`), client.JSON(`{"a": [1, 2]}`)},
		{timefencev1.ValueType_VALUE_TYPE_MAP, map[string]any{"b": 1, "a": "x"}, client.Map(`{"a":"x","b":1}`)},
		{timefencev1.ValueType_VALUE_TYPE_FLOAT_LIST, []float32{0.5}, []float32{0.5}},
		{timefencev1.ValueType_VALUE_TYPE_INT32_LIST, []int32{1, -1}, []int32{1, -1}},
		{timefencev1.ValueType_VALUE_TYPE_INT64_LIST, []int{1 << 40, 2}, []int64{1 << 40, 2}},
		{timefencev1.ValueType_VALUE_TYPE_DOUBLE_LIST, []float32{0.25}, []float64{0.25}},
		{timefencev1.ValueType_VALUE_TYPE_STRING_LIST, []string{"x", "y"}, []string{"x", "y"}},
		{timefencev1.ValueType_VALUE_TYPE_BOOL_LIST, []bool{false, true}, []bool{false, true}},
		{timefencev1.ValueType_VALUE_TYPE_BYTES_LIST, [][]byte{{3}, {4, 5}}, [][]byte{{3}, {4, 5}}},
		{timefencev1.ValueType_VALUE_TYPE_TIMESTAMP_LIST, []time.Time{at, at.Add(time.Second)}, []time.Time{at.UTC(), at.Add(time.Second).UTC()}},
	}
	_, err = c.ApplyEntity(ctx, &timefencev1.Entity{Name: "item", JoinKeys: []*timefencev1.JoinKey{{Name: "item_id", Type: timefencev1.ValueType_VALUE_TYPE_INT64}}})
	require.NoError(t, err)
	view := &timefencev1.FeatureView{Name: "typed", Entity: "item"}
	row := client.Row{Key: []any{int32(1)}, EventTime: time.Now().Add(-time.Minute)}
	var types []timefencev1.ValueType
	for _, tc := range cases {
		name := strings.ToLower(strings.TrimPrefix(tc.typ.String(), "VALUE_TYPE_"))
		view.Features = append(view.Features, &timefencev1.Feature{Name: name, Type: tc.typ})
		row.Values = append(row.Values, tc.write)
		types = append(types, tc.typ)
	}
	_, err = c.ApplyFeatureView(ctx, view)
	require.NoError(t, err)
	_, err = c.Write(ctx, "typed", []client.Row{row})
	require.NoError(t, err)

	res, err := c.GetOnline(ctx, []string{"typed"}, []string{"item_id"}, [][]any{{int32(1)}})
	require.NoError(t, err)
	require.Equal(t, types, res.Types)
	for j, tc := range cases {
		got := res.Rows[0][j]
		require.Equal(t, client.Present, got.Status, tc.typ.String())
		require.Equal(t, tc.read, got.Value, tc.typ.String())
	}
	var m map[string]any
	require.NoError(t, res.Rows[0][9].Value.(client.Map).Unmarshal(&m))
	require.Equal(t, map[string]any{"a": "x", "b": 1.0}, m)
	var j []any
	require.NoError(t, client.JSON(`[1, "a"]`).Unmarshal(&j))
	require.Equal(t, []any{1.0, "a"}, j)

	// What a value read holds can be written back as it is.
	back := client.Row{Key: []any{int64(2)}, EventTime: time.Now().Add(-time.Minute), Values: make([]any, len(cases))}
	for j := range cases {
		back.Values[j] = res.Rows[0][j].Value
	}
	_, err = c.Write(ctx, "typed", []client.Row{back})
	require.NoError(t, err)
	again, err := c.GetOnline(ctx, []string{"typed"}, []string{"item_id"}, [][]any{{2}})
	require.NoError(t, err)
	for j, tc := range cases {
		require.Equal(t, tc.read, again.Rows[0][j].Value, tc.typ.String())
	}

	// Values the client cannot send, and values the server refuses.
	for _, v := range []any{time.Time{}, []time.Time{at, time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)},
		map[string]any{"f": func() {}}, []uint16{1}} {
		_, err = c.Write(ctx, "typed", []client.Row{{Key: []any{1}, EventTime: time.Now().Add(-time.Minute), Values: []any{v}}},
			client.WithFeatures("timestamp"))
		require.ErrorIs(t, err, client.ErrInvalidArgument, "%T", v)
	}
	for f, v := range map[string]any{"json": client.JSON(`{`), "map": client.Map(`[]`), "int32": 1 << 31} {
		_, err = c.Write(ctx, "typed", []client.Row{{Key: []any{1}, EventTime: time.Now().Add(-time.Minute), Values: []any{v}}},
			client.WithFeatures(f))
		require.ErrorIs(t, err, client.ErrInvalidArgument, f)
		require.ErrorContains(t, err, `rows[0]: feature "`+f+`"`)
	}
}
