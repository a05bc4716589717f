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

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
	"github.com/timefence/timefence/client"
)

// statsRow is a row of a bulk write of view stats; nil values are null.
type statsRow struct {
	user             int64
	event, available time.Time // available only in a backfill
	deleted          any       // nil, true or false
	clicks, score    any       // int64, float64 or nil
	backfilled       any       // the backfilled column's cell, when written
}

// statsRows builds a DoPut table of view stats: user_id, region "eu",
// event_timestamp, then available_at (backfill), deleted, backfilled when
// asked for, and clicks and score.
func statsRows(rows []statsRow, backfill, deleted, backfilled bool) array.RecordReader {
	ts := &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	fields := []arrow.Field{{Name: "user_id", Type: arrow.PrimitiveTypes.Int64}, {Name: "region", Type: arrow.BinaryTypes.String},
		{Name: "event_timestamp", Type: ts}}
	if backfill {
		fields = append(fields, arrow.Field{Name: "available_at", Type: ts})
	}
	if deleted {
		fields = append(fields, arrow.Field{Name: "deleted", Type: arrow.FixedWidthTypes.Boolean, Nullable: true})
	}
	if backfilled {
		fields = append(fields, arrow.Field{Name: "backfilled", Type: arrow.FixedWidthTypes.Boolean, Nullable: true})
	}
	fields = append(fields, arrow.Field{Name: "clicks", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		arrow.Field{Name: "score", Type: arrow.PrimitiveTypes.Float64, Nullable: true})
	b := array.NewRecordBuilder(memory.DefaultAllocator, arrow.NewSchema(fields, nil))
	defer b.Release()
	appendBool := func(bb *array.BooleanBuilder, v any) {
		if v == nil {
			bb.AppendNull()
		} else {
			bb.Append(v.(bool))
		}
	}
	for _, r := range rows {
		f := 0
		next := func() array.Builder { f++; return b.Field(f - 1) }
		next().(*array.Int64Builder).Append(r.user)
		next().(*array.StringBuilder).Append("eu")
		next().(*array.TimestampBuilder).Append(arrow.Timestamp(r.event.UnixMicro()))
		if backfill {
			next().(*array.TimestampBuilder).Append(arrow.Timestamp(r.available.UnixMicro()))
		}
		if deleted {
			appendBool(next().(*array.BooleanBuilder), r.deleted)
		}
		if backfilled {
			appendBool(next().(*array.BooleanBuilder), r.backfilled)
		}
		if cb := next().(*array.Int64Builder); r.clicks == nil {
			cb.AppendNull()
		} else {
			cb.Append(r.clicks.(int64))
		}
		if sb := next().(*array.Float64Builder); r.score == nil {
			sb.AppendNull()
		} else {
			sb.Append(r.score.(float64))
		}
	}
	return recordReader(b.NewRecord())
}

// joinClicks joins stats:clicks for user (region "eu") at each time under
// split "all" and returns the values read.
func joinClicks(t *testing.T, c *client.Client, user int64, at ...time.Time) []any {
	t.Helper()
	ts := &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}
	b := array.NewRecordBuilder(memory.DefaultAllocator, arrow.NewSchema([]arrow.Field{
		{Name: "user_id", Type: arrow.PrimitiveTypes.Int64}, {Name: "region", Type: arrow.BinaryTypes.String},
		{Name: "event_timestamp", Type: ts}}, nil))
	defer b.Release()
	for _, x := range at {
		b.Field(0).(*array.Int64Builder).Append(user)
		b.Field(1).(*array.StringBuilder).Append("eu")
		b.Field(2).(*array.TimestampBuilder).Append(arrow.Timestamp(x.UnixNano()))
	}
	var out []any
	_, err := c.GetHistorical(context.Background(), "all", []string{"stats:clicks"}, recordReader(b.NewRecord()), func(rec arrow.Record) error {
		for i := range int(rec.NumRows()) {
			out = append(out, cell(rec.Column(3), i))
		}
		return nil
	})
	require.NoError(t, err)
	return out
}

// onlineClicks reads stats:clicks of users (region "eu") online, at now.
func onlineClicks(t *testing.T, c *client.Client, users ...int64) []client.FeatureValue {
	t.Helper()
	keys := make([][]any, len(users))
	for i, u := range users {
		keys[i] = []any{u, "eu"}
	}
	res, err := c.GetOnline(context.Background(), []string{"stats:clicks"}, []string{"user_id", "region"}, keys)
	require.NoError(t, err)
	out := make([]client.FeatureValue, len(users))
	for i := range users {
		out[i] = res.Rows[i][0]
	}
	return out
}

