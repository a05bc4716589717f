package server_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
	"github.com/timefence/timefence/client"
	"github.com/timefence/timefence/server"
	"github.com/timefence/timefence/storage"
)

// TestHealthPerService: health reports SERVING for the server ("") and for
// each of its services, NOT_FOUND for a service it does not have, and
// NOT_SERVING for every one once a graceful stop begins.
func TestHealthPerService(t *testing.T) {
	st, err := storage.Open(testStoreOptions(t.TempDir()))
	require.NoError(t, err)
	defer st.Close()
	cfg := server.DefaultConfig()
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	lis, err := netListen()
	require.NoError(t, err)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	done := make(chan error, 1)
	go func() { done <- server.New(st, cfg).Serve(ctx, lis) }()
	c, err := client.Dial(lis.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	hc := healthpb.NewHealthClient(c.Conn())

	services := []string{"",
		timefencev1.RegistryService_ServiceDesc.ServiceName,
		timefencev1.WriteService_ServiceDesc.ServiceName,
		timefencev1.OnlineService_ServiceDesc.ServiceName,
		timefencev1.DatasetService_ServiceDesc.ServiceName,
		timefencev1.AdminService_ServiceDesc.ServiceName,
		"arrow.flight.protocol.FlightService",
		"grpc.reflection.v1.ServerReflection",
	}
	watchCtx, endWatches := context.WithCancel(context.Background())
	defer endWatches()
	var watches []healthpb.Health_WatchClient
	for _, name := range services {
		resp, err := hc.Check(context.Background(), &healthpb.HealthCheckRequest{Service: name})
		require.NoError(t, err, "%q", name)
		require.Equal(t, healthpb.HealthCheckResponse_SERVING, resp.GetStatus(), "%q", name)
		w, err := hc.Watch(watchCtx, &healthpb.HealthCheckRequest{Service: name})
		require.NoError(t, err)
		first, err := w.Recv()
		require.NoError(t, err)
		require.Equal(t, healthpb.HealthCheckResponse_SERVING, first.GetStatus(), "%q", name)
		watches = append(watches, w)
	}
	_, err = hc.Check(context.Background(), &healthpb.HealthCheckRequest{Service: "timefence.v1.NoSuchService"})
	require.Equal(t, codes.NotFound, status.Code(err), "%v", err)

	stop()
	for i, w := range watches {
		resp, err := w.Recv()
		require.NoError(t, err, "%q", services[i])
		require.Equal(t, healthpb.HealthCheckResponse_NOT_SERVING, resp.GetStatus(), "%q", services[i])
	}
	endWatches() // the graceful stop waits for the open watches
	require.NoError(t, <-done)
}
