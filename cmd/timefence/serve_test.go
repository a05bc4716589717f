package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
	"github.com/timefence/timefence/client"
)

var binary string

func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.fuzzworker"); f != nil && f.Value.String() == "true" {
		os.Exit(m.Run()) // a fuzz worker runs only the fuzz target: no binary needed
	}
	dir, err := os.MkdirTemp("", "timefence-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "timefence")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

// startBinary runs `timefence serve` and waits until it reports SERVING.
func startBinary(t *testing.T, dir, addr string, flags ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"serve", "--data", dir, "--addr", addr, "--log-level", "warn"}, flags...)...)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	c, err := client.Dial(addr)
	require.NoError(t, err)
	defer c.Close()
	hc := healthpb.NewHealthClient(c.Conn())
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{})
		cancel()
		if err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			return cmd
		}
		require.True(t, time.Now().Before(deadline), "server did not become healthy: %v", err)
		time.Sleep(20 * time.Millisecond)
	}
}

// TestKillNineKeepsAcknowledgedWrites writes batches from two clients,
// kills the server with SIGKILL mid-stream, restarts it and checks that
// every acknowledged batch is fully present and no batch is partly visible.
func TestKillNineKeepsAcknowledgedWrites(t *testing.T) {
	dir, addr := t.TempDir(), freeAddr(t)
	const rowsPerBatch = 4
	var mu sync.Mutex
	acked := map[int]bool{}
	attempted := 0
	for cycle := range 3 {
		srv := startBinary(t, dir, addr)
		c, err := client.Dial(addr)
		require.NoError(t, err)
		ctx := context.Background()
		if cycle == 0 {
			_, err = c.ApplyEntity(ctx, &timefencev1.Entity{Name: "item", JoinKeys: []*timefencev1.JoinKey{{Name: "item_id", Type: timefencev1.ValueType_VALUE_TYPE_INT64}}})
			require.NoError(t, err)
			_, err = c.ApplyFeatureView(ctx, &timefencev1.FeatureView{Name: "v", Entity: "item", Features: []*timefencev1.Feature{{Name: "batch", Type: timefencev1.ValueType_VALUE_TYPE_INT64}}})
			require.NoError(t, err)
		}
		// Verify everything acknowledged so far.
		verify(t, c, acked, attempted, rowsPerBatch)
		var wg sync.WaitGroup
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					mu.Lock()
					id := attempted
					attempted++
					mu.Unlock()
					rows := make([]client.Row, rowsPerBatch)
					for r := range rows {
						rows[r] = client.Row{Key: []any{int64(id*rowsPerBatch + r)}, EventTime: time.Now(), Values: []any{int64(id)}}
					}
					wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
					_, err := c.Write(wctx, "v", rows, client.WithBatchID(fmt.Sprint("b", id)))
					cancel()
					if err != nil {
						return // the server is gone
					}
					mu.Lock()
					acked[id] = true
					mu.Unlock()
				}
			}()
		}
		time.Sleep(time.Duration(150+cycle*100) * time.Millisecond)
		require.NoError(t, srv.Process.Signal(syscall.SIGKILL))
		_ = srv.Wait()
		wg.Wait()
		c.Close()
	}
	srv := startBinary(t, dir, addr)
	defer func() { _ = srv.Process.Signal(syscall.SIGTERM); _ = srv.Wait() }()
	c, err := client.Dial(addr)
	require.NoError(t, err)
	defer c.Close()
	verify(t, c, acked, attempted, rowsPerBatch)
	require.Greater(t, len(acked), 10, "too few writes were acknowledged to prove anything")
	t.Logf("cycles=3 attempted=%d acknowledged=%d lost=0 partial=0", attempted, len(acked))
}

func verify(t *testing.T, c *client.Client, acked map[int]bool, attempted, rowsPerBatch int) {
	t.Helper()
	if attempted == 0 {
		return
	}
	keys := make([][]any, attempted*rowsPerBatch)
	for i := range keys {
		keys[i] = []any{int64(i)}
	}
	res, err := c.GetOnline(context.Background(), []string{"v:batch"}, []string{"item_id"}, keys)
	require.NoError(t, err)
	for id := range attempted {
		present := 0
		for r := range rowsPerBatch {
			fv := res.Rows[id*rowsPerBatch+r][0]
			if fv.Status == client.Present {
				require.Equal(t, int64(id), fv.Value)
				present++
			}
		}
		require.Contains(t, []int{0, rowsPerBatch}, present, "batch %d is partially visible", id)
		if acked[id] {
			require.Equal(t, rowsPerBatch, present, "acknowledged batch %d was lost", id)
		}
	}
}
