package server_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/stretchr/testify/require"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/proto"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
	"github.com/timefence/timefence/client"
	"github.com/timefence/timefence/server"
	"github.com/timefence/timefence/storage"
)

// benchEnv loads views×versions versions over entities users into a fresh
// server, as backfills spread over 30 days, and returns a client.
func benchEnv(b *testing.B, entities, versions, views int) (*client.Client, int64, int64) {
	c := startServerWith(b, benchStoreOptions).client
	ctx := context.Background()
	_, err := c.ApplyEntity(ctx, &timefencev1.Entity{Name: "user", JoinKeys: []*timefencev1.JoinKey{{Name: "user_id", Type: tInt64}}})
	require.NoError(b, err)
	end := time.Now().Add(-7 * time.Hour).UnixNano()
	start := end - int64(30*24*time.Hour)
	rng := rand.New(rand.NewPCG(1, 2))
	for v := range views {
		name := fmt.Sprint("v", v)
		_, err = c.ApplyFeatureView(ctx, &timefencev1.FeatureView{Name: name, Entity: "user", Features: []*timefencev1.Feature{
			{Name: "a", Type: tInt64}, {Name: "b", Type: tDouble}, {Name: "c", Type: tDouble}}})
		require.NoError(b, err)
		const chunk = 200_000
		for off := 0; off < versions; off += chunk {
			n := min(chunk, versions-off)
			schema := arrow.NewSchema([]arrow.Field{{Name: "user_id", Type: arrow.PrimitiveTypes.Int64},
				{Name: "event_timestamp", Type: timestampNS}, {Name: "available_at", Type: timestampNS},
				{Name: "a", Type: arrow.PrimitiveTypes.Int64}, {Name: "b", Type: arrow.PrimitiveTypes.Float64}, {Name: "c", Type: arrow.PrimitiveTypes.Float64}}, nil)
			rb := array.NewRecordBuilder(memory.DefaultAllocator, schema)
			seen := map[[2]int64]bool{}
			for range n {
				u := rng.Int64N(int64(entities))
				ev := start + rng.Int64N(end-start)
				if seen[[2]int64{u, ev}] {
					continue
				}
				seen[[2]int64{u, ev}] = true
				rb.Field(0).(*array.Int64Builder).Append(u)
				rb.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(ev))
				rb.Field(2).(*array.TimestampBuilder).Append(arrow.Timestamp(ev + rng.Int64N(int64(6*time.Hour))))
				rb.Field(3).(*array.Int64Builder).Append(rng.Int64())
				rb.Field(4).(*array.Float64Builder).Append(rng.Float64())
				rb.Field(5).(*array.Float64Builder).Append(rng.Float64())
			}
			_, err := c.WriteTable(ctx, name, recordReader(rb.NewRecord()), client.Backfill())
			require.NoError(b, err)
		}
	}
	_, err = c.CreateSplit(ctx, "all", time.Unix(0, start), time.Unix(0, end+int64(7*time.Hour)))
	require.NoError(b, err)
	return c, start, end
}

// benchStoreOptions are the defaults, quiet.
func benchStoreOptions(dir string) storage.Options {
	return storage.DefaultOptions(dir).WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
}

var timestampNS = &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}