// TestDoPutWritesDeletions: a DoPut table's deleted column makes its true
// rows tombstones: online at now and in point-in-time joins from the
// tombstone's time on, the key reads as not found; before it, as before.
// A null in deleted is false. A deleted row needs no value, not even of a
// required feature, and a table of deletions needs no feature column.
func TestDoPutWritesDeletions(t *testing.T) {
	env := startServer(t)
	env.defineUsers(t, 0)
	ctx := context.Background()
	t0 := time.Now().Add(-time.Hour).Truncate(time.Second)
	t1 := t0.Add(10 * time.Minute)

	_, err := env.client.WriteTable(ctx, "stats", statsRows([]statsRow{
		{user: 1, event: t0, available: t0, clicks: int64(10), score: 1.0},
		{user: 2, event: t0, available: t0, clicks: int64(20), score: 2.0},
		{user: 3, event: t0, available: t0, clicks: int64(30), score: 3.0},
	}, true, false, false), client.Backfill())
	require.NoError(t, err)
	_, err = env.client.WriteTable(ctx, "stats", statsRows([]statsRow{
		{user: 1, event: t1, available: t1, deleted: true},
		{user: 2, event: t1, available: t1, deleted: false, clicks: int64(21), score: 2.5},
		{user: 3, event: t1, available: t1, deleted: nil, clicks: int64(31)},
	}, true, true, false), client.Backfill())
	require.NoError(t, err)

	got := onlineClicks(t, env.client, 1, 2, 3)
	require.Equal(t, client.NotFound, got[0].Status, "user 1 is deleted")
	require.Equal(t, []any{int64(21), int64(31)}, []any{got[1].Value, got[2].Value}, "deleted false and null are no deletions")
	require.Equal(t, []any{int64(10), nil, nil}, joinClicks(t, env.client, 1, t1.Add(-time.Second), t1, t1.Add(time.Minute)),
		"before the tombstone the old value, from its time on nothing")
	require.Equal(t, []any{int64(20), int64(21)}, joinClicks(t, env.client, 2, t1.Add(-time.Second), t1.Add(time.Minute)))

	// A live write's deletion: available from its commit, like any version.
	_, err = env.client.WriteTable(ctx, "stats", statsRows([]statsRow{{user: 2, event: time.Now(), deleted: true}}, false, true, false))
	require.NoError(t, err)
	require.Equal(t, client.NotFound, onlineClicks(t, env.client, 2)[0].Status)

	// A table of deletions alone: keys, event time, deleted.
	ts := &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}
	keysOnly := func(deleted bool) array.RecordReader {
		b := array.NewRecordBuilder(memory.DefaultAllocator, arrow.NewSchema([]arrow.Field{
			{Name: "user_id", Type: arrow.PrimitiveTypes.Int64}, {Name: "region", Type: arrow.BinaryTypes.String},
			{Name: "event_timestamp", Type: ts}, {Name: "deleted", Type: arrow.FixedWidthTypes.Boolean}}, nil))
		defer b.Release()
		b.Field(0).(*array.Int64Builder).AppendValues([]int64{3, 4}, nil)
		b.Field(1).(*array.StringBuilder).AppendValues([]string{"eu", "eu"}, nil)
		now := arrow.Timestamp(time.Now().UnixNano())
		b.Field(2).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{now, now}, nil)
		b.Field(3).(*array.BooleanBuilder).AppendValues([]bool{true, deleted}, nil)
		return recordReader(b.NewRecord())
	}
	before := env.store.Watermark()
	_, err = env.client.WriteTable(ctx, "stats", keysOnly(false))
	requireClientError(t, err, codes.InvalidArgument, "INVALID_ARGUMENT",
		`row 1: not deleted, but the stream has no feature columns of view "stats"; only deleted rows can do without`)
	require.Equal(t, before, env.store.Watermark(), "nothing of the refused batch is written")
	_, err = env.client.WriteTable(ctx, "stats", keysOnly(true))
	require.NoError(t, err)
	require.Equal(t, client.NotFound, onlineClicks(t, env.client, 3)[0].Status)

	// A required feature is not required of a deleted row.
	_, err = env.client.ApplyFeatureView(ctx, &timefencev1.FeatureView{Name: "level", Entity: "user",
		Features: []*timefencev1.Feature{{Name: "tier", Type: timefencev1.ValueType_VALUE_TYPE_INT64, Required: true}}})
	require.NoError(t, err)
	levels := func(tiers []any, deleted []bool) array.RecordReader {
		b := array.NewRecordBuilder(memory.DefaultAllocator, arrow.NewSchema([]arrow.Field{
			{Name: "user_id", Type: arrow.PrimitiveTypes.Int64}, {Name: "region", Type: arrow.BinaryTypes.String},
			{Name: "event_timestamp", Type: ts}, {Name: "deleted", Type: arrow.FixedWidthTypes.Boolean},
			{Name: "tier", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil))
		defer b.Release()
		for i, tier := range tiers {
			b.Field(0).(*array.Int64Builder).Append(int64(i))
			b.Field(1).(*array.StringBuilder).Append("eu")
			b.Field(2).(*array.TimestampBuilder).Append(arrow.Timestamp(t0.UnixNano()))
			b.Field(3).(*array.BooleanBuilder).Append(deleted[i])
			if tier == nil {
				b.Field(4).(*array.Int64Builder).AppendNull()
			} else {
				b.Field(4).(*array.Int64Builder).Append(tier.(int64))
			}
		}
		return recordReader(b.NewRecord())
	}
	_, err = env.client.WriteTable(ctx, "level", levels([]any{int64(1), nil}, []bool{false, true}))
	require.NoError(t, err)
	_, err = env.client.WriteTable(ctx, "level", levels([]any{nil, nil}, []bool{true, false}))
	requireClientError(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", `row 1: feature "tier": null, but the feature is required`)
}

// TestDeletedRowsCarryNoValues: a deleted row with a value is refused,
// naming the row and the column, over DoPut and gRPC alike, and nothing of
// its batch is written; a live DoPut with a backfilled column is refused.
func TestDeletedRowsCarryNoValues(t *testing.T) {
	env := startServer(t)
	env.defineUsers(t, 0)
	ctx := context.Background()
	at := time.Now().Add(-time.Minute)
	before := env.store.Watermark()

	_, err := env.client.WriteTable(ctx, "stats", statsRows([]statsRow{
		{user: 1, event: at, clicks: int64(1)},
		{user: 2, event: at, deleted: true, score: 0.5},
	}, false, true, false))
	requireClientError(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", `row 1: column "score": a deleted row carries no values; write null`)

	_, err = env.client.Write(ctx, "stats", []client.Row{
		{Key: []any{1, "eu"}, EventTime: at, Values: []any{int64(1), nil}},
		{Key: []any{2, "eu"}, EventTime: at, Delete: true, Values: []any{nil, 0.5}},
	})
	requireClientError(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", `row 1: feature "score": a deleted row carries no values; write null`)

	_, err = env.client.WriteTable(ctx, "stats", statsRows([]statsRow{{user: 1, event: at, clicks: int64(1), backfilled: false}}, false, false, true))
	requireClientError(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", `column "backfilled" is only allowed in a backfill: write the table with backfill: true`)

	_, err = env.client.WriteTable(ctx, "stats", recordReader(array.NewRecord(arrow.NewSchema([]arrow.Field{
		{Name: "user_id", Type: arrow.PrimitiveTypes.Int64}, {Name: "region", Type: arrow.BinaryTypes.String},
		{Name: "event_timestamp", Type: &arrow.TimestampType{Unit: arrow.Second}}, {Name: "deleted", Type: arrow.PrimitiveTypes.Int64}}, nil), nil, 0)))
	requireClientError(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", `column "deleted": expected bool, got Arrow type int64`)
	require.Equal(t, before, env.store.Watermark(), "nothing was written")

	// Null values on a deleted row are no values, over gRPC as in a table.
	_, err = env.client.Write(ctx, "stats", []client.Row{{Key: []any{2, "eu"}, EventTime: at, Delete: true, Values: []any{nil, nil}}})
	require.NoError(t, err)
	require.Equal(t, client.NotFound, onlineClicks(t, env.client, 2)[0].Status)
}

// statsExport exports view stats under split "all" as rows of cells:
// user_id, region, event_timestamp and available_at (Unix ns), deleted,
// backfilled, clicks, score.
func statsExport(t *testing.T, c *client.Client) [][]any {
	t.Helper()
	var rows [][]any
	_, err := c.Export(context.Background(), "all", "stats", func(rec arrow.Record) error {
		require.Equal(t, []string{"user_id", "region", "event_timestamp", "available_at", "deleted", "backfilled", "clicks", "score"},
			fieldNames(rec.Schema()))
		for i := range int(rec.NumRows()) {
			row := make([]any, rec.NumCols())
			for j := range row {
				if ts, ok := rec.Column(j).(*array.Timestamp); ok {
					row[j] = int64(ts.Value(i))
				} else {
					row[j] = cell(rec.Column(j), i)
				}
			}
			rows = append(rows, row)
		}
		return nil
	})
	require.NoError(t, err)
	return rows
}

// TestExportWritesBackAsIs: an export, written back as a backfill into a
// fresh store, exports the same versions: keys, event times, available_at,
// deletions and values. Only the backfilled flag may differ (every row of
// a backfill is flagged), and the seqs.
func TestExportWritesBackAsIs(t *testing.T) {
	src, dst := startServer(t), startServer(t)
	src.defineUsers(t, 0)
	dst.defineUsers(t, 0)
	ctx := context.Background()
	t0 := time.Now().Add(-2 * time.Hour).Truncate(time.Millisecond)
	_, err := src.client.WriteTable(ctx, "stats", statsRows([]statsRow{
		{user: 1, event: t0, available: t0.Add(time.Minute), clicks: int64(1), score: 0.5},
		{user: 2, event: t0, available: t0, clicks: int64(2)},
		{user: 1, event: t0.Add(time.Hour), available: t0.Add(time.Hour), deleted: true},
	}, true, true, false), client.Backfill())
	require.NoError(t, err)
	_, err = src.client.Write(ctx, "stats", []client.Row{
		{Key: []any{2, "eu"}, EventTime: t0.Add(time.Minute), Values: []any{int64(3), 1.5}},
		{Key: []any{3, "eu"}, EventTime: t0.Add(time.Minute), Values: []any{nil, 2.5}},
		{Key: []any{2, "eu"}, EventTime: t0.Add(30 * time.Minute), Delete: true},
		// Two corrections of user 3 at the same time: versions that only seq orders.
		{Key: []any{3, "eu"}, EventTime: t0.Add(time.Minute), Values: []any{int64(4), 3.5}},
		{Key: []any{3, "eu"}, EventTime: t0.Add(time.Minute), Values: []any{int64(5), 4.5}},
	})
	require.NoError(t, err)
	want := statsExport(t, src.client)
	require.Len(t, want, 8)

	// Write the export back as it is: its records, every column.
	var recs []arrow.Record
	_, err = src.client.Export(ctx, "all", "stats", func(rec arrow.Record) error {
		rec.Retain()
		recs = append(recs, rec)
		return nil
	})
	require.NoError(t, err)
	res, err := dst.client.WriteTable(ctx, "stats", recordReader(recs...), client.Backfill())
	require.NoError(t, err)
	require.EqualValues(t, 8, res.Rows)

	got := statsExport(t, dst.client)
	require.Len(t, got, len(want))
	for i := range want {
		w, g := want[i], got[i]
		require.Equal(t, true, g[5], "row %d: a backfill's rows are flagged backfilled", i)
		w[5], g[5] = nil, nil
		require.Equal(t, w, g, "row %d", i)
	}
	// The same winners: the last correction of user 3, in both stores.
	for _, env := range []*testEnv{src, dst} {
		res, err := env.client.GetOnline(ctx, []string{"stats:clicks"}, []string{"user_id", "region"}, [][]any{{3, "eu"}})
		require.NoError(t, err)
		require.Equal(t, int64(5), res.Rows[0][0].Value)
	}
	require.Equal(t, onlineClicks(t, src.client, 1, 2, 3), onlineClicks(t, dst.client, 1, 2, 3))
}

// TestDeletionCarriesItsEventTime: an online read of a deleted entity is not
// found, with the deletion's event time (the winner's, as for any value); an
// entity never written has none.
func TestDeletionCarriesItsEventTime(t *testing.T) {
	env := startServer(t)
	env.defineUsers(t, 0)
	ctx := context.Background()
	t0 := time.Now().Add(-time.Hour).Truncate(time.Microsecond)
	_, err := env.client.Write(ctx, "stats", []client.Row{
		{Key: []any{1, "eu"}, EventTime: t0, Values: []any{int64(1), 1.0}},
		{Key: []any{1, "eu"}, EventTime: t0.Add(time.Minute), Delete: true},
	})
	require.NoError(t, err)
	res, err := env.client.GetOnline(ctx, []string{"stats:clicks"}, []string{"user_id", "region"}, [][]any{{1, "eu"}, {2, "eu"}})
	require.NoError(t, err)
	require.Equal(t, client.NotFound, res.Rows[0][0].Status)
	require.True(t, t0.Add(time.Minute).Equal(res.Rows[0][0].EventTime), "the deletion's time, got %v", res.Rows[0][0].EventTime)
	require.Equal(t, client.NotFound, res.Rows[1][0].Status)
	require.True(t, res.Rows[1][0].EventTime.IsZero())
}
