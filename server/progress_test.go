package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/flight"
	"github.com/apache/arrow/go/v15/arrow/ipc"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
	"github.com/timefence/timefence/client"
	"github.com/timefence/timefence/server"
	"github.com/timefence/timefence/storage"
)

// defineCounters defines views a and b of user, each with features x and y.
func defineCounters(t *testing.T, c *client.Client) {
	ctx := context.Background()
	_, err := c.ApplyEntity(ctx, &timefencev1.Entity{Name: "user", JoinKeys: []*timefencev1.JoinKey{{Name: "user_id", Type: tInt64}}})
	require.NoError(t, err)
	for _, name := range []string{"a", "b"} {
		_, err := c.ApplyFeatureView(ctx, &timefencev1.FeatureView{Name: name, Entity: "user",
			Features: []*timefencev1.Feature{{Name: "x", Type: tInt64}, {Name: "y", Type: tDouble}}})
		require.NoError(t, err)
	}
}

// counterTable returns n versions, one per user, at event time at.
func counterTable(n int, at time.Time) arrow.Record {
	schema := arrow.NewSchema([]arrow.Field{{Name: "user_id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "event_timestamp", Type: timestampNS},
		{Name: "x", Type: arrow.PrimitiveTypes.Int64}, {Name: "y", Type: arrow.PrimitiveTypes.Float64}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for i := range n {
		b.Field(0).(*array.Int64Builder).Append(int64(i))
		b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(at.UnixNano()))
		b.Field(2).(*array.Int64Builder).Append(int64(i * 3))
		b.Field(3).(*array.Float64Builder).Append(float64(i) / 4)
	}
	return b.NewRecord()
}

// counterSpine returns a spine of n rows, user i%users at time at.
func counterSpine(n, users int, at time.Time) arrow.Record {
	schema := arrow.NewSchema([]arrow.Field{{Name: "user_id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "event_timestamp", Type: timestampNS}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for i := range n {
		b.Field(0).(*array.Int64Builder).Append(int64(i % users))
		b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(at.UnixNano()))
	}
	return b.NewRecord()
}

// requireProgress checks reports: phases come in the order given, each at
// least once; within a phase done never decreases nor exceeds total; the
// last report of a phase with a measure has done == total.
func requireProgress(t *testing.T, reports []client.Progress, phases ...string) {
	t.Helper()
	var seen []string
	for i, p := range reports {
		if i == 0 || p.Phase != reports[i-1].Phase {
			seen = append(seen, p.Phase)
		} else {
			prev := reports[i-1]
			require.Equal(t, prev.Total, p.Total, "%s: total changed: %v", p.Phase, reports)
			require.GreaterOrEqual(t, p.Done, prev.Done, "%s: done decreased: %v", p.Phase, reports)
		}
		if p.Total > 0 {
			require.LessOrEqual(t, p.Done, p.Total, "%s: done beyond total: %v", p.Phase, reports)
		}
		if last := i == len(reports)-1 || reports[i+1].Phase != p.Phase; last && p.Total > 0 {
			require.Equal(t, p.Total, p.Done, "%s: the last report is not done: %v", p.Phase, reports)
		}
	}
	require.Equal(t, phases, seen)
}

// TestProgressOfWriteAndJoin: with progress asked for, a bulk write and a
// join report each phase of the server's work before their result, and
// their results are those of the same calls without it.
func TestProgressOfWriteAndJoin(t *testing.T) {
	env := startServer(t)
	c := env.client
	defineCounters(t, c)
	ctx := context.Background()
	const users = 20_000
	at := time.Now().Add(-time.Hour)
	var writes []client.Progress
	res, err := c.WriteTable(ctx, "a", recordReader(counterTable(users, at)),
		client.WithBatchID("a1"), client.WithProgress(func(p client.Progress) { writes = append(writes, p) }))
	require.NoError(t, err)
	requireProgress(t, writes, "validating", "indexing", "committing", "syncing")
	require.Equal(t, client.Progress{Phase: "validating", Done: users, Total: users, Unit: "rows"}, writes[slices.IndexFunc(writes,
		func(p client.Progress) bool { return p.Phase == "indexing" })-1])
	require.Equal(t, client.Progress{Phase: "syncing"}, writes[len(writes)-1])
	// The same write without progress is the same batch: nothing is written twice.
	again, err := c.WriteTable(ctx, "a", recordReader(counterTable(users, at)), client.WithBatchID("a1"))
	require.NoError(t, err)
	require.True(t, again.Duplicate)
	again.Duplicate = false
	require.Equal(t, res, again)
	_, err = c.WriteTable(ctx, "b", recordReader(counterTable(users/2, at)))
	require.NoError(t, err)

	_, err = c.CreateSplit(ctx, "all", at.Add(-time.Hour), time.Now().Add(time.Hour))
	require.NoError(t, err)
	const rows = 50_000
	spine := counterSpine(rows, users+100, time.Now())
	run := func(opts ...client.Option) ([]byte, *client.JoinSummary) {
		var out ipcBytes
		sum, err := c.GetHistorical(ctx, "all", []string{"a", "b"}, recordReader(spine), out.add, append(opts, client.WithFullFeatureNames())...)
		require.NoError(t, err)
		return out.bytes(), sum
	}
	plain, plainSum := run()
	var joins []client.Progress
	withProgress, sum := run(client.WithProgress(func(p client.Progress) { joins = append(joins, p) }))
	requireProgress(t, joins, "joining")
	require.Equal(t, client.Progress{Phase: "joining", Done: 2 * rows, Total: 2 * rows, Unit: "lookups"}, joins[len(joins)-1])
	require.Equal(t, plainSum, sum)
	require.True(t, bytes.Equal(plain, withProgress), "a join with progress returns other records")
}

// TestProgressIsOptIn: without "progress" in the command, a join's and a
// write's streams hold no progress message, and with it they hold the same
// messages besides the progress ones, which carry app metadata only.
func TestProgressIsOptIn(t *testing.T) {
	env := startServer(t)
	defineCounters(t, env.client)
	ctx := context.Background()
	at := time.Now().Add(-time.Hour)
	fc := flight.NewClientFromConn(env.client.Conn(), nil)

	put := func(cmd string) []*flight.PutResult {
		stream, err := fc.DoPut(ctx)
		require.NoError(t, err)
		w := flight.NewRecordWriter(stream, ipc.WithSchema(counterTable(1, at).Schema()))
		w.SetFlightDescriptor(&flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: []byte(cmd)})
		require.NoError(t, w.Write(counterTable(10_000, at)))
		require.NoError(t, w.Close())
		require.NoError(t, stream.CloseSend())
		return recvAll(t, stream.Recv)
	}
	resultFields := func(m *flight.PutResult) []string {
		var fields map[string]any
		require.NoError(t, json.Unmarshal(m.GetAppMetadata(), &fields))
		names := make([]string, 0, len(fields))
		for name := range fields {
			names = append(names, name)
		}
		slices.Sort(names)
		return names
	}
	plain := put(`{"op": "write", "feature_view": "a"}`)
	require.Len(t, plain, 1, "a write without progress answers with one PutResult")
	require.Equal(t, []string{"commit_time", "duplicate", "first_seq", "last_seq", "rows"}, resultFields(plain[0]))
	reported := put(`{"op": "write", "feature_view": "b", "progress": true}`)
	require.Greater(t, len(reported), 1)
	for _, m := range reported[:len(reported)-1] {
		require.Equal(t, []string{"progress"}, resultFields(m))
	}
	require.Equal(t, resultFields(plain[0]), resultFields(reported[len(reported)-1]))

	_, err := env.client.CreateSplit(ctx, "all", at.Add(-time.Hour), time.Now().Add(time.Hour))
	require.NoError(t, err)
	spine := counterSpine(5_000, 12_000, time.Now())
	exchange := func(cmd string) []*flight.FlightData {
		stream, err := fc.DoExchange(ctx)
		require.NoError(t, err)
		w := flight.NewRecordWriter(stream, ipc.WithSchema(spine.Schema()))
		w.SetFlightDescriptor(&flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: []byte(cmd)})
		require.NoError(t, w.Write(spine))
		require.NoError(t, w.Close())
		require.NoError(t, stream.CloseSend())
		return recvAll(t, stream.Recv)
	}
	progressOnly := func(m *flight.FlightData) bool { return len(m.GetDataHeader()) == 0 && len(m.GetDataBody()) == 0 }
	plainJoin := exchange(`{"op": "historical", "split": "all", "features": ["a", "b"], "full_feature_names": true}`)
	require.False(t, slices.ContainsFunc(plainJoin, progressOnly), "a join without progress sent a message without data")
	reportedJoin := exchange(`{"op": "historical", "split": "all", "features": ["a", "b"], "full_feature_names": true, "progress": true}`)
	require.True(t, progressOnly(reportedJoin[0]), "progress comes before the results")
	var data []*flight.FlightData
	for _, m := range reportedJoin {
		if !progressOnly(m) {
			data = append(data, m)
			continue
		}
		var p struct {
			Progress client.Progress `json:"progress"`
		}
		require.NoError(t, json.Unmarshal(m.GetAppMetadata(), &p))
		require.Equal(t, "joining", p.Progress.Phase)
	}
	require.Len(t, data, len(plainJoin))
	for i := range data {
		require.Equal(t, plainJoin[i].GetDataHeader(), data[i].GetDataHeader())
		require.Equal(t, plainJoin[i].GetDataBody(), data[i].GetDataBody())
		require.Equal(t, plainJoin[i].GetAppMetadata(), data[i].GetAppMetadata())
	}
}

// pausingStore holds a write in a phase of its own, half done, until the
// client has seen that: only the reporter's tick can have told it.
type pausingStore struct {
	*storage.Store
	seen chan struct{}
}

func (p *pausingStore) Write(ctx context.Context, b storage.Batch) (storage.WriteResult, error) {
	ph := b.Progress.Begin("paused", "steps", 2)
	ph.Add(1)
	select {
	case <-p.seen:
	case <-ctx.Done():
		return storage.WriteResult{}, ctx.Err()
	}
	ph.Add(1)
	return p.Store.Write(ctx, b)
}

// TestProgressIsReportedWithinAPhase: while a phase runs, its progress is
// reported as it moves, not only when the phase ends.
func TestProgressIsReportedWithinAPhase(t *testing.T) {
	st, err := storage.Open(testStoreOptions(t.TempDir()))
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	store := &pausingStore{Store: st, seen: make(chan struct{})}
	cfg := server.DefaultConfig()
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	c, stop := serveOn(t, server.New(store, cfg))
	defer stop()
	defineCounters(t, c)
	var reports []client.Progress
	_, err = c.WriteTable(context.Background(), "a", recordReader(counterTable(10, time.Now().Add(-time.Hour))),
		client.WithProgress(func(p client.Progress) {
			if p == (client.Progress{Phase: "paused", Done: 1, Total: 2, Unit: "steps"}) {
				close(store.seen)
			}
			reports = append(reports, p)
		}))
	require.NoError(t, err)
	require.Equal(t, client.Progress{Phase: "paused", Done: 1, Total: 2, Unit: "steps"}, reports[0])
	requireProgress(t, reports, "paused", "validating", "indexing", "committing", "syncing")
}

// TestProgressKeepsTheGuardAndRefusals: asking for progress changes nothing
// of what is refused. A spine with one row past the split's cutoff is
// refused whole before any result; a write with a bad row is refused and
// writes nothing; a malformed "progress" field is refused by name.
func TestProgressKeepsTheGuardAndRefusals(t *testing.T) {
	env := startServer(t)
	defineCounters(t, env.client)
	ctx := context.Background()
	at := time.Now().Add(-2 * time.Hour)
	_, err := env.client.WriteTable(ctx, "a", recordReader(counterTable(1_000, at)))
	require.NoError(t, err)
	_, err = env.client.CreateSplit(ctx, "past", at.Add(-time.Hour), at.Add(time.Minute))
	require.NoError(t, err)

	var reports []client.Progress
	spine := counterSpine(3_000, 1_000, at) // inside the split
	late := counterSpine(1, 1_000, at.Add(time.Hour))
	records := 0
	_, err = env.client.GetHistorical(ctx, "past", []string{"a"}, recordReader(spine, late),
		func(arrow.Record) error { records++; return nil },
		client.WithProgress(func(p client.Progress) { reports = append(reports, p) }))
	require.ErrorIs(t, err, client.ErrCutoffExceeded)
	require.Zero(t, records, "a refused join returns no record")
	for _, p := range reports {
		require.NotEqual(t, "joining", p.Phase, "a refused join does no work")
	}

	before := env.store.Watermark()
	bad := counterTable(10, time.Unix(-60, 0)) // event times before 1970
	_, err = env.client.WriteTable(ctx, "b", recordReader(bad), client.WithProgress(func(client.Progress) {}))
	require.ErrorIs(t, err, client.ErrInvalidArgument)
	require.Equal(t, before, env.store.Watermark(), "nothing of a refused write is written")

	fc := flight.NewClientFromConn(env.client.Conn(), nil)
	stream, err := fc.DoPut(ctx)
	require.NoError(t, err)
	w := flight.NewRecordWriter(stream, ipc.WithSchema(counterTable(1, at).Schema()))
	w.SetFlightDescriptor(&flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: []byte(`{"op": "write", "feature_view": "b", "progress": "yes"}`)})
	_ = w.Write(counterTable(1, at))
	_ = w.Close()
	_ = stream.CloseSend()
	_, err = stream.Recv()
	require.Equal(t, codes.InvalidArgument, status.Code(err))
	require.ErrorContains(t, err, `flight command: field "progress": expected a boolean, got a JSON string`)
	require.Equal(t, before, env.store.Watermark())
}

// recvAll receives messages until the stream ends.
func recvAll[T any](t *testing.T, recv func() (T, error)) []T {
	var msgs []T
	for {
		m, err := recv()
		if errors.Is(err, io.EOF) {
			return msgs
		}
		require.NoError(t, err)
		msgs = append(msgs, m)
	}
}
