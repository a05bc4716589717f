package server_test

import (
	"context"
	"io"
	"log/slog"
	"math"
	"runtime"
	"testing"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/flight"
	"github.com/apache/arrow/go/v15/arrow/ipc"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
	"github.com/timefence/timefence/client"
	"github.com/timefence/timefence/server"
	"github.com/timefence/timefence/storage"
)

// limitsEnv is a server with cfg over a fresh store holding the users of
// defineUsers.
type limitsEnv struct {
	srv    *server.Server
	store  *storage.Store
	client *client.Client
}

func startLimited(t *testing.T, cfg server.Config) *limitsEnv {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := storage.Open(storage.DefaultOptions(t.TempDir()).WithSyncWrites(false).WithLogger(quiet))
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	cfg.Logger = quiet
	srv := server.New(st, cfg)
	c, stop := serveOn(t, srv)
	t.Cleanup(stop)
	(&testEnv{client: c, store: st}).defineUsers(t, 0)
	return &limitsEnv{srv: srv, store: st, client: c}
}

var statsSchema = arrow.NewSchema([]arrow.Field{
	{Name: "user_id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "region", Type: arrow.BinaryTypes.String},
	{Name: "event_timestamp", Type: &arrow.TimestampType{Unit: arrow.Microsecond}},
	{Name: "clicks", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "score", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
}, nil)

// statsRecord builds rows [from, from+n) of view "stats": one per user,
// written an hour ago.
func statsRecord(from, n int) arrow.Record {
	b := array.NewRecordBuilder(memory.DefaultAllocator, statsSchema)
	defer b.Release()
	ts := arrow.Timestamp(time.Now().Add(-time.Hour).UnixMicro())
	for i := from; i < from+n; i++ {
		b.Field(0).(*array.Int64Builder).Append(int64(i))
		b.Field(1).(*array.StringBuilder).Append("eu")
		b.Field(2).(*array.TimestampBuilder).Append(ts)
		b.Field(3).(*array.Int64Builder).Append(int64(i))
		b.Field(4).(*array.Float64Builder).Append(0.5)
	}
	return b.NewRecord()
}

// statsTable is rows [0, rows) of view "stats" in records of batch rows.
func statsTable(rows, batch int) array.RecordReader {
	var recs []arrow.Record
	for from := 0; from < rows; from += batch {
		recs = append(recs, statsRecord(from, min(batch, rows-from)))
	}
	return recordReader(recs...)
}

// requireLimit checks that err is RESOURCE_EXHAUSTED, reason
// LIMIT_EXCEEDED, naming the limit's flag, its config field and msg.
func requireLimit(t *testing.T, err error, flag, field, msg string) {
	t.Helper()
	require.ErrorIs(t, err, client.ErrLimitExceeded)
	var ce *client.Error
	require.ErrorAs(t, err, &ce)
	require.Equal(t, codes.ResourceExhausted, ce.Code, ce.Message)
	require.Contains(t, ce.Message, msg)
	require.Contains(t, ce.Message, "timefence serve --"+flag)
	require.Contains(t, ce.Message, "server.Config."+field)
	require.Equal(t, flag, ce.Metadata["limit"])
}

func TestBulkWriteLimits(t *testing.T) {
	ctx := context.Background()
	t.Run("rows", func(t *testing.T) {
		cfg := server.DefaultConfig()
		cfg.MaxWriteRows = 1000
		env := startLimited(t, cfg)
		_, err := env.client.WriteTable(ctx, "stats", statsTable(1001, 400))
		requireLimit(t, err, "max-write-rows", "MaxWriteRows", "bulk write: more than 1000 rows, over the server's limit of 1000 rows per write")
		// The same limit holds for a gRPC write.
		rows := make([]client.Row, 1001)
		for i := range rows {
			rows[i] = client.Row{Key: []any{int64(i), "eu"}, EventTime: time.Now().Add(-time.Minute), Values: []any{int64(i), 1.0}}
		}
		_, err = env.client.Write(ctx, "stats", rows)
		requireLimit(t, err, "max-write-rows", "MaxWriteRows", "write: 1001 rows, more than 1000, over the server's limit of 1000 rows per write")
		require.Zero(t, env.store.Watermark(), "nothing of a refused write is written")
		res, err := env.client.WriteTable(ctx, "stats", statsTable(1000, 400))
		require.NoError(t, err, "a write at the limit is taken")
		require.Equal(t, 1000, res.Rows)
	})
	t.Run("bytes", func(t *testing.T) {
		cfg := server.DefaultConfig()
		cfg.MaxWriteBytes = 1 << 20
		env := startLimited(t, cfg)
		// A row of "stats" holds 4 values: well over 256 bytes decoded.
		_, err := env.client.WriteTable(ctx, "stats", statsTable(4096, 1024))
		requireLimit(t, err, "max-write-bytes", "MaxWriteBytes", "of server memory")
		require.Contains(t, err.Error(), "limit of 1 MiB per bulk write")
		require.Zero(t, env.store.Watermark(), "nothing of a refused write is written")
		_, err = env.client.WriteTable(ctx, "stats", statsTable(1024, 1024))
		require.NoError(t, err, "a write well under the limit is taken")
	})
}

// spineOf is a spine of rows users of "stats", all at now.
func spineOf(rows int) array.RecordReader {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "user_id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "region", Type: arrow.BinaryTypes.String},
		{Name: "event_timestamp", Type: &arrow.TimestampType{Unit: arrow.Microsecond}},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	ts := arrow.Timestamp(time.Now().UnixMicro())
	for i := range rows {
		b.Field(0).(*array.Int64Builder).Append(int64(i))
		b.Field(1).(*array.StringBuilder).Append("eu")
		b.Field(2).(*array.TimestampBuilder).Append(ts)
	}
	return recordReader(b.NewRecord())
}

func TestSpineLimits(t *testing.T) {
	ctx := context.Background()
	join := func(env *limitsEnv, rows int) (called bool, err error) {
		_, err = env.client.GetHistorical(ctx, "all", []string{"stats"}, spineOf(rows), func(arrow.Record) error { called = true; return nil })
		return called, err
	}
	t.Run("rows", func(t *testing.T) {
		cfg := server.DefaultConfig()
		cfg.MaxSpineRows = 100
		env := startLimited(t, cfg)
		called, err := join(env, 101)
		requireLimit(t, err, "max-spine-rows", "MaxSpineRows", "spine: more than 100 rows, over the server's limit of 100 rows per spine")
		require.False(t, called, "nothing is streamed")
		called, err = join(env, 100)
		require.NoError(t, err, "a spine at the limit is joined")
		require.True(t, called)
	})
	t.Run("bytes", func(t *testing.T) {
		cfg := server.DefaultConfig()
		cfg.MaxSpineBytes = 4 << 10
		env := startLimited(t, cfg)
		// 8 + 8 bytes of key and time, 4 + 2 of region per row.
		called, err := join(env, 1000)
		requireLimit(t, err, "max-spine-bytes", "MaxSpineBytes", "spine: more than 4 KiB of Arrow data")
		require.False(t, called, "nothing is streamed")
		_, err = join(env, 50)
		require.NoError(t, err, "a spine under the limit is joined")
	})
}

func TestOnlineLimit(t *testing.T) {
	cfg := server.DefaultConfig()
	cfg.MaxOnlineValues = 10
	env := startLimited(t, cfg)
	ctx := context.Background()
	keys := func(n int) [][]any {
		out := make([][]any, n)
		for i := range out {
			out[i] = []any{i, "eu"}
		}
		return out
	}
	_, err := env.client.GetOnline(ctx, []string{"stats"}, []string{"user_id", "region"}, keys(6))
	requireLimit(t, err, "max-online-values", "MaxOnlineValues",
		"entity_rows: 6 rows × 2 features = 12 values, over the server's limit of 10 values per online request")
	res, err := env.client.GetOnline(ctx, []string{"stats"}, []string{"user_id", "region"}, keys(5))
	require.NoError(t, err, "a request at the limit is answered")
	require.Len(t, res.Rows, 5)
}

// TestBadRecordRefusedBeforeStreamEnds: a bulk write whose first record
// is bad is refused while the client still has records to send, and
// nothing is written.
func TestBadRecordRefusedBeforeStreamEnds(t *testing.T) {
	env := startLimited(t, server.DefaultConfig())
	ctx := context.Background()
	_, err := env.client.ApplyFeatureView(ctx, &timefencev1.FeatureView{Name: "ledger", Entity: "user", Features: []*timefencev1.Feature{
		{Name: "balance", Type: tDouble, Required: true},
		{Name: "note", Type: tString},
	}})
	require.NoError(t, err)
	ledger := arrow.NewSchema([]arrow.Field{
		{Name: "user_id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "region", Type: arrow.BinaryTypes.String},
		{Name: "event_timestamp", Type: &arrow.TimestampType{Unit: arrow.Second}},
		{Name: "balance", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "note", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	hourAgo := time.Now().Add(-time.Hour).Unix()
	// ledgerRecord holds 3 good rows, then row 3 as bad makes it.
	ledgerRecord := func(bad func(b *array.RecordBuilder)) arrow.Record {
		b := array.NewRecordBuilder(memory.DefaultAllocator, ledger)
		defer b.Release()
		for i := range 3 {
			b.Field(0).(*array.Int64Builder).Append(int64(i))
			b.Field(1).(*array.StringBuilder).Append("eu")
			b.Field(2).(*array.TimestampBuilder).Append(arrow.Timestamp(hourAgo))
			b.Field(3).(*array.Float64Builder).Append(1.5)
			b.Field(4).(*array.StringBuilder).Append("ok")
		}
		if bad != nil {
			bad(b)
		}
		return b.NewRecord()
	}
	row := func(ts int64, balance *float64) func(b *array.RecordBuilder) {
		return func(b *array.RecordBuilder) {
			b.Field(0).(*array.Int64Builder).Append(3)
			b.Field(1).(*array.StringBuilder).Append("eu")
			b.Field(2).(*array.TimestampBuilder).Append(arrow.Timestamp(ts))
			if balance == nil {
				b.Field(3).(*array.Float64Builder).AppendNull()
			} else {
				b.Field(3).(*array.Float64Builder).Append(*balance)
			}
			b.Field(4).(*array.StringBuilder).AppendNull()
		}
	}
	nan, one := math.NaN(), 1.0
	cases := []struct {
		name string
		bad  func(b *array.RecordBuilder)
		msg  string
	}{
		{"null in a required feature", row(hourAgo, nil), `row 3: feature "balance": null, but the feature is required`},
		{"event time before 1970", row(-86400, &one), `row 3: column "event_timestamp": event time before 1970-01-01`},
		{"NaN", row(hourAgo, &nan), `row 3: feature "balance": NaN is not a value`},
	}
	fc := flight.NewClientFromConn(env.client.Conn(), nil)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// The generous deadline only keeps a regression from hanging the test.
			ctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			stream, err := fc.DoPut(ctx)
			require.NoError(t, err)
			w := flight.NewRecordWriter(stream, ipc.WithSchema(ledger))
			w.SetFlightDescriptor(&flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: []byte(`{"op":"write","feature_view":"ledger"}`)})
			require.NoError(t, w.Write(ledgerRecord(c.bad)))
			// The client has more to send and has not closed its side: the
			// refusal comes anyway.
			_, err = stream.Recv()
			err = fromGRPC(err)
			require.ErrorIs(t, err, client.ErrInvalidArgument)
			require.ErrorContains(t, err, c.msg)
			require.Error(t, w.Write(ledgerRecord(nil)), "the stream is over: the rest cannot be sent")
			require.Zero(t, env.store.Watermark(), "nothing of the refused stream is written")
		})
	}
	// A good stream is still taken whole.
	_, err = env.client.WriteTable(ctx, "ledger", recordReader(ledgerRecord(nil)))
	require.NoError(t, err)
}

// callsWithCode counts the Flight calls of method that ended with code,
// from the server's metrics.
func callsWithCode(t *testing.T, srv *server.Server, method string, code codes.Code) float64 {
	return sample(t, scrape(t, srv), "grpc_server_handled_total", "grpc_service", "arrow.flight.protocol.FlightService",
		"grpc_method", method, "grpc_code", code.String())
}

// eventually polls cond every 20ms until it holds or a generous minute has
// passed.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting, after a minute, for %s", what)
		}
	}
}

