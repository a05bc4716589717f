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
	"google.golang.org/protobuf/types/known/durationpb"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
	"github.com/timefence/timefence/client"
	"github.com/timefence/timefence/storage"
)

func f64(v float64) *float64 { return &v }

// expect applies the expectations to view "stats" (clicks int64, score double).
func expect(t *testing.T, c *client.Client, es ...*timefencev1.Expectation) {
	t.Helper()
	ctx := context.Background()
	view, err := c.GetFeatureView(ctx, "stats")
	require.NoError(t, err)
	view.Expectations, view.Version = es, 0
	_, err = c.ApplyFeatureView(ctx, view)
	require.NoError(t, err)
}

// clickRows are rows of users 1.. with the given clicks and a score, null
// where score is nil.
func clickRows(clicks []int64, scores []any) []client.Row {
	rows := make([]client.Row, len(clicks))
	for i, c := range clicks {
		rows[i] = client.Row{Key: []any{int64(i + 1), "eu"}, EventTime: time.Now().Add(-time.Second), Values: []any{c, scores[i]}}
	}
	return rows
}

// clickTable is clickRows as an Arrow table of two records, the second from row 4 on.
func clickTable(clicks []int64) array.RecordReader {
	schema := arrow.NewSchema([]arrow.Field{{Name: "user_id", Type: arrow.PrimitiveTypes.Int64}, {Name: "region", Type: arrow.BinaryTypes.String},
		{Name: "event_timestamp", Type: &arrow.TimestampType{Unit: arrow.Nanosecond}}, {Name: "clicks", Type: arrow.PrimitiveTypes.Int64}}, nil)
	var recs []arrow.Record
	for _, part := range [][2]int{{0, 4}, {4, len(clicks)}} {
		b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
		for i := part[0]; i < part[1]; i++ {
			b.Field(0).(*array.Int64Builder).Append(int64(i + 1))
			b.Field(1).(*array.StringBuilder).Append("eu")
			b.Field(2).(*array.TimestampBuilder).Append(arrow.Timestamp(time.Now().Add(-time.Second).UnixNano()))
			b.Field(3).(*array.Int64Builder).Append(clicks[i])
		}
		recs = append(recs, b.NewRecord())
	}
	return recordReader(recs...)
}

// TestHardExpectationRefusesWholeBatch: a batch with rows out of a hard
// range is refused whole, over gRPC and over Flight, with
// EXPECTATION_FAILED naming the view, the expectation, the count and the
// first rows; nothing of it is written, and the refusal is counted.
func TestHardExpectationRefusesWholeBatch(t *testing.T) {
	ctx := context.Background()
	srv, st, c := metricsServer(t, storage.DefaultOptions(t.TempDir()))
	(&testEnv{client: c, store: st}).defineUsers(t, 0)
	expect(t, c, &timefencev1.Expectation{Feature: "clicks", Min: f64(0), Max: f64(100)})
	scores := make([]any, 10)
	_, err := c.Write(ctx, "stats", clickRows([]int64{1}, scores))
	require.NoError(t, err)
	before := st.Watermark()

	clicks := []int64{1, 2, -5, 3, 4, 5, 6, 200, 7, -1}
	const msg = `feature view "stats": hard expectation range(clicks) (min 0, max 100) failed: 3 of 10 rows fail (row 2: -5, row 7: 200, row 9: -1); nothing of the batch was written`
	for name, write := range map[string]func() error{
		"grpc": func() error {
			_, err := c.Write(ctx, "stats", clickRows(clicks, scores))
			return err
		},
		"flight": func() error {
			_, err := c.WriteTable(ctx, "stats", clickTable(clicks))
			return err
		},
	} {
		err := write()
		require.ErrorIs(t, err, client.ErrExpectationFailed, name)
		var ce *client.Error
		require.ErrorAs(t, err, &ce, name)
		require.Equal(t, codes.InvalidArgument, ce.Code, name)
		require.Equal(t, "EXPECTATION_FAILED", ce.Reason, name)
		require.Equal(t, msg, ce.Message, name)
		require.Equal(t, "3", ce.Metadata["rows_failed"], name)
		require.Equal(t, before, st.Watermark(), "%s: nothing written", name)
		res, err := c.GetOnline(ctx, []string{"stats"}, []string{"user_id", "region"}, [][]any{{3, "eu"}, {1, "eu"}})
		require.NoError(t, err)
		require.Equal(t, client.NotFound, res.Rows[0][0].Status, name)
		require.Equal(t, int64(1), res.Rows[1][0].Value, "%s: the earlier batch stands", name)
	}
	require.Equal(t, 2.0, sample(t, scrape(t, srv), "timefence_expectation_refusals_total", "view", "stats", "expectation", "range(clicks)"))

	// Rows within the range, and deleted rows, pass.
	_, err = c.Write(ctx, "stats", append(clickRows([]int64{0, 100}, scores), client.Row{Key: []any{3, "eu"}, EventTime: time.Now().Add(-time.Second), Delete: true}))
	require.NoError(t, err)
	_, err = c.WriteTable(ctx, "stats", clickTable([]int64{0, 1, 2, 3, 100}))
	require.NoError(t, err)

	// At level warn, the same batch is written and its event counted.
	expect(t, c, &timefencev1.Expectation{Feature: "clicks", Min: f64(0), Max: f64(100), Level: timefencev1.ExpectationLevel_EXPECTATION_LEVEL_WARN})
	_, err = c.WriteTable(ctx, "stats", clickTable(clicks))
	require.NoError(t, err)
	require.Equal(t, 1.0, sample(t, scrape(t, srv), "timefence_validation_events_total", "view", "stats", "expectation", "range(clicks)", "level", "warn"))
}

