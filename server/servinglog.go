package server

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
	"github.com/timefence/timefence/storage"
)

// The serving log keeps online lookups at now with what they served, so that
// GetSkewReport can replay them (skew.go). A lookup is logged when it asks to be
// (GetOnlineFeaturesRequest.log) or when the sample rate picks it. It is
// queued as it is and encoded and stored by one goroutine, in batches, so a
// lookup never waits on the log: when the queue holds its bound of bytes,
// the record is dropped and counted, and the lookup returns no request id.

// maxContextEntries bounds the context a lookup may attach to its log record.
const maxContextEntries = 256

// logBatch is the most records stored in one write.
const logBatch = 512

type logItem struct {
	req   *timefencev1.GetOnlineFeaturesRequest
	resp  *timefencev1.GetOnlineFeaturesResponse
	reads []*viewRead
	id    string
	bytes int64
}

type servingLog struct {
	store    Store
	rate     float64
	maxBytes int64
	log      *slog.Logger

	queued  atomic.Int64 // estimated bytes of the queued records
	ch      chan logItem
	flushes chan chan struct{}
	start   sync.Once
	stop    chan struct{}
	stopped chan struct{}
	running atomic.Bool

	records   *prometheus.CounterVec
	lastWarn  atomic.Int64 // Unix ns of the last failure logged
	readOnly  bool
	queueSize prometheus.GaugeFunc
}

func newServingLog(store Store, rate float64, maxBytes int64, log *slog.Logger) *servingLog {
	l := &servingLog{store: store, rate: rate, maxBytes: maxBytes, log: log,
		ch: make(chan logItem, 4096), flushes: make(chan chan struct{}), stop: make(chan struct{}), stopped: make(chan struct{}),
		readOnly: store.ReadOnly("") != nil,
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "timefence_serving_log_records_total",
			Help: "Online lookups chosen for the serving log, by result: logged, dropped_queue_full (the queue held its bound), dropped_error (the store refused the write; the server log says why).",
		}, []string{"result"}),
	}
	for _, r := range []string{"logged", "dropped_queue_full", "dropped_error"} {
		l.records.WithLabelValues(r)
	}
	l.queueSize = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "timefence_serving_log_queue_bytes",
		Help: "Estimated bytes of logged lookups waiting to be stored.",
	}, func() float64 { return float64(l.queued.Load()) })
	return l
}

func (l *servingLog) collectors() []prometheus.Collector {
	return []prometheus.Collector{l.records, l.queueSize}
}

// checkLogFields refuses a request id or context the log could not keep.
func checkLogFields(req *timefencev1.GetOnlineFeaturesRequest) error {
	if n := len(req.GetRequestId()); n > storage.MaxRequestIDBytes {
		return invalid(fmt.Sprintf("request_id: %d bytes, at most %d", n, storage.MaxRequestIDBytes))
	}
	if n := len(req.GetContext()); n > maxContextEntries {
		return invalid(fmt.Sprintf("context: %d entries, at most %d", n, maxContextEntries))
	}
	for k, v := range req.GetContext() {
		if k == "" {
			return invalid("context: an entry has an empty name")
		}
		if v.GetKind() == nil {
			return invalid(fmt.Sprintf("context[%q]: the value has no kind set", k))
		}
	}
	return nil
}

