package server

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	"github.com/timefence/timefence/storage"
)

// latencyBuckets are the upper bounds, in seconds, of the call latency histogram.
var latencyBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// metrics counts calls per method and code and their latencies, and
// exposes them, with the store's watermark, in the Prometheus text format.
type metrics struct {
	mu    sync.Mutex
	calls map[callKey]*atomic.Int64
	hist  map[string]*histogram
}

type callKey struct{ method, code string }

type histogram struct {
	counts []atomic.Int64 // per bucket, then +Inf
	sumNs  atomic.Int64
}

func newMetrics() *metrics {
	return &metrics{calls: map[callKey]*atomic.Int64{}, hist: map[string]*histogram{}}
}

func (m *metrics) observe(method string, err error, d time.Duration) {
	k := callKey{method, status.Code(err).String()}
	m.mu.Lock()
	c, ok := m.calls[k]
	if !ok {
		c = new(atomic.Int64)
		m.calls[k] = c
	}
	h, ok := m.hist[method]
	if !ok {
		h = &histogram{counts: make([]atomic.Int64, len(latencyBuckets)+1)}
		m.hist[method] = h
	}
	m.mu.Unlock()
	c.Add(1)
	i := sort.SearchFloat64s(latencyBuckets, d.Seconds())
	h.counts[i].Add(1)
	h.sumNs.Add(int64(d))
}

func (s *Server) metricsUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	start := time.Now()
	resp, err := h(ctx, req)
	s.metrics.observe(info.FullMethod, err, time.Since(start))
	return resp, err
}

func (s *Server) metricsStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	start := time.Now()
	err := h(srv, ss)
	s.metrics.observe(info.FullMethod, err, time.Since(start))
	return err
}

// MetricsHandler serves the server's metrics in the Prometheus text format.
func (s *Server) MetricsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		s.metrics.write(w, s.store.Watermark())
		writeHistory(w, s.store.HistoryStatus())
		s.work.writeMetrics(w)
	})
}

// writeHistory writes the state of each view's columnar history.
func writeHistory(w io.Writer, hs []storage.HistoryStatus) {
	gauge := func(name, help string, val func(h storage.HistoryStatus) float64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name)
		for _, h := range hs {
			fmt.Fprintf(w, "%s{view=%q} %g\n", name, h.View, val(h))
		}
	}
	gauge("timefence_history_file_runs", "Run files of the view's columnar history.", func(h storage.HistoryStatus) float64 { return float64(h.FileRuns) })
	gauge("timefence_history_file_versions", "Versions held in run files.", func(h storage.HistoryStatus) float64 { return float64(h.FileVersions) })
	gauge("timefence_history_file_bytes", "Size of the view's run files.", func(h storage.HistoryStatus) float64 { return float64(h.FileBytes) })
	gauge("timefence_history_tail_runs", "In-memory runs not yet written to a run file.", func(h storage.HistoryStatus) float64 { return float64(h.TailRuns) })
	gauge("timefence_history_tail_versions", "Versions held in memory, not yet in a run file.", func(h storage.HistoryStatus) float64 { return float64(h.TailVersions) })
	gauge("timefence_history_last_compaction_timestamp_seconds", "When a compaction of the view last finished (0: never).", func(h storage.HistoryStatus) float64 {
		return float64(h.LastCompaction) / 1e9
	})
}

func (m *metrics) write(w io.Writer, watermark uint64) {
	m.mu.Lock()
	keys := make([]callKey, 0, len(m.calls))
	for k := range m.calls {
		keys = append(keys, k)
	}
	methods := make([]string, 0, len(m.hist))
	for k := range m.hist {
		methods = append(methods, k)
	}
	m.mu.Unlock()
	slices.SortFunc(keys, func(a, b callKey) int {
		return cmp.Or(cmp.Compare(a.method, b.method), cmp.Compare(a.code, b.code))
	})
	slices.Sort(methods)
	fmt.Fprintln(w, "# HELP timefence_watermark The highest write sequence number visible to reads.")
	fmt.Fprintln(w, "# TYPE timefence_watermark gauge")
	fmt.Fprintf(w, "timefence_watermark %d\n", watermark)
	fmt.Fprintln(w, "# HELP timefence_calls_total Calls by method and status code.")
	fmt.Fprintln(w, "# TYPE timefence_calls_total counter")
	for _, k := range keys {
		m.mu.Lock()
		n := m.calls[k].Load()
		m.mu.Unlock()
		fmt.Fprintf(w, "timefence_calls_total{method=%q,code=%q} %d\n", k.method, k.code, n)
	}
	fmt.Fprintln(w, "# HELP timefence_call_seconds Call latency by method.")
	fmt.Fprintln(w, "# TYPE timefence_call_seconds histogram")
	for _, method := range methods {
		m.mu.Lock()
		h := m.hist[method]
		m.mu.Unlock()
		var cum int64
		for i, le := range latencyBuckets {
			cum += h.counts[i].Load()
			fmt.Fprintf(w, "timefence_call_seconds_bucket{method=%q,le=\"%g\"} %d\n", method, le, cum)
		}
		cum += h.counts[len(latencyBuckets)].Load()
		fmt.Fprintf(w, "timefence_call_seconds_bucket{method=%q,le=\"+Inf\"} %d\n", method, cum)
		fmt.Fprintf(w, "timefence_call_seconds_sum{method=%q} %g\n", method, time.Duration(h.sumNs.Load()).Seconds())
		fmt.Fprintf(w, "timefence_call_seconds_count{method=%q} %d\n", method, cum)
	}
}
