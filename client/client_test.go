package client_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/timefence/timefence/client"
)

func TestGetOnlineWithTimeout(t *testing.T) {
	addr, stop := exampleServer()
	defer stop()
	c, err := client.Dial(addr)
	require.NoError(t, err)
	defer c.Close()
	ctx := context.Background()
	_, err = c.Write(ctx, "user_stats", []client.Row{{Key: []any{int64(7)}, EventTime: time.Now().Add(-time.Minute), Values: []any{int64(3)}}})
	require.NoError(t, err)

	// A budget the call fits in: the answer.
	res, err := c.GetOnline(ctx, []string{"user_stats"}, []string{"user_id"}, [][]any{{int64(7)}}, client.WithTimeout(10*time.Second))
	require.NoError(t, err)
	require.Equal(t, int64(3), res.Rows[0][0].Value)

	// A budget no call fits in: a deadline error, matching the context's.
	_, err = c.GetOnline(ctx, []string{"user_stats"}, []string{"user_id"}, [][]any{{int64(7)}}, client.WithTimeout(time.Nanosecond))
	require.Error(t, err)
	require.True(t, errors.Is(err, context.DeadlineExceeded), "%v", err)

	// A cancelled context: a cancellation error.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = c.GetOnline(cctx, []string{"user_stats"}, []string{"user_id"}, [][]any{{int64(7)}})
	require.True(t, errors.Is(err, context.Canceled), "%v", err)
}
