package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"

	"github.com/timefence/timefence/client"
	"github.com/timefence/timefence/server"
)

// userSpine is a spine of view stats' keys (user 1, "eu") at times ts.
func userSpine(ts ...time.Time) array.RecordReader {
	b := array.NewRecordBuilder(memory.DefaultAllocator, arrow.NewSchema([]arrow.Field{{Name: "user_id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "region", Type: arrow.BinaryTypes.String}, {Name: "event_timestamp", Type: &arrow.TimestampType{Unit: arrow.Nanosecond}}}, nil))
	for _, t := range ts {
		b.Field(0).(*array.Int64Builder).Append(1)
		b.Field(1).(*array.StringBuilder).Append("eu")
		b.Field(2).(*array.TimestampBuilder).Append(arrow.Timestamp(t.UnixNano()))
	}
	return recordReader(b.NewRecord())
}

// TestFutureTimesAreRefused: under a split that ends in the future, an
// as-of read or a spine row later than now (beyond the allowed clock skew)
// is refused with FAILED_PRECONDITION, reason FUTURE_TIME, naming the time
// and now; nothing is read or streamed.
func TestFutureTimesAreRefused(t *testing.T) {
	env := startServer(t)
	env.defineUsers(t, 0) // split "all" ends in 2200
	ctx := context.Background()
	w, err := env.client.Write(ctx, "stats", []client.Row{{Key: []any{1, "eu"}, EventTime: time.Now().Add(-time.Hour), Values: []any{1, 1.0}}})
	require.NoError(t, err)
	later := time.Now().Add(time.Hour).UTC()
	keys := [][]any{{1, "eu"}}
	kn := []string{"user_id", "region"}

	_, err = env.client.GetOnline(ctx, []string{"stats"}, kn, keys, client.AsOf(later), client.UnderSplit("all"))
	require.ErrorIs(t, err, client.ErrFutureTime)
	ce := requireClientError(t, err, codes.FailedPrecondition, server.ReasonFutureTime,
		"as_of: "+later.Format(time.RFC3339Nano)+" is later than now (")
	require.Contains(t, ce.Message, "by more than the allowed clock skew of 5s")
	require.Equal(t, later.Format(time.RFC3339Nano), ce.Metadata["time"])
	now, err := time.Parse(time.RFC3339Nano, ce.Metadata["now"])
	require.NoError(t, err)
	require.True(t, now.Before(later))

	called := false
	past := time.Now().Add(-time.Minute)
	_, err = env.client.GetHistorical(ctx, "all", []string{"stats"}, userSpine(past, later, past, later.Add(time.Hour)),
		func(arrow.Record) error { called = true; return nil })
	require.ErrorIs(t, err, client.ErrFutureTime)
	ce = requireClientError(t, err, codes.FailedPrecondition, server.ReasonFutureTime,
		"spine: 2 of 4 rows have a timestamp later than now (")
	require.Contains(t, ce.Message, "(first rows: 1, 3; row 1 is at "+later.Format(time.RFC3339Nano)+")")
	require.Equal(t, "2", ce.Metadata["offending_rows"])
	require.Equal(t, "1,3", ce.Metadata["first_rows"])
	require.False(t, called, "nothing is streamed")

	// A past time is read as before.
	res, err := env.client.GetOnline(ctx, []string{"stats:clicks"}, kn, keys, client.AsOf(w.CommitTime), client.UnderSplit("all"))
	require.NoError(t, err)
	require.Equal(t, int64(1), res.Rows[0][0].Value)
}

// TestAsOfWithinClockSkewIsReplayable: a read as of a time just ahead of
// the server's clock, within the allowed skew, returns once that time has
// come, so a batch written after it returns is not available at that time
// and the same read later returns the same values.
func TestAsOfWithinClockSkewIsReplayable(t *testing.T) {
	env := startServer(t)
	env.defineUsers(t, 0)
	ctx := context.Background()
	_, err := env.client.Write(ctx, "stats", []client.Row{{Key: []any{1, "eu"}, EventTime: time.Now().Add(-time.Hour), Values: []any{1, 1.0}}})
	require.NoError(t, err)
	asOf := time.Now().Add(300 * time.Millisecond)
	read := func() *client.OnlineResult {
		res, err := env.client.GetOnline(ctx, []string{"stats:clicks"}, []string{"user_id", "region"}, [][]any{{1, "eu"}},
			client.AsOf(asOf), client.UnderSplit("all"))
		require.NoError(t, err)
		return res
	}
	first := read()
	require.Equal(t, int64(1), first.Rows[0][0].Value)
	w, err := env.client.Write(ctx, "stats", []client.Row{{Key: []any{1, "eu"}, EventTime: time.Now().Add(-time.Minute), Values: []any{2, 2.0}}})
	require.NoError(t, err)
	require.True(t, w.CommitTime.After(asOf), "a batch written after the read becomes available after its time")
	again := read()
	require.Equal(t, first.Rows, again.Rows)
	// The spine allows the same skew.
	_, err = env.client.GetHistorical(ctx, "all", []string{"stats"}, userSpine(time.Now().Add(time.Second)), func(arrow.Record) error { return nil })
	require.NoError(t, err)
}

// TestClockSkewIsConfigured: with no skew allowed, a time a moment ahead
// of now is refused.
func TestClockSkewIsConfigured(t *testing.T) {
	cfg := server.DefaultConfig()
	cfg.MaxClockSkew = -1
	c, st, stop := startWith(t, cfg)
	defer stop()
	(&testEnv{client: c, store: st}).defineUsers(t, 0)
	_, err := c.GetOnline(context.Background(), []string{"stats"}, []string{"user_id", "region"}, [][]any{{1, "eu"}},
		client.AsOf(time.Now().Add(time.Minute)), client.UnderSplit("all"))
	require.ErrorIs(t, err, client.ErrFutureTime)
	require.ErrorContains(t, err, "by more than the allowed clock skew of 0s")
}
