package client_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/stretchr/testify/require"

	"github.com/timefence/timefence/client"
)

func TestGetOnlineWithTimeout(t *testing.T) {
	addr, stop := startServer(nil)
	defer stop()
	c, err := client.Dial(addr)
	require.NoError(t, err)
	defer c.Close()
	ctx := context.Background()
	_, err = c.Write(ctx, "user_stats", []client.Row{{Key: []any{int64(7)}, EventTime: time.Now().Add(-time.Minute), Values: []any{int64(3), 1.5, "DE", true}}})
	require.NoError(t, err)

	// A budget the call fits in: the answer.
	res, err := c.GetOnline(ctx, []string{"user_stats"}, []string{"user_id"}, [][]any{{int64(7)}}, client.WithTimeout(10*time.Second))
	require.NoError(t, err)
	require.Equal(t, int64(3), res.Rows[0][0].Value)

	// A budget no call fits in: a deadline error, matching the context's.
	_, err = c.GetOnline(ctx, []string{"user_stats"}, []string{"user_id"}, [][]any{{int64(7)}}, client.WithTimeout(time.Nanosecond))
	require.Error(t, err)
	require.True(t, errors.Is(err, context.DeadlineExceeded), "%v", err)

	// A cancelled context: a cancellation error.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = c.GetOnline(cctx, []string{"user_stats"}, []string{"user_id"}, [][]any{{int64(7)}})
	require.True(t, errors.Is(err, context.Canceled), "%v", err)
}

func TestProgress(t *testing.T) {
	addr, stop := startServer(nil)
	defer stop()
	c, err := client.Dial(addr)
	require.NoError(t, err)
	defer c.Close()
	ctx := context.Background()
	const users = 10_000
	at := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	schema := arrow.NewSchema([]arrow.Field{{Name: "user_id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "event_timestamp", Type: &arrow.TimestampType{Unit: arrow.Millisecond}},
		{Name: "clicks", Type: arrow.PrimitiveTypes.Int64}, {Name: "is_subscriber", Type: arrow.FixedWidthTypes.Boolean}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	for i := range users {
		b.Field(0).(*array.Int64Builder).Append(int64(i))
		b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(at.UnixMilli()))
		b.Field(2).(*array.Int64Builder).Append(int64(i * 2))
		b.Field(3).(*array.BooleanBuilder).Append(i%2 == 0)
	}
	table := b.NewRecord()
	reader := func(rec arrow.Record) array.RecordReader {
		rr, err := array.NewRecordReader(rec.Schema(), []arrow.Record{rec})
		require.NoError(t, err)
		return rr
	}

	// A write reports its phases after the table is sent; without progress
	// the same table is the same batch.
	var phases []string
	var last client.Progress
	res, err := c.WriteTable(ctx, "user_stats", reader(table), client.WithBatchID("b1"), client.WithProgress(func(p client.Progress) {
		if len(phases) == 0 || phases[len(phases)-1] != p.Phase {
			phases = append(phases, p.Phase)
		}
		if p.Phase == "committing" {
			last = p
		}
	}))
	require.NoError(t, err)
	require.Equal(t, []string{"validating", "indexing", "committing", "syncing"}, phases)
	require.Equal(t, client.Progress{Phase: "committing", Done: users, Total: users, Unit: "rows"}, last)
	again, err := c.WriteTable(ctx, "user_stats", reader(table), client.WithBatchID("b1"))
	require.NoError(t, err)
	require.True(t, again.Duplicate)
	require.Equal(t, res.FirstSeq, again.FirstSeq)

	// A join reports the lookups before its first record, and returns the
	// same records and summary as without progress.
	_, err = c.CreateSplit(ctx, "recent", at, time.Now())
	require.NoError(t, err)
	spine := array.NewRecordBuilder(memory.DefaultAllocator, arrow.NewSchema([]arrow.Field{{Name: "user_id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "event_timestamp", Type: &arrow.TimestampType{Unit: arrow.Millisecond}}}, nil))
	for i := range users {
		spine.Field(0).(*array.Int64Builder).Append(int64(users - i))
		spine.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(at.Add(time.Minute).UnixMilli()))
	}
	spineRec := spine.NewRecord()
	join := func(opts ...client.Option) ([]int64, *client.JoinSummary) {
		var clicks []int64
		sum, err := c.GetHistorical(ctx, "recent", []string{"user_stats:clicks"}, reader(spineRec), func(rec arrow.Record) error {
			col := rec.Column(2).(*array.Int64)
			for i := range col.Len() {
				clicks = append(clicks, col.Value(i))
			}
			return nil
		}, opts...)
		require.NoError(t, err)
		return clicks, sum
	}
	plain, plainSum := join()
	var reports []client.Progress
	clicks, sum := join(client.WithProgress(func(p client.Progress) { reports = append(reports, p) }))
	require.Equal(t, plain, clicks)
	require.Equal(t, plainSum, sum)
	require.NotEmpty(t, reports)
	require.Equal(t, client.Progress{Phase: "joining", Done: users, Total: users, Unit: "lookups"}, reports[len(reports)-1])
	nilCallback, _ := join(client.WithProgress(nil))
	require.Equal(t, plain, nilCallback)
}
