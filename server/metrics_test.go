package server_test

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

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

func TestMetricsCountCalls(t *testing.T) {
	srv, _, c := metricsServer(t, storage.DefaultOptions(t.TempDir()))
	ctx := context.Background()
	for range 3 {
		_, err := c.Registry.ListSplits(ctx, &timefencev1.ListSplitsRequest{})
		require.NoError(t, err)
	}
	_, err := c.Registry.GetSplit(ctx, &timefencev1.GetSplitRequest{Name: "nope"})
	require.Error(t, err)
	rec := httptest.NewRecorder()
	srv.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	require.Contains(t, body, `timefence_calls_total{method="/timefence.v1.RegistryService/ListSplits",code="OK"} 3`)
	require.Contains(t, body, `timefence_calls_total{method="/timefence.v1.RegistryService/GetSplit",code="NotFound"} 1`)
	require.Contains(t, body, `timefence_call_seconds_count{method="/timefence.v1.RegistryService/ListSplits"} 3`)
	require.Contains(t, body, "timefence_watermark 0")
	require.Contains(t, body, "timefence_historical_concurrency_limit 2\n")
	require.Contains(t, body, "timefence_historical_nice 10\n")
	require.Contains(t, body, "timefence_historical_running 0\n")
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
	scrape := func() string {
		rec := httptest.NewRecorder()
		srv.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		return rec.Body.String()
	}
	body := scrape()
	require.Contains(t, body, `timefence_history_tail_versions{view="stats"} 3`)
	require.Contains(t, body, `timefence_history_file_runs{view="stats"} 0`)
	require.NoError(t, st.Compact())
	body = scrape()
	require.Contains(t, body, `timefence_history_tail_versions{view="stats"} 0`)
	require.Contains(t, body, `timefence_history_file_runs{view="stats"} 1`)
	require.Contains(t, body, `timefence_history_file_versions{view="stats"} 3`)
	require.NotContains(t, body, `timefence_history_last_compaction_timestamp_seconds{view="stats"} 0`+"\n")
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