// offer queues a lookup at now for the log if it asks to be logged or the
// sample rate picks it (the server's, or the highest of the views read),
// and sets resp.RequestId when it was queued.
func (l *servingLog) offer(req *timefencev1.GetOnlineFeaturesRequest, resp *timefencev1.GetOnlineFeaturesResponse, reads []*viewRead) {
	rate := l.rate
	for _, vr := range reads {
		rate = max(rate, vr.proj.View.ServingLogRate)
	}
	if req.GetAsOf() != nil || l.readOnly || !(req.GetLog() || (rate > 0 && rand.Float64() < rate)) {
		return
	}
	id := req.GetRequestId()
	if id == "" {
		id = fmt.Sprintf("%016x", rand.Uint64())
	}
	// An estimate of what the record holds, to bound the queue's memory.
	n := int64(len(req.GetEntityRows()))
	size := 256 + n*int64(len(req.GetJoinKeys()))*24 + n*int64(len(resp.GetColumns()))*32 + int64(len(req.GetContext()))*64
	if l.queued.Add(size) > l.maxBytes {
		l.queued.Add(-size)
		l.records.WithLabelValues("dropped_queue_full").Inc()
		return
	}
	l.start.Do(func() { l.running.Store(true); go l.run() })
	select {
	case l.ch <- logItem{req: req, resp: resp, reads: reads, id: id, bytes: size}:
		resp.RequestId = id
	default:
		l.queued.Add(-size)
		l.records.WithLabelValues("dropped_queue_full").Inc()
	}
}

// run stores queued records until close, then stores what is left.
func (l *servingLog) run() {
	defer close(l.stopped)
	batch := make([]logItem, 0, logBatch)
	for {
		batch = batch[:0]
		select {
		case it := <-l.ch:
			batch = append(batch, it)
		case done := <-l.flushes:
			l.drain(batch)
			close(done)
			continue
		case <-l.stop:
			l.drain(batch)
			return
		}
		for len(batch) < logBatch && len(l.ch) > 0 {
			batch = append(batch, <-l.ch)
		}
		l.write(batch)
	}
}

// drain stores every queued record, in batches.
func (l *servingLog) drain(batch []logItem) {
	for {
		batch = batch[:0]
		for len(batch) < logBatch && len(l.ch) > 0 {
			batch = append(batch, <-l.ch)
		}
		if len(batch) == 0 {
			return
		}
		l.write(batch)
	}
}

// flush stores the records queued before it, so that a skew report on this
// server sees every lookup it logged before the report began.
func (l *servingLog) flush(ctx context.Context) error {
	if !l.running.Load() {
		return nil
	}
	done := make(chan struct{})
	select {
	case l.flushes <- done:
	case <-l.stopped:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// close stores the queued records and stops the writer.
func (l *servingLog) close() {
	if !l.running.Load() {
		return
	}
	close(l.stop)
	<-l.stopped
}

func (l *servingLog) write(batch []logItem) {
	recs := make([]storage.LogRecord, 0, len(batch))
	var size int64
	var err error
	for _, it := range batch {
		size += it.bytes
		b, merr := encodeLogRecord(it)
		if merr != nil {
			err = merr
			l.records.WithLabelValues("dropped_error").Inc()
			continue
		}
		recs = append(recs, storage.LogRecord{ReadTime: it.resp.GetReadTime().AsTime().UnixNano(), RequestID: it.id, Data: b})
	}
	if aerr := l.store.AppendLog(recs); aerr != nil {
		err = aerr
		l.records.WithLabelValues("dropped_error").Add(float64(len(recs)))
		recs = nil
	}
	l.queued.Add(-size)
	l.records.WithLabelValues("logged").Add(float64(len(recs)))
	if err != nil {
		// At most one warning a minute: a full disk fails every batch.
		if now := time.Now().UnixNano(); now-l.lastWarn.Load() > int64(time.Minute) {
			l.lastWarn.Store(now)
			l.log.Warn("serving log: records dropped", "records", len(batch)-len(recs), "error", err.Error())
		}
	}
}

func encodeLogRecord(it logItem) ([]byte, error) {
	rec := &timefencev1.ServingLogRecord{
		RequestId: it.id, ReadTimeUnixNanos: it.resp.GetReadTime().AsTime().UnixNano(), Watermark: it.resp.GetWatermark(),
		Features: it.resp.GetFeatures(), JoinKeys: it.req.GetJoinKeys(), EntityRows: it.req.GetEntityRows(),
		Columns: it.resp.GetColumns(), Context: it.req.GetContext(), ViewVersions: map[string]int64{},
	}
	for _, vr := range it.reads {
		rec.ViewVersions[vr.proj.View.Name] = vr.proj.View.Version
	}
	return proto.Marshal(rec)
}