// TestStalledReaderIsCut: an export or a join whose client never reads is
// ended after the idle timeout, and what its goroutines held is released.
func TestStalledReaderIsCut(t *testing.T) {
	cfg := server.DefaultConfig()
	// Long enough for the spine's upload, sent in small records, to make
	// steady progress on a busy machine; the stalled reads wait far longer.
	cfg.StreamIdleTimeout = 2 * time.Second
	env := startLimited(t, cfg)
	// Three records of export, written straight to the store (a write over
	// Flight could itself be cut by so short a timeout on a busy machine).
	rows := make([]storage.Row, 150_000)
	at := time.Now().Add(-time.Hour).UnixNano()
	for i := range rows {
		rows[i] = storage.Row{Key: []storage.Value{storage.Int64(int64(i)), storage.String("eu")}, EventTime: at,
			Values: []storage.Value{storage.Int64(int64(i)), storage.Float64(0.5)}}
	}
	_, err := env.store.Write(context.Background(), storage.Batch{View: "stats", Rows: rows})
	require.NoError(t, err)

	// A client that takes at most 64 KiB per stream before it reads: a
	// result of more than one record fills that at once and then waits.
	conn, err := grpc.NewClient(env.client.Conn().Target(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithInitialWindowSize(64<<10), grpc.WithInitialConnWindowSize(64<<10),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)))
	require.NoError(t, err)
	defer conn.Close()
	_, err = healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{})
	require.NoError(t, err)
	fc := flight.NewClientFromConn(conn, nil)
	spine := spineOf(100_000) // more rows than one result record holds
	defer spine.Release()
	cases := []struct {
		method string
		open   func(ctx context.Context) (flight.DataStreamReader, error)
	}{
		{"DoGet", func(ctx context.Context) (flight.DataStreamReader, error) {
			return fc.DoGet(ctx, &flight.Ticket{Ticket: []byte(`{"op":"export","split":"all","feature_view":"stats"}`)})
		}},
		{"DoExchange", func(ctx context.Context) (flight.DataStreamReader, error) {
			stream, err := fc.DoExchange(ctx)
			if err != nil {
				return nil, err
			}
			w := flight.NewRecordWriter(stream, ipc.WithSchema(spine.Schema()))
			w.SetFlightDescriptor(&flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: []byte(`{"op":"historical","split":"all","features":["stats"]}`)})
			for spine.Next() {
				// Small records: each arrives well within the idle limit.
				rec := spine.Record()
				for off := int64(0); off < rec.NumRows(); off += 10_000 {
					part := rec.NewSlice(off, min(off+10_000, rec.NumRows()))
					err := w.Write(part)
					part.Release()
					if err != nil {
						return nil, err
					}
				}
			}
			if err := w.Close(); err != nil {
				return nil, err
			}
			return stream, stream.CloseSend()
		}},
	}
	for _, c := range cases {
		t.Run(c.method, func(t *testing.T) {
			baseline := runtime.NumGoroutine()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			stream, err := c.open(ctx)
			require.NoError(t, err)
			eventually(t, "the server to end the unread stream", func() bool { return callsWithCode(t, env.srv, c.method, codes.DeadlineExceeded) == 1 })

			// Reading now gets what was sent before the cut, then the status.
			for err == nil {
				_, err = stream.Recv()
			}
			err = fromGRPC(err)
			require.ErrorIs(t, err, client.ErrStreamIdle)
			require.Equal(t, codes.DeadlineExceeded, codeOf(err))
			require.ErrorContains(t, err, "flight "+c.method+": the client read nothing for 2s, so the server closed the stream")
			require.ErrorContains(t, err, "timefence serve --stream-idle-timeout")
			eventually(t, "the goroutines of the stream to end", func() bool { return runtime.NumGoroutine() <= baseline })
		})
	}

	// The server still serves.
	res, err := env.client.GetOnline(context.Background(), []string{"stats:clicks"}, []string{"user_id", "region"}, [][]any{{7, "eu"}})
	require.NoError(t, err)
	require.Equal(t, int64(7), res.Rows[0][0].Value)
}

// TestStalledWriterIsCut: a bulk write whose client stops sending is ended
// after the idle timeout, and nothing of it is written.
func TestStalledWriterIsCut(t *testing.T) {
	cfg := server.DefaultConfig()
	cfg.StreamIdleTimeout = 300 * time.Millisecond
	env := startLimited(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	stream, err := flight.NewClientFromConn(env.client.Conn(), nil).DoPut(ctx)
	require.NoError(t, err)
	w := flight.NewRecordWriter(stream, ipc.WithSchema(statsSchema))
	w.SetFlightDescriptor(&flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: []byte(`{"op":"write","feature_view":"stats"}`)})
	require.NoError(t, w.Write(statsRecord(0, 10)))
	// The client neither sends more nor closes its side.
	_, err = stream.Recv()
	err = fromGRPC(err)
	require.ErrorIs(t, err, client.ErrStreamIdle)
	require.Equal(t, codes.DeadlineExceeded, codeOf(err))
	require.ErrorContains(t, err, "flight DoPut: the client sent nothing for 300ms")
	require.Zero(t, env.store.Watermark(), "nothing of the stalled write is written")
}
