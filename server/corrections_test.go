package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/stretchr/testify/require"

	"github.com/timefence/timefence/client"
)

// TestRepeatedKeyAndTimeInOneBatch: rows of one key and event time in one
// batch, over gRPC or Flight, are versions in row order: the last wins
// online and in a join, and an export holds them all.
func TestRepeatedKeyAndTimeInOneBatch(t *testing.T) {
	env := startServer(t)
	env.defineUsers(t, 0)
	ctx := context.Background()
	at := time.Now().Add(-time.Hour).Truncate(time.Second)
	key := []any{int64(1), "eu"}
	_, err := env.client.Write(ctx, "stats", []client.Row{
		{Key: key, EventTime: at, Values: []any{int64(1), 1.0}},
		{Key: []any{int64(2), "eu"}, EventTime: at, Values: []any{int64(7), 7.0}},
		{Key: key, EventTime: at, Values: []any{int64(2), 2.0}},
		{Key: key, EventTime: at, Values: []any{int64(3), 3.0}},
	})
	require.NoError(t, err)

	schema := arrow.NewSchema([]arrow.Field{{Name: "user_id", Type: arrow.PrimitiveTypes.Int64}, {Name: "region", Type: arrow.BinaryTypes.String},
		{Name: "event_timestamp", Type: arrow.FixedWidthTypes.Timestamp_ns}, {Name: "clicks", Type: arrow.PrimitiveTypes.Int64}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	for _, clicks := range []int64{10, 30, 20} {
		b.Field(0).(*array.Int64Builder).Append(3)
		b.Field(1).(*array.StringBuilder).Append("us")
		b.Field(2).(*array.TimestampBuilder).Append(arrow.Timestamp(at.UnixNano()))
		b.Field(3).(*array.Int64Builder).Append(clicks)
	}
	_, err = env.client.WriteTable(ctx, "stats", recordReader(b.NewRecord()))
	require.NoError(t, err)

	res, err := env.client.GetOnline(ctx, []string{"stats:clicks"}, []string{"user_id", "region"}, [][]any{key, {int64(2), "eu"}, {int64(3), "us"}})
	require.NoError(t, err)
	require.Equal(t, []any{int64(3), int64(7), int64(20)}, []any{res.Rows[0][0].Value, res.Rows[1][0].Value, res.Rows[2][0].Value},
		"the last row of a key and time wins")

	now := time.Now() // the rows became available when written
	spine, err := client.NewSpine([]string{"user_id", "region"}, [][]any{key, {int64(3), "us"}}, []time.Time{now, now})
	require.NoError(t, err)
	var joined []int64
	_, err = env.client.GetHistorical(ctx, "all", []string{"stats:clicks"}, spine, func(rec arrow.Record) error {
		col := rec.Column(int(rec.NumCols()) - 1).(*array.Int64)
		for i := range col.Len() {
			joined = append(joined, col.Value(i))
		}
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, []int64{3, 20}, joined)

	versions := 0
	_, err = env.client.Export(ctx, "all", "stats", func(rec arrow.Record) error { versions += int(rec.NumRows()); return nil })
	require.NoError(t, err)
	require.Equal(t, 7, versions, "every row is a version")
}
