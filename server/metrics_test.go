package server_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
	"github.com/timefence/timefence/client"
	"github.com/timefence/timefence/server"
	"github.com/timefence/timefence/storage"
)

// metricsServer serves a store opened with opts on loopback.
func metricsServer(t *testing.T, opts storage.Options) (*server.Server, *storage.Store, *client.Client) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := storage.Open(opts.WithSyncWrites(false).WithLogger(quiet))
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	cfg := server.DefaultConfig()
	cfg.Logger = quiet
	srv := server.New(st, cfg)
	c, stop := serveOn(t, srv)
	t.Cleanup(stop)
	return srv, st, c
}

// scrape gets the server's metrics from its handler over HTTP, as
// Prometheus does, and parses them.
func scrape(t *testing.T, srv *server.Server) map[string]*dto.MetricFamily {
	t.Helper()
	hs := httptest.NewServer(srv.MetricsHandler())
	defer hs.Close()
	resp, err := http.Get(hs.URL + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	return mfs
}

// sample returns the value of the sample of family name whose labels
// include the given name-value pairs; for a histogram, its count.
func sample(t *testing.T, mfs map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	mf, ok := mfs[name]
	require.True(t, ok, "no family %s", name)
next:
	for _, m := range mf.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue next
			}
		}
		switch mf.GetType() {
		case dto.MetricType_COUNTER:
			return m.GetCounter().GetValue()
		case dto.MetricType_GAUGE:
			return m.GetGauge().GetValue()
		case dto.MetricType_HISTOGRAM:
			return float64(m.GetHistogram().GetSampleCount())
		}
		return m.GetUntyped().GetValue()
	}
	require.Failf(t, "no sample", "%s%v", name, labels)
	return 0
}

// TestMetricsScrape: the handler serves the Go runtime, the process, the
// gRPC server metrics of real calls, and timefence's own: the watermark,
// the guard's refusals by reason and the historical queue.
func TestMetricsScrape(t *testing.T) {
	srv, st, c := metricsServer(t, storage.DefaultOptions(t.TempDir()))
	env := &testEnv{client: c, store: st}
	env.defineUsers(t, 0)
	ctx := context.Background()
	now := time.Now()
	_, err := c.Write(ctx, "stats", []client.Row{{Key: []any{1, "eu"}, EventTime: now.Add(-time.Minute), Values: []any{1, 1.0}}})
	require.NoError(t, err)
	for range 3 {
		_, err := timefencev1.NewRegistryServiceClient(c.Conn()).ListSplits(ctx, &timefencev1.ListSplitsRequest{})
		require.NoError(t, err)
	}
	_, err = timefencev1.NewRegistryServiceClient(c.Conn()).GetSplit(ctx, &timefencev1.GetSplitRequest{Name: "nope"})
	require.Error(t, err)
	spine := func(at time.Time) array.RecordReader {
		schema := arrow.NewSchema([]arrow.Field{{Name: "user_id", Type: arrow.PrimitiveTypes.Int64}, {Name: "region", Type: arrow.BinaryTypes.String},
			{Name: "event_timestamp", Type: &arrow.TimestampType{Unit: arrow.Nanosecond}}}, nil)
		b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
		b.Field(0).(*array.Int64Builder).Append(1)
		b.Field(1).(*array.StringBuilder).Append("eu")
		b.Field(2).(*array.TimestampBuilder).Append(arrow.Timestamp(at.UnixNano()))
		return recordReader(b.NewRecord())
	}
	nop := func(arrow.Record) error { return nil }
	_, err = c.GetHistorical(ctx, "all", []string{"stats"}, spine(now), nop)
	require.NoError(t, err)
	_, err = c.CreateSplit(ctx, "past", now.Add(-2*time.Hour), now.Add(-time.Hour))
	require.NoError(t, err)
	_, err = c.GetHistorical(ctx, "past", []string{"stats"}, spine(now), nop)
	require.ErrorIs(t, err, client.ErrCutoffExceeded)

	mfs := scrape(t, srv)
	require.Positive(t, sample(t, mfs, "go_goroutines"))
	sample(t, mfs, "process_cpu_seconds_total")
	require.Positive(t, sample(t, mfs, "process_start_time_seconds"))

	registry := []string{"grpc_service", "timefence.v1.RegistryService"}
	require.Equal(t, 3.0, sample(t, mfs, "grpc_server_handled_total", append(registry, "grpc_method", "ListSplits", "grpc_code", "OK")...))
	require.Equal(t, 1.0, sample(t, mfs, "grpc_server_handled_total", append(registry, "grpc_method", "GetSplit", "grpc_code", "NotFound")...))
	require.Equal(t, 3.0, sample(t, mfs, "grpc_server_handling_seconds", append(registry, "grpc_method", "ListSplits")...))
	require.Equal(t, dto.MetricType_HISTOGRAM, mfs["grpc_server_handling_seconds"].GetType())
	require.Equal(t, 1.0, sample(t, mfs, "grpc_server_handled_total", "grpc_service", "arrow.flight.protocol.FlightService",
		"grpc_method", "DoExchange", "grpc_code", "FailedPrecondition"))
	require.Zero(t, sample(t, mfs, "grpc_server_handled_total", append(registry, "grpc_method", "CreateSplit", "grpc_code", "Internal")...),
		"every method and code is there from the start")

	require.Equal(t, float64(st.Watermark()), sample(t, mfs, "timefence_watermark"))
	require.NotZero(t, st.Watermark())
	require.Equal(t, 1.0, sample(t, mfs, "timefence_guard_refusals_total", "reason", "CUTOFF_EXCEEDED"))
	require.Zero(t, sample(t, mfs, "timefence_guard_refusals_total", "reason", "FUTURE_TIME"))
	require.Zero(t, sample(t, mfs, "timefence_guard_refusals_total", "reason", "SPLIT_REQUIRED"))

	require.Equal(t, 1.0, sample(t, mfs, "timefence_historical_started_total"), "the refused join never queued")
	require.Zero(t, sample(t, mfs, "timefence_historical_running"))
	require.Zero(t, sample(t, mfs, "timefence_historical_queued"))
	sample(t, mfs, "timefence_historical_wait_seconds_total")
	require.Equal(t, 2.0, sample(t, mfs, "timefence_historical_concurrency_limit"))
	require.Equal(t, 10.0, sample(t, mfs, "timefence_historical_nice"))
}

