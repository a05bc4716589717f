package server

import (
	"cmp"
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/codes"

	"github.com/timefence/timefence/internal/par"
	"github.com/timefence/timefence/storage"
)

// Historical work (point-in-time joins, exports, statistics) is bounded and
// runs behind online lookups and writes:
//
//   - At most Config.HistoricalConcurrency requests do it at once; the others
//     wait their turn, first come first served, within their deadline.
//   - Each spreads its work over up to Config.HistoricalParallelism
//     goroutines.
//   - Every goroutine of historical work runs locked to an OS thread whose
//     scheduling priority is lowered by Config.HistoricalNice. When the
//     cores are busy, the kernel runs the threads of online lookups and
//     writes first. The thread ends with its goroutine, so no other work
//     inherits the lower priority.
//
// Go's scheduler has no priorities: a runnable lookup waits for a free
// processor (a P) whatever the kernel would prefer. serve raises GOMAXPROCS
// by HistoricalThreads, so that historical work never holds every one.
type work struct {
	slots    chan struct{}
	parallel int
	nice     int
	log      func(msg string, args ...any)
	warnOnce sync.Once

	running, queued atomic.Int64
	waitNs          atomic.Int64 // total time requests waited for a turn
	done            atomic.Int64 // requests that had their turn
}

func newWork(cfg Config, log func(string, ...any)) *work {
	return &work{slots: make(chan struct{}, cfg.HistoricalConcurrency), parallel: cfg.HistoricalParallelism,
		nice: cfg.HistoricalNice, log: log}
}

// HistoricalThreads is the most threads historical work runs on at once
// under cfg's bounds: each request's parallel goroutines, and one more that
// sends its results while the next are computed.
func HistoricalThreads(cfg Config) int {
	def := DefaultConfig()
	return cmp.Or(cfg.HistoricalConcurrency, def.HistoricalConcurrency) * (cmp.Or(cfg.HistoricalParallelism, def.HistoricalParallelism) + 1)
}

// enter waits for a turn to run historical work; call leave when done. A
// request that has to wait begins a "queued" phase of p. The wait is bounded
// by ctx: a request whose deadline passes in the queue gets
// RESOURCE_EXHAUSTED.
func (w *work) enter(ctx context.Context, p *storage.Progress) (leave func(), err error) {
	start := time.Now()
	w.queued.Add(1)
	select {
	case w.slots <- struct{}{}:
	default:
		p.Begin("queued", "", 0)
		select {
		case w.slots <- struct{}{}:
		case <-ctx.Done():
			w.queued.Add(-1)
			if ctx.Err() == context.Canceled {
				return nil, ctx.Err()
			}
			return nil, &requestError{code: codes.ResourceExhausted, reason: ReasonLimitExceeded,
				msg: fmt.Sprintf("historical work: the deadline passed after %s waiting for a turn behind the server's limit of %d joins, exports and statistics calls at once (raised with timefence serve --historical-concurrency or server.Config.HistoricalConcurrency); retry later",
					time.Since(start).Round(time.Millisecond), cap(w.slots)),
				metadata: map[string]string{"limit": "historical-concurrency", "value": fmt.Sprint(cap(w.slots))}}
		}
	}
	w.queued.Add(-1)
	w.running.Add(1)
	w.waitNs.Add(int64(time.Since(start)))
	w.done.Add(1)
	var once sync.Once
	return func() {
		once.Do(func() {
			w.running.Add(-1)
			<-w.slots
		})
	}, nil
}

// low runs fn on a goroutine of low priority and returns its error; a panic
// in fn is returned as an error.
func (w *work) low(fn func() error) error {
	errc := make(chan error, 1)
	w.start(func() {
		var err error
		defer func() { errc <- err }()
		defer recovered(&err)
		err = fn()
	})
	return <-errc
}

// start starts f on a new goroutine of low priority.
func (w *work) start(f func()) {
	go func() {
		w.lower()
		f()
	}()
}

// each calls fn(i) for i in [0, n) on up to the parallelism of historical
// work, on goroutines of low priority.
func (w *work) each(n int, fn func(i int)) { par.Each(w.parallel, n, w.start, fn) }

// lower locks the calling goroutine to its thread, for good, and lowers the
// thread's priority: the thread ends when the goroutine does.
func (w *work) lower() {
	if w.nice <= 0 {
		return
	}
	runtime.LockOSThread()
	if err := setThreadNice(w.nice); err != nil {
		w.warnOnce.Do(func() {
			w.log("cannot lower the priority of historical work; it competes with online lookups on equal terms", "error", err)
		})
	}
}

// collectors returns the gauges and counters of historical work.
func (w *work) collectors() []prometheus.Collector {
	gauge := func(name, help string, v func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, v)
	}
	counter := func(name, help string, v func() float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, v)
	}
	return []prometheus.Collector{
		gauge("timefence_historical_concurrency_limit", "Historical requests (joins, exports, statistics) allowed to run at once.",
			func() float64 { return float64(cap(w.slots)) }),
		gauge("timefence_historical_parallelism", "Goroutines each historical request spreads its work over.",
			func() float64 { return float64(w.parallel) }),
		gauge("timefence_historical_nice", "How much the threads of historical work are lowered in priority (Linux nice; 0: not lowered).",
			func() float64 { return float64(max(0, w.nice)) }),
		gauge("timefence_historical_running", "Historical requests running now.",
			func() float64 { return float64(w.running.Load()) }),
		gauge("timefence_historical_queued", "Historical requests waiting for their turn now.",
			func() float64 { return float64(w.queued.Load()) }),
		counter("timefence_historical_started_total", "Historical requests that had their turn.",
			func() float64 { return float64(w.done.Load()) }),
		counter("timefence_historical_wait_seconds_total", "Time historical requests spent waiting for their turn.",
			func() float64 { return time.Duration(w.waitNs.Load()).Seconds() }),
	}
}