// BenchmarkHistoricalJoin joins a 100K-row spine against 3 views of 300K
// versions each through Flight, on loopback. Run with
//
//	go test ./server -run XXX -bench HistoricalJoin -benchtime 3x
func BenchmarkHistoricalJoin(b *testing.B) {
	const entities, spineRows = 100_000, 100_000
	c, start, end := benchEnv(b, entities, 300_000, 3)
	rng := rand.New(rand.NewPCG(3, 4))
	schema := arrow.NewSchema([]arrow.Field{{Name: "user_id", Type: arrow.PrimitiveTypes.Int64}, {Name: "event_timestamp", Type: timestampNS}}, nil)
	rb := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	for range spineRows {
		rb.Field(0).(*array.Int64Builder).Append(rng.Int64N(entities))
		rb.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(start + rng.Int64N(end-start)))
	}
	spine := rb.NewRecord()
	b.ResetTimer()
	for range b.N {
		rows := int64(0)
		_, err := c.GetHistorical(context.Background(), "all", []string{"v0", "v1", "v2"}, recordReader(spine),
			func(r arrow.Record) error { rows += r.NumRows(); return nil }, client.WithFullFeatureNames())
		require.NoError(b, err)
		require.Equal(b, int64(spineRows), rows)
	}
	b.ReportMetric(float64(spineRows*b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkOnline measures one online lookup of entities × 50 features over
// loopback gRPC, one call at a time, and breaks it down:
//
//   - health: a gRPC health check on the same connection, the floor;
//   - call: the client's GetOnline, end to end;
//   - call-logged: the same, every lookup kept in the serving log;
//   - raw: the gRPC call with a request built once, the result not converted;
//   - handler: the server's handler called directly (resolve, lookup, build
//     the response), without gRPC;
//   - the protobuf encoding and decoding of the request and the response.
//
// raw - handler - the four codings is gRPC's transport and loopback. Run with
//
//	go test ./server -run XXX -bench Online
func BenchmarkOnline(b *testing.B) {
	env := startServerWith(b, benchStoreOptions)
	c := env.client
	ctx := context.Background()
	_, err := c.ApplyEntity(ctx, &timefencev1.Entity{Name: "user", JoinKeys: []*timefencev1.JoinKey{{Name: "user_id", Type: tInt64}}})
	require.NoError(b, err)
	var feats []*timefencev1.Feature
	for i := range 50 {
		feats = append(feats, &timefencev1.Feature{Name: fmt.Sprint("f", i), Type: tDouble})
	}
	_, err = c.ApplyFeatureView(ctx, &timefencev1.FeatureView{Name: "wide", Entity: "user", Features: feats})
	require.NoError(b, err)
	const users = 10_000
	for off := 0; off < users; off += 1000 {
		var rows []client.Row
		for u := off; u < off+1000; u++ {
			vals := make([]any, 50)
			for i := range vals {
				vals[i] = float64(u * i)
			}
			rows = append(rows, client.Row{Key: []any{int64(u)}, EventTime: time.Now().Add(-time.Minute), Values: vals})
		}
		_, err := c.Write(ctx, "wide", rows)
		require.NoError(b, err)
	}
	health := healthpb.NewHealthClient(c.Conn())
	b.Run("health", func(b *testing.B) {
		for b.Loop() {
			if _, err := health.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	direct := server.New(env.store, server.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	online := timefencev1.NewOnlineServiceClient(c.Conn())
	for _, n := range []int{1, 100} {
		keys := make([][]any, n)
		req := &timefencev1.GetOnlineFeaturesRequest{Features: []string{"wide"}, JoinKeys: []string{"user_id"}}
		for i := range keys {
			keys[i] = []any{int64(i * 97 % users)}
			req.EntityRows = append(req.EntityRows, &timefencev1.EntityRow{Values: []*timefencev1.Value{{Kind: &timefencev1.Value_Int64Value{Int64Value: int64(i * 97 % users)}}}})
		}
		resp, err := direct.GetOnlineFeatures(ctx, req)
		require.NoError(b, err)
		reqBytes, err := proto.Marshal(req)
		require.NoError(b, err)
		respBytes, err := proto.Marshal(resp)
		require.NoError(b, err)
		parts := []struct {
			name string
			fn   func() error
		}{
			{"call", func() error {
				_, err := c.GetOnline(ctx, []string{"wide"}, []string{"user_id"}, keys)
				return err
			}},
			// Every call kept in the serving log, stored in the background.
			{"call-logged", func() error {
				_, err := c.GetOnline(ctx, []string{"wide"}, []string{"user_id"}, keys, client.Logged())
				return err
			}},
			{"raw", func() error { _, err := online.GetOnlineFeatures(ctx, req); return err }},
			{"handler", func() error { _, err := direct.GetOnlineFeatures(ctx, req); return err }},
			{"encode-request", func() error { _, err := proto.Marshal(req); return err }},
			{"decode-request", func() error { return proto.Unmarshal(reqBytes, new(timefencev1.GetOnlineFeaturesRequest)) }},
			{"encode-response", func() error { _, err := proto.Marshal(resp); return err }},
			// As the server sends it (onlinewire.go).
			{"encode-response-server", func() error {
				b, err := server.MarshalResponse(resp)
				b.Free()
				return err
			}},
			{"decode-response", func() error { return proto.Unmarshal(respBytes, new(timefencev1.GetOnlineFeaturesResponse)) }},
		}
		for _, p := range parts {
			b.Run(fmt.Sprintf("entities=%d/%s", n, p.name), func(b *testing.B) {
				for b.Loop() {
					if err := p.fn(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// durableBenchServer runs a server over a store with default, durable
// options for the benchmark's duration.
func durableBenchServer(b *testing.B) (*client.Client, context.Context) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := storage.Open(storage.DefaultOptions(b.TempDir()).WithLogger(quiet))
	require.NoError(b, err)
	b.Cleanup(func() { st.Close() })
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	cfg := server.DefaultConfig()
	cfg.Logger = quiet
	go func() { _ = server.New(st, cfg).Serve(ctx, lis) }()
	c, err := client.Dial(lis.Addr().String())
	require.NoError(b, err)
	b.Cleanup(func() { c.Close() })
	return c, ctx
}

// BenchmarkIngest writes 100K rows × 10 features per Flight DoPut batch
// into a durable store (fsync on). Run with
//
//	go test ./server -run XXX -bench Ingest -benchtime 5x
func BenchmarkIngest(b *testing.B) {
	c, ctx := durableBenchServer(b)
	_, err := c.ApplyEntity(ctx, &timefencev1.Entity{Name: "user", JoinKeys: []*timefencev1.JoinKey{{Name: "user_id", Type: tInt64}}})
	require.NoError(b, err)
	fields := []arrow.Field{{Name: "user_id", Type: arrow.PrimitiveTypes.Int64}, {Name: "event_timestamp", Type: timestampNS}}
	var feats []*timefencev1.Feature
	for i := range 10 {
		feats = append(feats, &timefencev1.Feature{Name: fmt.Sprint("f", i), Type: tDouble})
		fields = append(fields, arrow.Field{Name: fmt.Sprint("f", i), Type: arrow.PrimitiveTypes.Float64})
	}
	_, err = c.ApplyFeatureView(ctx, &timefencev1.FeatureView{Name: "wide", Entity: "user", Features: feats})
	require.NoError(b, err)
	const rows = 100_000
	schema := arrow.NewSchema(fields, nil)
	b.ResetTimer()
	for n := range b.N {
		b.StopTimer()
		rb := array.NewRecordBuilder(memory.DefaultAllocator, schema)
		now := time.Now().UnixNano()
		for r := range rows {
			rb.Field(0).(*array.Int64Builder).Append(int64(n*rows + r))
			rb.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(now))
			for f := range 10 {
				rb.Field(2 + f).(*array.Float64Builder).Append(float64(r * f))
			}
		}
		rec := rb.NewRecord()
		b.StartTimer()
		_, err := c.WriteTable(ctx, "wide", recordReader(rec))
		require.NoError(b, err)
	}
	b.ReportMetric(float64(rows*10*b.N)/b.Elapsed().Seconds(), "values/s")
}

// BenchmarkSmallBatches is durable ingest by 8 writers of 100-row batches
// over gRPC, each batch fsynced before it is acknowledged.
func BenchmarkSmallBatches(b *testing.B) {
	c, ctx := durableBenchServer(b)
	_, err := c.ApplyEntity(ctx, &timefencev1.Entity{Name: "user", JoinKeys: []*timefencev1.JoinKey{{Name: "user_id", Type: tInt64}}})
	require.NoError(b, err)
	_, err = c.ApplyFeatureView(ctx, &timefencev1.FeatureView{Name: "narrow", Entity: "user", Features: []*timefencev1.Feature{
		{Name: "a", Type: tInt64}, {Name: "b", Type: tDouble}, {Name: "c", Type: tDouble}}})
	require.NoError(b, err)
	const writers, rows = 8, 100
	b.ResetTimer()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			batch := make([]client.Row, rows)
			for n := next.Add(1); n <= int64(b.N); n = next.Add(1) {
				now := time.Now()
				for r := range batch {
					batch[r] = client.Row{Key: []any{n*rows + int64(r)}, EventTime: now, Values: []any{int64(r), 1.5, 2.5}}
				}
				if _, err := c.Write(ctx, "narrow", batch); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "batches/s")
	b.ReportMetric(float64(b.N*rows*3)/b.Elapsed().Seconds(), "values/s")
}

// BenchmarkSkewReport replays 2,000 logged lookups of 1 entity × 50
// features, and 200 of 100 × 50, with GetSkewReport. Run with
//
//	go test ./server -run XXX -bench SkewReport
func BenchmarkSkewReport(b *testing.B) {
	for _, shape := range []struct{ entities, lookups int }{{1, 2000}, {100, 200}} {
		b.Run(fmt.Sprintf("entities=%d", shape.entities), func(b *testing.B) {
			env := startServerWith(b, benchStoreOptions)
			c := env.client
			ctx := context.Background()
			_, err := c.ApplyEntity(ctx, &timefencev1.Entity{Name: "user", JoinKeys: []*timefencev1.JoinKey{{Name: "user_id", Type: tInt64}}})
			require.NoError(b, err)
			var feats []*timefencev1.Feature
			for i := range 50 {
				feats = append(feats, &timefencev1.Feature{Name: fmt.Sprint("f", i), Type: tDouble})
			}
			_, err = c.ApplyFeatureView(ctx, &timefencev1.FeatureView{Name: "wide", Entity: "user", Features: feats})
			require.NoError(b, err)
			var rows []client.Row
			for u := range 1000 {
				vals := make([]any, 50)
				for i := range vals {
					vals[i] = float64(u * i)
				}
				rows = append(rows, client.Row{Key: []any{int64(u)}, EventTime: time.Now().Add(-time.Minute), Values: vals})
			}
			_, err = c.Write(ctx, "wide", rows)
			require.NoError(b, err)
			for n := range shape.lookups {
				keys := make([][]any, shape.entities)
				for i := range keys {
					keys[i] = []any{int64((n*31 + i*97) % 1000)}
				}
				_, err := c.GetOnline(ctx, []string{"wide"}, []string{"user_id"}, keys, client.Logged())
				require.NoError(b, err)
			}
			b.ResetTimer()
			for b.Loop() {
				rep, err := c.SkewReport(ctx, time.Time{}, time.Time{}, 0)
				require.NoError(b, err)
				require.Equal(b, int64(shape.lookups), rep.GetLookups())
				require.Zero(b, rep.GetMismatches())
			}
			b.ReportMetric(float64(shape.lookups*b.N)/b.Elapsed().Seconds(), "lookups/s")
			b.ReportMetric(float64(shape.lookups*shape.entities*50*b.N)/b.Elapsed().Seconds(), "values/s")
		})
	}
}