// TestMetricsShowHistory: the columnar history of each view is in the
// metrics, before and after a compaction.
func TestMetricsShowHistory(t *testing.T) {
	srv, st, c := metricsServer(t, storage.DefaultOptions(t.TempDir()).WithFlushIdle(time.Hour))
	env := &testEnv{client: c, store: st}
	env.defineUsers(t, 0)
	for i := range 3 {
		_, err := c.Write(context.Background(), "stats", []client.Row{{Key: []any{i, "eu"}, EventTime: time.Now(), Values: []any{1, 1.0}}})
		require.NoError(t, err)
	}
	view := []string{"view", "stats"}
	mfs := scrape(t, srv)
	require.Equal(t, 3.0, sample(t, mfs, "timefence_history_tail_versions", view...))
	require.Equal(t, 3.0, sample(t, mfs, "timefence_history_tail_runs", view...))
	require.Zero(t, sample(t, mfs, "timefence_history_file_runs", view...))
	require.Zero(t, sample(t, mfs, "timefence_history_compactions_total", view...))
	require.NoError(t, st.Compact())
	mfs = scrape(t, srv)
	require.Zero(t, sample(t, mfs, "timefence_history_tail_versions", view...))
	require.Equal(t, 1.0, sample(t, mfs, "timefence_history_file_runs", view...))
	require.Equal(t, 3.0, sample(t, mfs, "timefence_history_file_versions", view...))
	require.Positive(t, sample(t, mfs, "timefence_history_file_bytes", view...))
	require.Positive(t, sample(t, mfs, "timefence_history_last_compaction_timestamp_seconds", view...))
	require.Equal(t, 1.0, sample(t, mfs, "timefence_history_compactions_total", view...))
	require.Zero(t, sample(t, mfs, "timefence_history_compaction_failing", view...))
	sample(t, mfs, "timefence_history_compacting", view...)
}

// serveOn serves srv on loopback and returns a client.
func serveOn(t *testing.T, srv *server.Server) (*client.Client, func()) {
	t.Helper()
	lis, err := netListen()
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lis) }()
	c, err := client.Dial(lis.Addr().String())
	require.NoError(t, err)
	return c, func() { c.Close(); cancel(); require.NoError(t, <-done) }
}
