package server

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/timefence/timefence/storage"
)

func testWork(concurrency, parallel, nice int) *work {
	return newWork(Config{HistoricalConcurrency: concurrency, HistoricalParallelism: parallel, HistoricalNice: nice},
		func(string, ...any) {})
}

func TestWorkBoundsConcurrency(t *testing.T) {
	w := testWork(2, 1, 0)
	ctx := context.Background()
	var first storage.Progress
	leave1, err := w.enter(ctx, &first)
	require.NoError(t, err)
	require.Empty(t, first.Phases(), "a request that did not wait was not queued")
	leave2, err := w.enter(ctx, nil)
	require.NoError(t, err)
	require.EqualValues(t, 2, w.running.Load())

	// A third waits for a turn, reported as its progress, and gets one when
	// a slot is left.
	var prog storage.Progress
	got := make(chan func(), 1)
	go func() {
		leave, err := w.enter(ctx, &prog)
		if err != nil {
			panic(err)
		}
		got <- leave
	}()
	require.Eventually(t, func() bool { return w.queued.Load() == 1 }, 5*time.Second, time.Millisecond)
	select {
	case <-got:
		t.Fatal("a third request ran beside two with a concurrency of 2")
	case <-time.After(20 * time.Millisecond):
	}
	leave1()
	leave1() // leaving twice frees one slot only
	leave3 := <-got
	require.Len(t, prog.Phases(), 1)
	require.Equal(t, "queued", prog.Phases()[0].Name)
	require.EqualValues(t, 0, w.queued.Load())
	require.EqualValues(t, 2, w.running.Load())

	// A request whose deadline passes in the queue is refused, clearly.
	dctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	_, err = w.enter(dctx, nil)
	var re *requestError
	require.True(t, errors.As(err, &re), "%v", err)
	require.Equal(t, codes.ResourceExhausted, re.code)
	require.Equal(t, ReasonLimitExceeded, re.reason)
	require.Contains(t, re.msg, "-historical-concurrency")
	require.Equal(t, map[string]string{"limit": "historical-concurrency", "value": "2"}, re.metadata)
	require.EqualValues(t, 0, w.queued.Load())

	leave2()
	leave3()
	require.EqualValues(t, 0, w.running.Load())
	require.EqualValues(t, 3, w.done.Load())

	reg := prometheus.NewRegistry()
	reg.MustRegister(w.collectors()...)
	mfs, err := reg.Gather()
	require.NoError(t, err)
	vals := map[string]float64{}
	for _, mf := range mfs {
		m := mf.GetMetric()[0]
		vals[mf.GetName()] = m.GetGauge().GetValue() + m.GetCounter().GetValue()
	}
	require.Equal(t, 2.0, vals["timefence_historical_concurrency_limit"])
	require.Equal(t, 1.0, vals["timefence_historical_parallelism"])
	require.Zero(t, vals["timefence_historical_running"])
	require.Zero(t, vals["timefence_historical_queued"])
	require.Equal(t, 3.0, vals["timefence_historical_started_total"])
	require.Positive(t, vals["timefence_historical_wait_seconds_total"], "the third request waited for its turn")
}

// threadNice reads the nice value of the calling thread from /proc.
func threadNice(t *testing.T) int {
	b, err := os.ReadFile("/proc/thread-self/stat")
	require.NoError(t, err)
	// Fields after the command (which may hold spaces): state is field 3,
	// nice is field 19.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	n, err := strconv.Atoi(f[19-3])
	require.NoError(t, err)
	return n
}

func TestWorkRunsAtLowerPriority(t *testing.T) {
	if _, err := os.Stat("/proc/thread-self/stat"); err != nil {
		t.Skip("no /proc/thread-self: thread priorities are set on Linux only")
	}
	base := threadNice(t)
	w := testWork(1, 4, 7)
	var mu sync.Mutex
	var seen []int
	require.NoError(t, w.low(func() error {
		mu.Lock()
		seen = append(seen, threadNice(t))
		mu.Unlock()
		w.each(16, func(int) {
			n := threadNice(t)
			mu.Lock()
			seen = append(seen, n)
			mu.Unlock()
		})
		return nil
	}))
	require.Len(t, seen, 17)
	for _, n := range seen {
		require.Equal(t, min(base+7, 19), n, "every goroutine of historical work runs lowered")
	}
	// The caller's thread is untouched, and so is a thread a lowered
	// goroutine left (it ends with the goroutine).
	require.Equal(t, base, threadNice(t))
	for range 20 {
		done := make(chan int)
		go func() { done <- threadNice(t) }()
		require.Equal(t, base, <-done)
	}

	// A panic in historical work is an internal error, not a crash.
	err := w.low(func() error { panic("boom") })
	require.Equal(t, codes.Internal, status.Code(err), "%v", err)

	// Nice 0: nothing is lowered.
	off := testWork(1, 2, 0)
	require.NoError(t, off.low(func() error {
		require.Equal(t, base, threadNice(t))
		return nil
	}))
}