// TestWarnExpectationRecordsEvent: a batch failing warn expectations is
// written, with one event per failing expectation holding the counts and
// the first rows; events survive a restart, and the report filters them by
// time and view.
func TestWarnExpectationRecordsEvent(t *testing.T) {
	ctx := context.Background()
	env := startServer(t)
	env.defineUsers(t, 0)
	warn := timefencev1.ExpectationLevel_EXPECTATION_LEVEL_WARN
	expect(t, env.client,
		&timefencev1.Expectation{Feature: "clicks", Allowed: []string{"1", "2", "3"}, Level: warn},
		&timefencev1.Expectation{Feature: "score", MaxNullRate: f64(0.25), Level: warn},
		&timefencev1.Expectation{MaxArrivalLag: durationpb.New(time.Hour), Level: warn},
	)
	rows := clickRows([]int64{1, 5, 2, 7, 3, 9}, []any{0.5, nil, nil, 1.0, 2.0, 3.0})
	res, err := env.client.Write(ctx, "stats", rows, client.WithBatchID("b1"))
	require.NoError(t, err)
	require.Equal(t, int64(6), res.Rows)
	online, err := env.client.GetOnline(ctx, []string{"stats"}, []string{"user_id", "region"}, [][]any{{2, "eu"}})
	require.NoError(t, err)
	require.Equal(t, int64(5), online.Rows[0][0].Value, "a warn expectation writes the batch")

	rep, err := env.client.ValidationReport(ctx, time.Time{}, time.Time{})
	require.NoError(t, err)
	require.Len(t, rep.GetEvents(), 2, "clicks out of the list and a null rate of 2/6 > 0.25; no row arrived late")
	ev := rep.GetEvents()[0]
	require.Equal(t, "stats", ev.GetFeatureView())
	require.Equal(t, "b1", ev.GetBatchId())
	require.Equal(t, "allowed", ev.GetKind())
	require.Equal(t, "allowed 1, 2, 3", ev.GetBound())
	require.Equal(t, "clicks", ev.GetExpectation().GetFeature())
	require.Equal(t, warn, ev.GetExpectation().GetLevel())
	require.Equal(t, int64(6), ev.GetRowsChecked())
	require.Equal(t, int64(3), ev.GetRowsFailed())
	require.Equal(t, []int64{1, 3, 5}, []int64{ev.GetFailedRows()[0].GetRow(), ev.GetFailedRows()[1].GetRow(), ev.GetFailedRows()[2].GetRow()})
	require.Equal(t, "5", ev.GetFailedRows()[0].GetValue())
	require.Equal(t, res.FirstSeq, ev.GetFirstSeq())
	require.Equal(t, res.LastSeq, ev.GetLastSeq())
	require.Equal(t, res.CommitTime.UnixNano(), ev.GetTime().AsTime().UnixNano())
	nulls := rep.GetEvents()[1]
	require.Equal(t, "max_null_rate", nulls.GetKind())
	require.Equal(t, int64(2), nulls.GetRowsFailed())
	require.Equal(t, "null", nulls.GetFailedRows()[0].GetValue())
	require.Equal(t, int64(2), rep.GetTotalEvents())
	require.Len(t, rep.GetCounts(), 2)

	// A retry of the batch is a duplicate and records nothing more.
	_, err = env.client.Write(ctx, "stats", rows, client.WithBatchID("b1"))
	require.NoError(t, err)

	// A backfill with a row that arrived two hours late, over Flight.
	time.Sleep(2 * time.Millisecond)
	split := time.Now()
	time.Sleep(2 * time.Millisecond)
	schema := arrow.NewSchema([]arrow.Field{{Name: "user_id", Type: arrow.PrimitiveTypes.Int64}, {Name: "region", Type: arrow.BinaryTypes.String},
		{Name: "event_timestamp", Type: &arrow.TimestampType{Unit: arrow.Nanosecond}}, {Name: "available_at", Type: &arrow.TimestampType{Unit: arrow.Nanosecond}},
		{Name: "clicks", Type: arrow.PrimitiveTypes.Int64}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	day := time.Now().Add(-24 * time.Hour)
	for i, lag := range []time.Duration{time.Minute, 2 * time.Hour} {
		b.Field(0).(*array.Int64Builder).Append(int64(10 + i))
		b.Field(1).(*array.StringBuilder).Append("eu")
		b.Field(2).(*array.TimestampBuilder).Append(arrow.Timestamp(day.UnixNano()))
		b.Field(3).(*array.TimestampBuilder).Append(arrow.Timestamp(day.Add(lag).UnixNano()))
		b.Field(4).(*array.Int64Builder).Append(1)
	}
	_, err = env.client.WriteTable(ctx, "stats", recordReader(b.NewRecord()), client.Backfill())
	require.NoError(t, err)

	env.restart(t)
	rep, err = env.client.ValidationReport(ctx, time.Time{}, time.Time{})
	require.NoError(t, err)
	require.Equal(t, int64(4), rep.GetTotalEvents(), "the events survive a restart; the duplicate added none")
	late, err := env.client.ValidationReport(ctx, split, time.Time{})
	require.NoError(t, err)
	require.Len(t, late.GetEvents(), 2, "since the split: the backfill's events only")
	byKind := map[string]*timefencev1.ValidationEvent{}
	for _, e := range late.GetEvents() {
		byKind[e.GetKind()] = e
	}
	lag := byKind["max_arrival_lag"]
	require.NotNil(t, lag)
	require.Equal(t, int64(1), lag.GetRowsFailed())
	require.Equal(t, int64(1), lag.GetFailedRows()[0].GetRow())
	require.Equal(t, "2h0m0s", lag.GetFailedRows()[0].GetValue())
	require.Equal(t, int64(2), byKind["max_null_rate"].GetRowsFailed(), "the table has no score column: its rows are null")
	early, err := env.client.ValidationReport(ctx, time.Time{}, split)
	require.NoError(t, err)
	require.Equal(t, int64(2), early.GetTotalEvents())
	_, err = env.client.ValidationReport(ctx, split, split.Add(-time.Second))
	require.ErrorIs(t, err, client.ErrInvalidArgument)

	// By view.
	view, err := env.client.GetFeatureView(ctx, "stats")
	require.NoError(t, err)
	view.Name, view.Version = "other", 0
	_, err = env.client.ApplyFeatureView(ctx, view)
	require.NoError(t, err)
	_, err = env.client.Write(ctx, "other", clickRows([]int64{8}, []any{1.0}))
	require.NoError(t, err)
	rep, err = env.client.ValidationReport(ctx, time.Time{}, time.Time{}, client.ForView("other"))
	require.NoError(t, err)
	require.Len(t, rep.GetEvents(), 1)
	require.Equal(t, "other", rep.GetEvents()[0].GetFeatureView())
	rep, err = env.client.ValidationReport(ctx, time.Time{}, time.Time{}, client.ForView("stats"), client.MaxEvents(1))
	require.NoError(t, err)
	require.Len(t, rep.GetEvents(), 1)
	require.Equal(t, int64(4), rep.GetTotalEvents())
	_, err = env.client.ValidationReport(ctx, time.Time{}, time.Time{}, client.ForView("nope"))
	require.ErrorIs(t, err, client.ErrUnknownFeatureView)
}

// TestBatchCadence: a view expecting a batch at least every 300ms records an
// event with the first batch later than that after the previous one, also
// across a restart (the previous batch's time is read back from the store),
// and reports its last batch in the metrics. A hard cadence is refused.
func TestBatchCadence(t *testing.T) {
	ctx := context.Background()
	env := startServer(t)
	env.defineUsers(t, 0)
	view, err := env.client.GetFeatureView(ctx, "stats")
	require.NoError(t, err)
	view.Expectations, view.Version = []*timefencev1.Expectation{{MaxBatchInterval: durationpb.New(300 * time.Millisecond)}}, 0
	_, err = env.client.ApplyFeatureView(ctx, view)
	require.ErrorIs(t, err, client.ErrInvalidArgument)
	require.ErrorContains(t, err, "max_batch_interval is a warn expectation")
	expect(t, env.client, &timefencev1.Expectation{MaxBatchInterval: durationpb.New(300 * time.Millisecond),
		Level: timefencev1.ExpectationLevel_EXPECTATION_LEVEL_WARN})

	write := func() {
		t.Helper()
		_, err := env.client.Write(ctx, "stats", clickRows([]int64{1}, []any{1.0}))
		require.NoError(t, err)
	}
	events := func() []*timefencev1.ValidationEvent {
		t.Helper()
		rep, err := env.client.ValidationReport(ctx, time.Time{}, time.Time{})
		require.NoError(t, err)
		return rep.GetEvents()
	}
	write() // the first batch: nothing before it
	write() // on time
	require.Empty(t, events())
	time.Sleep(400 * time.Millisecond)
	before := time.Now()
	write()
	evs := events()
	require.Len(t, evs, 1)
	require.Equal(t, "max_batch_interval", evs[0].GetKind())
	require.Equal(t, "batch interval <= 300ms", evs[0].GetBound())
	require.Contains(t, evs[0].GetFailedRows()[0].GetValue(), "since the previous batch")

	env.restart(t)
	time.Sleep(400 * time.Millisecond)
	write()
	require.Len(t, events(), 2, "the previous batch's time survives a restart")
	require.True(t, env.store.LastBatch("stats") >= before.UnixNano())
}
