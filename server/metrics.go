package server

import (
	"context"
	"errors"
	"net/http"
	"slices"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/timefence/timefence/storage"
)

// latencyBuckets are the upper bounds, in seconds, of the call latency
// histogram: fine enough below a millisecond for online lookups.
var latencyBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// guardReasons are the reasons of the guard's refusals, all
// FAILED_PRECONDITION (guard.go).
var guardReasons = []string{ReasonSplitRequired, ReasonUnknownSplit, ReasonCutoffExceeded, ReasonFutureTime}

// metrics holds the server's Prometheus collectors in a registry of its own:
// the Go runtime and the process, the standard gRPC server metrics, and
// timefence's own.
type metrics struct {
	reg      *prometheus.Registry
	grpc     *grpcprom.ServerMetrics
	refusals *prometheus.CounterVec
	// events counts validation events; expectationRefusals counts the
	// batches hard expectations refused.
	events              *prometheus.CounterVec
	expectationRefusals *prometheus.CounterVec
}

func newMetrics(store Store, w *work) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		grpc: grpcprom.NewServerMetrics(grpcprom.WithServerHandlingTimeHistogram(
			grpcprom.WithHistogramBuckets(latencyBuckets))),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "timefence_guard_refusals_total",
			Help: "Training-side reads the guard refused, by reason.",
		}, []string{"reason"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "timefence_validation_events_total",
			Help: "Write batches written although they failed a warn expectation, by view and expectation.",
		}, []string{"view", "expectation", "level"}),
		expectationRefusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "timefence_expectation_refusals_total",
			Help: "Write batches refused whole because they failed a hard expectation, by view and expectation.",
		}, []string{"view", "expectation"}),
	}
	for _, r := range guardReasons {
		m.refusals.WithLabelValues(r)
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.grpc,
		m.refusals,
		m.events,
		m.expectationRefusals,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "timefence_watermark",
			Help: "The highest write sequence number visible to reads.",
		}, func() float64 { return float64(store.Watermark()) }),
		historyCollector{store},
	)
	m.reg.MustRegister(w.collectors()...)
	return m
}

// MetricsHandler serves the server's metrics in the Prometheus exposition
// formats.
func (s *Server) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{})
}

// refusalsUnary counts the guard's refusals among the errors of unary calls.
func (m *metrics) refusalsUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	resp, err := h(ctx, req)
	m.countRefusal(err)
	return resp, err
}

// refusalsStream counts the guard's refusals among the errors of streams.
func (m *metrics) refusalsStream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	err := h(srv, ss)
	m.countRefusal(err)
	return err
}

// countRefusal counts err if it is a refusal of the guard.
func (m *metrics) countRefusal(err error) {
	if status.Code(err) != codes.FailedPrecondition {
		return
	}
	for _, d := range status.Convert(err).Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && slices.Contains(guardReasons, info.GetReason()) {
			m.refusals.WithLabelValues(info.GetReason()).Inc()
		}
	}
}

// countValidationEvents counts the validation events of a written batch.
func (m *metrics) countValidationEvents(view string, events []storage.ValidationEvent) {
	for i := range events {
		e := &events[i].Expectation
		m.events.WithLabelValues(view, e.Name(), e.LevelName()).Inc()
	}
}

// countExpectationRefusal counts a batch refused by a hard expectation.
func (m *metrics) countExpectationRefusal(err error) {
	var re *requestError
	if errors.As(err, &re) && re.reason == ReasonExpectationFailed {
		m.expectationRefusals.WithLabelValues(re.metadata["feature_view"], re.metadata["expectation"]).Inc()
	}
}

// historyCollector reports the state of each view's columnar history.
type historyCollector struct{ store Store }

// historyMetric is one family of historyCollector, labelled by view.
type historyMetric struct {
	desc *prometheus.Desc
	kind prometheus.ValueType
	val  func(storage.HistoryStatus) float64
}

func viewMetric(name, help string, kind prometheus.ValueType, val func(storage.HistoryStatus) float64) historyMetric {
	return historyMetric{prometheus.NewDesc(name, help, []string{"view"}, nil), kind, val}
}

var historyMetrics = []historyMetric{
	viewMetric("timefence_history_file_runs", "Run files of the view's columnar history.", prometheus.GaugeValue,
		func(h storage.HistoryStatus) float64 { return float64(h.FileRuns) }),
	viewMetric("timefence_history_file_versions", "Versions held in run files.", prometheus.GaugeValue,
		func(h storage.HistoryStatus) float64 { return float64(h.FileVersions) }),
	viewMetric("timefence_history_file_bytes", "Size of the view's run files.", prometheus.GaugeValue,
		func(h storage.HistoryStatus) float64 { return float64(h.FileBytes) }),
	viewMetric("timefence_history_tail_runs", "In-memory runs not yet written to a run file.", prometheus.GaugeValue,
		func(h storage.HistoryStatus) float64 { return float64(h.TailRuns) }),
	viewMetric("timefence_history_tail_versions", "Versions held in memory, not yet in a run file.", prometheus.GaugeValue,
		func(h storage.HistoryStatus) float64 { return float64(h.TailVersions) }),
	viewMetric("timefence_history_last_compaction_timestamp_seconds", "When a compaction of the view last finished (0: never).", prometheus.GaugeValue,
		func(h storage.HistoryStatus) float64 { return float64(h.LastCompaction) / 1e9 }),
	viewMetric("timefence_view_last_batch_timestamp_seconds", "When the view's last write batch was committed (0: none yet); alert on time() minus it for a view's expected cadence.", prometheus.GaugeValue,
		func(h storage.HistoryStatus) float64 { return float64(h.LastBatch) / 1e9 }),
	viewMetric("timefence_history_compactions_total", "Compactions that changed the view's runs since the store opened.", prometheus.CounterValue,
		func(h storage.HistoryStatus) float64 { return float64(h.Compactions) }),
	viewMetric("timefence_history_compacting", "1 while a compaction of the view runs.", prometheus.GaugeValue,
		func(h storage.HistoryStatus) float64 { return oneIf(h.Compacting) }),
	viewMetric("timefence_history_compaction_failing", "1 when the view's last compaction failed (the server log says why).", prometheus.GaugeValue,
		func(h storage.HistoryStatus) float64 { return oneIf(h.CompactionFailing) }),
}

func oneIf(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (c historyCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range historyMetrics {
		ch <- m.desc
	}
}

func (c historyCollector) Collect(ch chan<- prometheus.Metric) {
	for _, h := range c.store.HistoryStatus() {
		for _, m := range historyMetrics {
			ch <- prometheus.MustNewConstMetric(m.desc, m.kind, m.val(h), h.View)
		}
	}
}
