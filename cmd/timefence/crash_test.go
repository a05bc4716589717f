package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/stretchr/testify/require"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
	"github.com/timefence/timefence/client"
)

// TestCrashLoop is the crash harness: writers send batches over gRPC and
// over Flight — small ones, and large ones that Badger keeps in several
// chunks — while the server, set to compact its columnar history
// constantly, is killed with SIGKILL at random moments, cycle after cycle.
// Kills therefore land during writes, run file writes and merges. Before
// most restarts the server is also killed while it starts: while it checks
// its tables, replays its log or rebuilds its columnar history. Every start after that must succeed (0 failed opens),
// and an export of the whole view must hold every acknowledged batch whole
// and no batch in part.
//
//	TIMEFENCE_CRASH_CYCLES=50 go test ./cmd/timefence -run CrashLoop -v
func TestCrashLoop(t *testing.T) {
	cycles := 4
	if v, err := strconv.Atoi(os.Getenv("TIMEFENCE_CRASH_CYCLES")); err == nil && v > 0 {
		cycles = v
	}
	dir, addr := t.TempDir(), freeAddr(t)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	l := newLedger()
	var partialSeen, lost, runFiles, startKills int
	for cycle := 0; cycle <= cycles; cycle++ {
		files, _ := filepath.Glob(filepath.Join(dir, "history", "*", "*.run"))
		runFiles = max(runFiles, len(files))
		for range rng.IntN(3) * min(cycle, 1) {
			killDuringStart(t, dir, addr, time.Duration(rng.IntN(200))*time.Millisecond)
			startKills++
		}
		srv := startBinary(t, dir, addr, "--flush-versions", "2000", "--flush-idle", "100ms")
		c, err := client.Dial(addr)
		require.NoError(t, err)
		ctx := context.Background()
		if cycle == 0 {
			applyFaultView(t, c)
		}
		p, lo := checkBatches(t, c, l.sizes, l.acked)
		partialSeen, lost = partialSeen+p, lost+lo
		if cycle == cycles {
			_ = srv.Process.Signal(syscall.SIGTERM)
			_ = srv.Wait()
			c.Close()
			break
		}
		wctx, stop := context.WithCancel(ctx)
		frng := rand.New(rand.NewPCG(rng.Uint64(), 2)) // the Flight writer's own
		wg := writeUntilDone(wctx, c, l, func() int {  // medium batches, and now and then a large one
			if frng.IntN(4) == 0 {
				return 100_000
			}
			return 500
		})
		time.Sleep(time.Duration(300+rng.IntN(2700)) * time.Millisecond)
		require.NoError(t, srv.Process.Signal(syscall.SIGKILL))
		_ = srv.Wait()
		stop()
		wg.Wait()
		c.Close()
	}
	require.NotZero(t, runFiles, "the kills found run files on disk")
	require.Zero(t, lost, "acknowledged batches lost")
	require.Zero(t, partialSeen, "batches partially visible")
	big := 0
	for id, n := range l.sizes {
		if n >= 100_000 && l.acked[id] {
			big++
		}
	}
	t.Logf("cycles=%d kills during start=%d failed opens=0 batches attempted=%d acknowledged=%d (of which %d of 100K rows) lost=%d partial=%d; at most %d run files at a restart",
		cycles, startKills, len(l.sizes), len(l.acked), big, lost, partialSeen, runFiles)
}

// killDuringStart starts the server and kills it with SIGKILL after delay,
// most likely while it is still opening its store.
// ledger numbers the batches a test writes, with their sizes, and records
// which were acknowledged.
type ledger struct {
	mu    sync.Mutex
	sizes map[int64]int // batch id -> rows, for every batch attempted
	acked map[int64]bool
	next  int64
}

func newLedger() *ledger { return &ledger{sizes: map[int64]int{}, acked: map[int64]bool{}} }

// batch numbers a new batch of rows.
func (l *ledger) batch(rows int) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.next++
	l.sizes[l.next] = rows
	return l.next
}

func (l *ledger) ack(id int64) {
	l.mu.Lock()
	l.acked[id] = true
	l.mu.Unlock()
}

// writeUntilDone writes batches to the view of applyFaultView until ctx is
// done, from two goroutines: 3 rows at a time over gRPC, and flightRows()
// at a time over Flight. Each batch has its id as its batch id and is
// numbered and acknowledged in l. Wait on the group once ctx is done.
func writeUntilDone(ctx context.Context, c *client.Client, l *ledger, flightRows func() int) *sync.WaitGroup {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			id := l.batch(3)
			rows := make([]client.Row, 3)
			for r := range rows {
				rows[r] = client.Row{Key: []any{id*1_000_000 + int64(r)}, EventTime: time.Now(), Values: []any{id, "g"}}
			}
			if _, err := c.Write(ctx, "v", rows, client.WithBatchID(fmt.Sprint(id))); err != nil {
				return
			}
			l.ack(id)
		}
	}()
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			n := flightRows()
			id := l.batch(n)
			if _, err := c.WriteTable(ctx, "v", faultTable(id, n, 1), client.WithBatchID(fmt.Sprint(id))); err != nil {
				return
			}
			l.ack(id)
		}
	}()
	return &wg
}

// applyFaultView defines the view "v" the fault tests write (its batch and a
// pad) and the split "all", which holds every time.
func applyFaultView(t *testing.T, c *client.Client) {
	ctx := context.Background()
	_, err := c.ApplyEntity(ctx, &timefencev1.Entity{Name: "item", JoinKeys: []*timefencev1.JoinKey{{Name: "item_id", Type: timefencev1.ValueType_VALUE_TYPE_INT64}}})
	require.NoError(t, err)
	_, err = c.ApplyFeatureView(ctx, &timefencev1.FeatureView{Name: "v", Entity: "item", Features: []*timefencev1.Feature{
		{Name: "batch", Type: timefencev1.ValueType_VALUE_TYPE_INT64}, {Name: "pad", Type: timefencev1.ValueType_VALUE_TYPE_STRING}}})
	require.NoError(t, err)
	_, err = c.CreateSplit(ctx, "all", time.Unix(0, 0), time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC))
	require.NoError(t, err)
}

func killDuringStart(t *testing.T, dir, addr string, delay time.Duration) {
	cmd := exec.Command(binary, "serve", "--data", dir, "--addr", addr, "--log-level", "error")
	require.NoError(t, cmd.Start())
	time.Sleep(delay)
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
}

// checkBatches exports the view and compares each batch's visible rows with
// its size: all or nothing, and all when acknowledged.
func checkBatches(t *testing.T, c *client.Client, sizes map[int64]int, acked map[int64]bool) (partial, lost int) {
	t.Helper()
	seen := map[int64]int{}
	_, err := c.Export(context.Background(), "all", "v", func(rec arrow.Record) error {
		col := rec.Column(int(rec.NumCols()) - 1).(*array.Int64)
		for i := range col.Len() {
			seen[col.Value(i)]++
		}
		return nil
	}, client.WithFeatures("batch"))
	require.NoError(t, err)
	for id, n := range sizes {
		switch got := seen[id]; {
		case got != 0 && got != n:
			t.Errorf("batch %d: %d of %d rows visible", id, got, n)
			partial++
		case acked[id] && got != n:
			t.Errorf("acknowledged batch %d (%d rows) is missing", id, n)
			lost++
		}
	}
	for id := range seen {
		if _, ok := sizes[id]; !ok {
			t.Errorf("rows of unknown batch %d", id)
		}
	}
	return partial, lost
}
