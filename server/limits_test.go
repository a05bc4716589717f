package server_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v15/arrow/flight"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
	"github.com/timefence/timefence/client"
	"github.com/timefence/timefence/server"
	"github.com/timefence/timefence/storage"
)

// startWith runs a server with cfg; stop cancels it and returns Serve's
// result and how long the stop took.
func startWith(t *testing.T, cfg server.Config) (c *client.Client, st *storage.Store, stop func() (error, time.Duration)) {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := storage.Open(storage.DefaultOptions(t.TempDir()).WithSyncWrites(false).WithLogger(quiet))
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	cfg.Logger = quiet
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- server.New(st, cfg).Serve(ctx, lis) }()
	c, err = client.Dial(lis.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c, st, func() (error, time.Duration) {
		start := time.Now()
		cancel()
		select {
		case err := <-done:
			return err, time.Since(start)
		case <-time.After(30 * time.Second):
			t.Fatal("Serve did not return after its context was cancelled")
			return nil, 0
		}
	}
}

func TestOversizedMessageRefused(t *testing.T) {
	cfg := server.DefaultConfig()
	cfg.MaxMessageBytes = 1 << 20
	c, st, stop := startWith(t, cfg)
	defer stop()
	env := &testEnv{client: c, store: st}
	env.defineUsers(t, 0)
	huge := strings.Repeat("x", 2<<20)
	_, err := c.ApplyEntity(context.Background(), &timefencev1.Entity{Name: "big", Description: huge,
		JoinKeys: []*timefencev1.JoinKey{{Name: "id", Type: tInt64}}})
	require.Equal(t, codes.ResourceExhausted, status.Code(errorsUnwrapStatus(err)), "%v", err)
	// Still up, nothing written.
	_, err = timefencev1.NewRegistryServiceClient(c.Conn()).GetEntity(context.Background(), &timefencev1.GetEntityRequest{Name: "big"})
	require.Equal(t, codes.NotFound, status.Code(err))
}

// errorsUnwrapStatus returns a gRPC status error for a client error.
func errorsUnwrapStatus(err error) error {
	if ce, ok := err.(*client.Error); ok {
		return status.Error(ce.Code, ce.Message)
	}
	return err
}

// TestGracefulStopIsBounded: a stream that never finishes cannot hold the
// server past its stop timeout.
func TestGracefulStopIsBounded(t *testing.T) {
	cfg := server.DefaultConfig()
	cfg.StopTimeout = 300 * time.Millisecond
	c, _, stop := startWith(t, cfg)
	fc := flight.NewClientFromConn(c.Conn(), nil)
	stream, err := fc.DoExchange(context.Background())
	require.NoError(t, err)
	// Half a request: the server waits for the spine that never comes.
	require.NoError(t, stream.Send(&flight.FlightData{FlightDescriptor: &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: []byte(`{"op":"historical"}`)}}))
	time.Sleep(50 * time.Millisecond)
	err, took := stop()
	require.NoError(t, err)
	t.Logf("stopped in %s with a stream open", took)
	_, err = stream.Recv()
	require.Error(t, err, "the open stream is cut")
}

// TestDefaultDeadline: a call without a deadline gets the server's default.
func TestDefaultDeadline(t *testing.T) {
	cfg := server.DefaultConfig()
	cfg.DefaultTimeout = time.Nanosecond
	c, st, stop := startWith(t, cfg)
	defer stop()
	env := &testEnv{client: c, store: st}
	env.defineUsers(t, 0) // registry calls do not wait on anything
	_, err := c.Write(context.Background(), "stats", []client.Row{{Key: []any{1, "eu"}, EventTime: time.Now(), Values: []any{1, 1.0}}})
	require.Equal(t, codes.DeadlineExceeded, status.Code(errorsUnwrapStatus(err)), "%v", err)
	require.Zero(t, st.Watermark(), "a write past its deadline is not applied")
}

// TestBackupBadInput: a Backup asked to continue a backup that is not this
// store's, or with a footer missing its fields, is refused as bad input, and
// a full backup streams a file whose footer matches the store.
func TestBackupBadInput(t *testing.T) {
	c, st, stop := startWith(t, server.DefaultConfig())
	defer stop()
	ctx := context.Background()
	for name, after := range map[string]*timefencev1.BackupInfo{
		"no store id":   {NextSince: 5},
		"no next_since": {StoreId: st.ID()},
		"another store": {StoreId: "0123456789abcdef0123456789abcdef", NextSince: 5},
	} {
		_, err := c.Backup(ctx, io.Discard, after)
		require.ErrorIs(t, err, client.ErrInvalidArgument, name)
	}
	var buf strings.Builder
	info, err := c.Backup(ctx, &buf, nil)
	require.NoError(t, err)
	require.Equal(t, st.ID(), info.GetStoreId())
	require.True(t, strings.HasPrefix(buf.String(), "TFBACK01") && strings.HasSuffix(buf.String(), "TFBACKEN"))
}
