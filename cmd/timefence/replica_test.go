package main

import (
	"context"
	"errors"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/stretchr/testify/require"

	"github.com/timefence/timefence/client"
)

// TestReplicasSurviveKills runs a primary and two read replicas as real
// processes while writers send batches to the primary, and kills them with
// SIGKILL in turn: a replica, the primary, then a replica and the primary
// together. After each cycle every replica catches up, holds every batch
// the primary acknowledged, whole, and none in part, and exports the view
// with the primary's checksum. Then a replica is promoted and takes writes.
func TestReplicasSurviveKills(t *testing.T) {
	pdir, paddr := filepath.Join(t.TempDir(), "primary"), freeAddr(t)
	type node struct {
		dir, addr string
		cmd       *exec.Cmd
	}
	primary := &node{dir: pdir, addr: paddr}
	reps := []*node{{dir: filepath.Join(t.TempDir(), "r1"), addr: freeAddr(t)}, {dir: filepath.Join(t.TempDir(), "r2"), addr: freeAddr(t)}}
	start := func(n *node) {
		var flags []string
		if n != primary {
			flags = []string{"--replica-of", paddr}
		}
		n.cmd = startBinary(t, n.dir, n.addr, append(flags, "--flush-versions", "2000", "--flush-idle", "100ms")...)
	}
	kill := func(n *node) {
		require.NoError(t, n.cmd.Process.Signal(syscall.SIGKILL))
		_ = n.cmd.Wait()
	}
	start(primary)
	ctx := context.Background()
	pc, err := client.Dial(paddr)
	require.NoError(t, err)
	applyFaultView(t, pc)
	pc.Close()
	for _, r := range reps {
		start(r)
	}

	l := newLedger()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
	victims := [][]*node{{reps[0]}, {primary}, {reps[1], primary}}
	for cycle, kills := range victims {
		pc, err := client.Dial(paddr)
		require.NoError(t, err)
		wctx, stop := context.WithCancel(ctx)
		wg := writeUntilDone(wctx, pc, l, func() int { return 2000 })
		time.Sleep(time.Duration(300+rng.IntN(1200)) * time.Millisecond)
		for _, n := range kills {
			kill(n)
		}
		if kills[len(kills)-1] != primary {
			// The replica comes back while writes go on.
			for _, n := range kills {
				start(n)
			}
			time.Sleep(time.Duration(200+rng.IntN(500)) * time.Millisecond)
		}
		stop()
		wg.Wait()
		pc.Close()
		for _, n := range kills {
			if n.cmd.ProcessState != nil {
				start(n) // killed and not yet back: the primary first, as listed last
			}
		}
		// Every replica catches up with the primary and holds what it holds.
		pc, err = client.Dial(paddr)
		require.NoError(t, err)
		want, err := pc.Export(ctx, "all", "v", func(arrow.Record) error { return nil })
		require.NoError(t, err)
		for _, r := range reps {
			rc, err := client.Dial(r.addr)
			require.NoError(t, err)
			_, err = rc.GetOnline(ctx, []string{"v:batch"}, []string{"item_id"}, [][]any{{int64(1)}},
				client.MinWatermark(want.Watermark), client.WithTimeout(60*time.Second))
			require.NoError(t, err, "cycle %d: replica %s", cycle, r.dir)
			partial, lost := checkBatches(t, rc, l.sizes, l.acked)
			require.Zero(t, partial, "cycle %d: batches partly visible on a replica", cycle)
			require.Zero(t, lost, "cycle %d: acknowledged batches missing on a replica", cycle)
			// The primary's export re-read on the replica, once its manifest
			// has arrived, is byte for byte the same (a batch whose client
			// gave up may still have committed on the primary since).
			var got *client.ExportSummary
			for wait := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				got, err = rc.ExportDataset(ctx, want.DatasetID, func(arrow.Record) error { return nil })
				if !errors.Is(err, client.ErrUnknownDataset) || time.Now().After(wait) {
					break
				}
			}
			require.NoError(t, err)
			require.Equal(t, want.Checksum, got.Checksum, "cycle %d: the replica's re-read differs from the primary's export", cycle)
			require.Equal(t, want.Rows, got.Rows)
			rc.Close()
		}
		pc.Close()
	}
	l.mu.Lock()
	t.Logf("batches attempted=%d acknowledged=%d; every replica held all acknowledged after each cycle", len(l.sizes), len(l.acked))
	l.mu.Unlock()

	// Promotion: stop the primary for good, stop a replica, promote it.
	kill(primary)
	r := reps[0]
	require.NoError(t, r.cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, r.cmd.Wait())
	out, err := exec.Command(binary, "promote", "--data", r.dir).CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "takes writes from watermark")
	r.cmd = startBinary(t, r.dir, r.addr)
	rc, err := client.Dial(r.addr)
	require.NoError(t, err)
	defer rc.Close()
	res, err := rc.Write(ctx, "v", []client.Row{{Key: []any{int64(-1)}, EventTime: time.Now(), Values: []any{int64(-1), "promoted"}}})
	require.NoError(t, err)
	l.sizes[-1], l.acked[-1] = 1, true
	partial, lost := checkBatches(t, rc, l.sizes, l.acked)
	require.Zero(t, partial+lost)
	require.Positive(t, res.FirstSeq)
	for _, n := range []*node{r, reps[1]} {
		_ = n.cmd.Process.Signal(syscall.SIGTERM)
		_ = n.cmd.Wait()
	}
}
