package server_test

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
	"github.com/timefence/timefence/client"
	"github.com/timefence/timefence/server"
	"github.com/timefence/timefence/storage"
)

func TestMetricsCountCalls(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := storage.Open(storage.DefaultOptions(t.TempDir()).WithSyncWrites(false).WithLogger(quiet))
	require.NoError(t, err)
	defer st.Close()
	cfg := server.DefaultConfig()
	cfg.Logger = quiet
	srv := server.New(st, cfg)
	c, stop := serveOn(t, srv)
	defer stop()
	ctx := context.Background()
	for range 3 {
		_, err := c.Registry.ListSplits(ctx, &timefencev1.ListSplitsRequest{})
		require.NoError(t, err)
	}
	_, err = c.Registry.GetSplit(ctx, &timefencev1.GetSplitRequest{Name: "nope"})
	require.Error(t, err)
	rec := httptest.NewRecorder()
	srv.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	require.Contains(t, body, `timefence_calls_total{method="/timefence.v1.RegistryService/ListSplits",code="OK"} 3`)
	require.Contains(t, body, `timefence_calls_total{method="/timefence.v1.RegistryService/GetSplit",code="NotFound"} 1`)
	require.Contains(t, body, `timefence_call_seconds_count{method="/timefence.v1.RegistryService/ListSplits"} 3`)
	require.Contains(t, body, "timefence_watermark 0")
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
