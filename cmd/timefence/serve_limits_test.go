package main

import (
	"context"
	"io"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
	"github.com/timefence/timefence/client"
)

// TestServeLimitFlags: the request limit flags of `timefence serve` reach
// the server, and a request past one is refused naming the flag.
func TestServeLimitFlags(t *testing.T) {
	addr := freeAddr(t)
	cmd := startBinary(t, filepath.Join(t.TempDir(), "data"), addr, "--max-online-values", "3", "--stream-idle-timeout", "90s")
	defer func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }()
	c, err := client.Dial(addr)
	require.NoError(t, err)
	defer c.Close()
	ctx := context.Background()
	_, err = c.ApplyEntity(ctx, &timefencev1.Entity{Name: "user", JoinKeys: []*timefencev1.JoinKey{{Name: "user_id", Type: timefencev1.ValueType_VALUE_TYPE_INT64}}})
	require.NoError(t, err)
	_, err = c.ApplyFeatureView(ctx, &timefencev1.FeatureView{Name: "stats", Entity: "user", Features: []*timefencev1.Feature{
		{Name: "clicks", Type: timefencev1.ValueType_VALUE_TYPE_INT64}}})
	require.NoError(t, err)
	_, err = c.GetOnline(ctx, []string{"stats"}, []string{"user_id"}, [][]any{{1}, {2}, {3}})
	require.NoError(t, err)
	_, err = c.GetOnline(ctx, []string{"stats"}, []string{"user_id"}, [][]any{{1}, {2}, {3}, {4}})
	require.ErrorIs(t, err, client.ErrLimitExceeded)
	var ce *client.Error
	require.ErrorAs(t, err, &ce)
	require.Equal(t, codes.ResourceExhausted, ce.Code)
	require.Contains(t, ce.Message, "over the server's limit of 3 values per online request (raised with timefence serve --max-online-values")
}

func TestServeRefusesBadLimits(t *testing.T) {
	for _, args := range [][]string{{"--max-spine-rows", "0"}, {"--stream-idle-timeout", "-1s"},
		{"--historical-concurrency", "0"}, {"--historical-parallelism", "-2"}} {
		err := run(context.Background(), append([]string{"serve", "--data", t.TempDir(), "--addr", "127.0.0.1:0"}, args...), io.Discard, io.Discard)
		require.EqualError(t, err, args[0]+": must be positive")
	}
	for _, nice := range []string{"-1", "20"} {
		err := run(context.Background(), []string{"serve", "--data", t.TempDir(), "--addr", "127.0.0.1:0", "--historical-nice", nice}, io.Discard, io.Discard)
		require.EqualError(t, err, "--historical-nice: must be between 0 and 19, not "+nice)
	}
	err := run(context.Background(), []string{"serve", "--data", t.TempDir(), "--max-write-bytes", "lots"}, io.Discard, io.Discard)
	require.ErrorContains(t, err, `"lots" is not a size`)
}
