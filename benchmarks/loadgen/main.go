// Command loadgen is the benchmarks' open-loop load generator for online
// lookups: timefence's gRPC OnlineService.GetOnlineFeatures, or a Feast feature
// server's HTTP POST /get-online-features. The same scheduler and the same
// latency accounting serve both. With -target health it sends the standard
// gRPC health check (grpc.health.v1.Health/Check) over the same connections
// as -target grpc: the gRPC round trip of the machine, the floor that online
// latencies are read against. With -target write it sends durable write
// batches (WriteService.WriteBatch) instead, at a fixed rate or, with
// -writers, from that many writers as fast as the server takes them.
//
// Requests are sent at a fixed rate whatever the server's speed (open loop);
// a slow server cannot slow the sender down and hide its queueing (no
// coordinated omission). Latency is reported from the time a request went
// out, and also from the time it was due (which adds the generator's own
// lateness); the -search bound applies to the latter.
// Every run is bounded in requests and time, and targets loopback only.
//
//	loadgen -target grpc -addr 127.0.0.1:7070 -entities 1 -rate 1000 -duration 10s
//	loadgen -target http -addr 127.0.0.1:6566 -entities 100 -search -p99-limit 10ms
//	loadgen -target health -addr 127.0.0.1:7070 -rate 1000 -duration 10s
//	loadgen -target write -view ingest_narrow -batch-rows 100 -writers 8 -duration 10s
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/reflect/protoreflect"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
	"github.com/timefence/timefence/client"
)

type config struct {
	target, addr, view, joinKey string
	features, entities          int
	keyspace                    int64
	rate                        float64
	duration, warmup, timeout   time.Duration
	conns, maxInflight          int
	seed                        uint64
	search                      bool
	p99Limit, stepDuration      time.Duration
	searchMax                   float64
	maxTime                     time.Duration
	batchRows, writers          int
	readFrom                    string
}

// stats summarises one fixed-rate step.
type stats struct {
	Rate       float64 `json:"rate"`
	Requests   int     `json:"requests"`
	OK         int     `json:"ok"`
	Errors     int     `json:"errors"`
	Dropped    int     `json:"dropped"`
	Seconds    float64 `json:"seconds"`
	Throughput float64 `json:"throughput"`
	MeanMs     float64 `json:"mean_ms"`
	P50Ms      float64 `json:"p50_ms"`
	P90Ms      float64 `json:"p90_ms"`
	P99Ms      float64 `json:"p99_ms"`
	P999Ms     float64 `json:"p999_ms"`
	MaxMs      float64 `json:"max_ms"`
	// Latency counted from the time the request was due, not sent: the
	// generator's own lateness (LagP99Ms) included.
	DueP99Ms   float64 `json:"due_p99_ms"`
	DueP999Ms  float64 `json:"due_p999_ms"`
	LagP99Ms   float64 `json:"lag_p99_ms"`
	FirstError string  `json:"first_error,omitempty"`
}

type caller func(ctx context.Context, i int) error

func main() {
	var c config
	flag.StringVar(&c.target, "target", "grpc", "grpc (timefence lookups), http (Feast feature server), health (gRPC health check) or write (timefence write batches)")
	flag.StringVar(&c.addr, "addr", "127.0.0.1:7070", "server address; loopback only")
	flag.StringVar(&c.view, "view", "user_online50", "feature view")
	flag.StringVar(&c.joinKey, "join-key", "user_id", "int64 join key name")
	flag.IntVar(&c.features, "features", 50, "features per request, named f00, f01, ...")
	flag.IntVar(&c.entities, "entities", 1, "entities per request")
	flag.Int64Var(&c.keyspace, "keyspace", 100000, "entity ids are drawn from [0, keyspace)")
	flag.Float64Var(&c.rate, "rate", 1000, "requests per second (fixed-rate mode)")
	flag.DurationVar(&c.duration, "duration", 10*time.Second, "measured time per step")
	flag.DurationVar(&c.warmup, "warmup", time.Second, "unmeasured warm-up at the first rate")
	flag.DurationVar(&c.timeout, "timeout", 5*time.Second, "per-request timeout")
	flag.IntVar(&c.conns, "conns", 4, "gRPC connections (round robin)")
	flag.IntVar(&c.maxInflight, "max-inflight", 2000, "requests in flight at most; a request due beyond it is dropped")
	flag.Uint64Var(&c.seed, "seed", 1, "random seed for entity ids")
	flag.BoolVar(&c.search, "search", false, "find the highest rate whose p99 stays within -p99-limit")
	flag.DurationVar(&c.p99Limit, "p99-limit", 10*time.Millisecond, "p99 bound for -search")
	flag.DurationVar(&c.stepDuration, "step-duration", 3*time.Second, "measured time per -search step")
	flag.Float64Var(&c.searchMax, "search-max", 200000, "highest rate -search tries")
	flag.DurationVar(&c.maxTime, "max-time", 3*time.Minute, "hard bound on the whole run")
	flag.IntVar(&c.batchRows, "batch-rows", 100, "rows per batch (-target write)")
	flag.StringVar(&c.readFrom, "read-from", "", "-target write: after each write, read one of its keys at this address with the write's last seq as min_watermark (read your writes; a replica waits for it)")
	flag.IntVar(&c.writers, "writers", 0, "closed loop: this many callers, each sending its next request when the last returns (0: open loop at -rate)")
	flag.Parse()
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func run(c config) error {
	host, _, err := net.SplitHostPort(c.addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("address %s: only loopback targets are allowed", c.addr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.maxTime)
	defer cancel()
	call, closeFn, err := newCaller(c)
	if err != nil {
		return err
	}
	defer closeFn()
	// One checked call first: a wrong view or server fails here, clearly.
	if err := call(ctx, -1); err != nil {
		return fmt.Errorf("first request: %w", err)
	}
	if c.warmup > 0 {
		step(ctx, c, call, c.rate, c.warmup)
	}
	out := map[string]any{"target": c.target, "entities": c.entities, "features": c.features}
	if c.target == "write" {
		out["batch_rows"] = c.batchRows
	}
	if c.writers > 0 {
		out["closed"] = closedLoop(ctx, c, call)
		return json.NewEncoder(os.Stdout).Encode(out)
	}
	if !c.search {
		s := step(ctx, c, call, c.rate, c.duration)
		out["fixed"] = s
	} else {
		best, steps := search(ctx, c, call)
		out["best"], out["steps"], out["p99_limit_ms"] = best, steps, ms(c.p99Limit)
	}
	return json.NewEncoder(os.Stdout).Encode(out)
}

// search doubles the rate while the p99 bound holds (and every request is
// served, at 90% of the rate at least), then bisects between the last good
// and the first bad rate. When the first rate fails it halves down instead.
// A step that fails is tried twice.
func search(ctx context.Context, c config, call caller) (*stats, []stats) {
	var steps []stats
	good := func(s stats) bool {
		return s.Errors == 0 && s.Dropped == 0 && s.DueP99Ms <= ms(c.p99Limit) && s.Throughput >= 0.9*s.Rate
	}
	// try measures a rate; a failing step is measured once more, so that a
	// single hiccup of a shared machine does not end the search.
	try := func(r float64) stats {
		var s stats
		for attempt := 0; attempt < 2 && ctx.Err() == nil; attempt++ {
			s = step(ctx, c, call, r, c.stepDuration)
			steps = append(steps, s)
			fmt.Fprintf(os.Stderr, "loadgen: rate %.0f/s: p99 %.2f ms (from due %.2f ms), %.0f/s served, %d errors, %d dropped\n",
				r, s.P99Ms, s.DueP99Ms, s.Throughput, s.Errors, s.Dropped)
			if good(s) || s.Errors > 0 || s.Dropped > 0 {
				break
			}
		}
		return s
	}
	var best *stats
	lo, hi := 0.0, 0.0
	r := c.rate
	for r <= c.searchMax && ctx.Err() == nil {
		s := try(r)
		if !good(s) {
			hi = r
			break
		}
		best, lo = &s, r
		r *= 2
	}
	if best == nil { // the first rate failed: halve down
		for r = c.rate / 2; r >= 1 && ctx.Err() == nil; r /= 2 {
			s := try(r)
			if good(s) {
				best, lo = &s, r
				break
			}
			hi = r
		}
	}
	for i := 0; i < 3 && best != nil && hi > 0 && ctx.Err() == nil; i++ {
		mid := math.Round((lo + hi) / 2)
		if mid <= lo || mid >= hi {
			break
		}
		if s := try(mid); good(s) {
			best, lo = &s, mid
		} else {
			hi = mid
		}
	}
	return best, steps
}

// step sends requests at rate for d and returns their statistics.
func step(ctx context.Context, c config, call caller, rate float64, d time.Duration) stats {
	n := max(1, int(rate*d.Seconds()))
	interval := time.Duration(float64(time.Second) / rate)
	lat := make([]time.Duration, n) // from send
	due := make([]time.Duration, n) // from the time it was due
	var errs, dropped atomic.Int64
	var firstErr atomic.Value
	sem := make(chan struct{}, c.maxInflight)
	var wg sync.WaitGroup
	start := time.Now()
	sent := 0
	for i := 0; i < n && ctx.Err() == nil; i++ {
		at := start.Add(time.Duration(i) * interval)
		if w := time.Until(at); w > 0 {
			time.Sleep(w)
		}
		sent++
		select {
		case sem <- struct{}{}:
		default:
			dropped.Add(1)
			lat[i], due[i] = -1, -1
			continue
		}
		wg.Add(1)
		go func(i int, at time.Time) {
			defer wg.Done()
			rctx, cancel := context.WithTimeout(ctx, c.timeout)
			t0 := time.Now()
			err := call(rctx, i)
			end := time.Now()
			cancel()
			lat[i], due[i] = end.Sub(t0), end.Sub(at)
			if err != nil {
				errs.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
				lat[i], due[i] = -1, -1
			}
			<-sem
		}(i, at)
	}
	wg.Wait()
	elapsed := time.Since(start)
	ok := make([]time.Duration, 0, n)
	okDue := make([]time.Duration, 0, n)
	lag := make([]time.Duration, 0, n)
	var sum time.Duration
	for i, l := range lat[:sent] {
		if l >= 0 {
			ok = append(ok, l)
			okDue = append(okDue, due[i])
			lag = append(lag, due[i]-l)
			sum += l
		}
	}
	slices.Sort(ok)
	slices.Sort(okDue)
	slices.Sort(lag)
	s := stats{Rate: rate, Requests: sent, OK: len(ok), Errors: int(errs.Load()), Dropped: int(dropped.Load()),
		Seconds: elapsed.Seconds(), Throughput: float64(len(ok)) / elapsed.Seconds()}
	if e, _ := firstErr.Load().(string); e != "" {
		s.FirstError = e
	}
	if len(ok) > 0 {
		q := func(xs []time.Duration, p float64) float64 {
			return ms(xs[min(len(xs)-1, max(0, int(math.Ceil(p*float64(len(xs))))-1))])
		}
		s.MeanMs = ms(sum) / float64(len(ok))
		s.P50Ms, s.P90Ms, s.P99Ms, s.P999Ms, s.MaxMs = q(ok, 0.5), q(ok, 0.9), q(ok, 0.99), q(ok, 0.999), ms(ok[len(ok)-1])
		s.DueP99Ms, s.DueP999Ms, s.LagP99Ms = q(okDue, 0.99), q(okDue, 0.999), q(lag, 0.99)
	}
	return s
}

// closedLoop runs c.writers callers for c.duration, each calling again as
// soon as its last call returns, and reports what was served.
func closedLoop(ctx context.Context, c config, call caller) stats {
	var mu sync.Mutex
	var lat []time.Duration
	var errs atomic.Int64
	var firstErr atomic.Value
	var next atomic.Int64
	start := time.Now()
	end := start.Add(c.duration)
	var wg sync.WaitGroup
	for range c.writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for time.Now().Before(end) && ctx.Err() == nil {
				rctx, cancel := context.WithTimeout(ctx, c.timeout)
				t0 := time.Now()
				err := call(rctx, int(next.Add(1)))
				cancel()
				if err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(lat)
	s := stats{Requests: len(lat) + int(errs.Load()), OK: len(lat), Errors: int(errs.Load()),
		Seconds: elapsed.Seconds(), Throughput: float64(len(lat)) / elapsed.Seconds()}
	s.Rate = s.Throughput
	if e, _ := firstErr.Load().(string); e != "" {
		s.FirstError = e
	}
	if len(lat) > 0 {
		q := func(p float64) float64 {
			return ms(lat[min(len(lat)-1, max(0, int(math.Ceil(p*float64(len(lat))))-1))])
		}
		var sum time.Duration
		for _, l := range lat {
			sum += l
		}
		s.MeanMs = ms(sum) / float64(len(lat))
		s.P50Ms, s.P90Ms, s.P99Ms, s.P999Ms, s.MaxMs = q(0.5), q(0.9), q(0.99), q(0.999), ms(lat[len(lat)-1])
	}
	return s
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func featureNames(c config) []string {
	names := make([]string, c.features)
	for i := range names {
		names[i] = fmt.Sprintf("%s:f%02d", c.view, i)
	}
	return names
}

// keys returns the entity ids of request i (i = -1: the checked first call).
func keys(c config, i int) []int64 {
	r := rand.New(rand.NewPCG(c.seed, uint64(i+1)))
	ks := make([]int64, c.entities)
	for j := range ks {
		ks[j] = r.Int64N(c.keyspace)
	}
	return ks
}

func newCaller(c config) (caller, func(), error) {
	switch c.target {
	case "grpc":
		return grpcCaller(c)
	case "health":
		return healthCaller(c)
	case "http":
		return httpCaller(c)
	case "write":
		return writeCaller(c)
	}
	return nil, nil, fmt.Errorf("target %q: expected grpc, http, health or write", c.target)
}

// dial opens the c.conns connections of the grpc and health targets, set up
// alike so that the health check measures the lookups' own round trip.
func dial(c config) ([]*grpc.ClientConn, func(), error) {
	var conns []*grpc.ClientConn
	closeAll := func() {
		for _, cc := range conns {
			_ = cc.Close()
		}
	}
	for range c.conns {
		cc, err := grpc.NewClient(c.addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)))
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		conns = append(conns, cc)
	}
	return conns, closeAll, nil
}

func grpcCaller(c config) (caller, func(), error) {
	ccs, closeAll, err := dial(c)
	if err != nil {
		return nil, nil, err
	}
	conns := make([]timefencev1.OnlineServiceClient, len(ccs))
	for i, cc := range ccs {
		conns[i] = timefencev1.NewOnlineServiceClient(cc)
	}
	feats := featureNames(c)
	call := func(ctx context.Context, i int) error {
		ks := keys(c, i)
		rows := make([]*timefencev1.EntityRow, len(ks))
		for j, k := range ks {
			rows[j] = &timefencev1.EntityRow{Values: []*timefencev1.Value{{Kind: &timefencev1.Value_Int64Value{Int64Value: k}}}}
		}
		resp, err := conns[(i+len(conns))%len(conns)].GetOnlineFeatures(ctx, &timefencev1.GetOnlineFeaturesRequest{
			Features: feats, JoinKeys: []string{c.joinKey}, EntityRows: rows})
		if err != nil {
			return err
		}
		if len(resp.GetFeatures()) != len(feats) {
			return fmt.Errorf("response: %d features, want %d", len(resp.GetFeatures()), len(feats))
		}
		if i < 0 {
			present, other := countStatuses(resp.ProtoReflect())
			if present != len(ks)*len(feats) || other != 0 {
				return fmt.Errorf("response: %d present values and %d others for %d written entities × %d features",
					present, other, len(ks), len(feats))
			}
		}
		return nil
	}
	return call, closeAll, nil
}

// healthCaller sends grpc.health.v1.Health/Check for the whole server
// (service "") and requires SERVING.
func healthCaller(c config) (caller, func(), error) {
	ccs, closeAll, err := dial(c)
	if err != nil {
		return nil, nil, err
	}
	conns := make([]healthpb.HealthClient, len(ccs))
	for i, cc := range ccs {
		conns[i] = healthpb.NewHealthClient(cc)
	}
	call := func(ctx context.Context, i int) error {
		resp, err := conns[(i+len(conns))%len(conns)].Check(ctx, &healthpb.HealthCheckRequest{})
		if err != nil {
			return err
		}
		if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			return fmt.Errorf("response: health status %s, want SERVING", resp.GetStatus())
		}
		return nil
	}
	return call, closeAll, nil
}

// countStatuses counts the FeatureStatus values in a response, whatever its
// layout (row or column major), by walking the message.
func countStatuses(m protoreflect.Message) (present, other int) {
	add := func(v protoreflect.Value, fd protoreflect.FieldDescriptor) {
		switch {
		case fd.Kind() == protoreflect.MessageKind:
			p, o := countStatuses(v.Message())
			present, other = present+p, other+o
		case fd.Kind() == protoreflect.EnumKind && fd.Enum().FullName() == "timefence.v1.FeatureStatus":
			if timefencev1.FeatureStatus(v.Enum()) == timefencev1.FeatureStatus_FEATURE_STATUS_PRESENT {
				present++
			} else {
				other++
			}
		}
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList():
			for i := 0; i < v.List().Len(); i++ {
				add(v.List().Get(i), fd)
			}
		case fd.IsMap():
		default:
			add(v, fd)
		}
		return true
	})
	return present, other
}

func httpCaller(c config) (caller, func(), error) {
	tr := &http.Transport{MaxIdleConns: c.maxInflight, MaxIdleConnsPerHost: c.maxInflight, IdleConnTimeout: time.Minute}
	client := &http.Client{Transport: tr}
	url := "http://" + c.addr + "/get-online-features"
	feats := featureNames(c)
	call := func(ctx context.Context, i int) error {
		body, _ := json.Marshal(map[string]any{"features": feats, "entities": map[string][]int64{c.joinKey: keys(c, i)}})
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("HTTP %d: %.200s", resp.StatusCode, b)
		}
		if i < 0 {
			var r struct {
				Metadata struct {
					FeatureNames []string `json:"feature_names"`
				} `json:"metadata"`
				Results []struct {
					Statuses []string `json:"statuses"`
				} `json:"results"`
			}
			if err := json.Unmarshal(b, &r); err != nil {
				return fmt.Errorf("response: %w", err)
			}
			for _, res := range r.Results {
				for _, s := range res.Statuses {
					if s != "PRESENT" {
						return fmt.Errorf("response: status %s for a written entity: %.300s", s, b)
					}
				}
			}
		}
		return nil
	}
	return call, tr.CloseIdleConnections, nil
}

// writeCaller sends durable write batches of c.batchRows rows to c.view,
// with values for every feature of the view (read from the registry) and
// distinct entity keys within a batch, through the Go client's Write, as a
// Go service writing features would. Request -1 is the checked first call.
func writeCaller(c config) (caller, func(), error) {
	if int64(c.batchRows) > c.keyspace {
		return nil, nil, fmt.Errorf("-batch-rows %d exceeds -keyspace %d: keys of a batch must be distinct", c.batchRows, c.keyspace)
	}
	clients := make([]*client.Client, c.conns)
	closeAll := func() {
		for _, cl := range clients {
			if cl != nil {
				_ = cl.Close()
			}
		}
	}
	for i := range clients {
		cl, err := client.Dial(c.addr)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		clients[i] = cl
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, err := clients[0].GetFeatureView(ctx, c.view)
	if err != nil {
		closeAll()
		return nil, nil, fmt.Errorf("feature view %s: %w", c.view, err)
	}
	feats := v.GetFeatures()
	names := make([]string, len(feats))
	for i, f := range feats {
		names[i] = f.GetName()
	}
	var reader timefencev1.OnlineServiceClient
	if c.readFrom != "" {
		cc, err := grpc.NewClient(c.readFrom, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		prev := closeAll
		closeAll = func() { prev(); _ = cc.Close() }
		reader = timefencev1.NewOnlineServiceClient(cc)
	}
	call := func(ctx context.Context, i int) error {
		r := rand.New(rand.NewPCG(c.seed, uint64(i+2)))
		base := r.Int64N(c.keyspace)
		now := time.Now()
		rows := make([]client.Row, c.batchRows)
		for j := range rows {
			vals := make([]any, len(feats))
			for k, f := range feats {
				switch f.GetType() {
				case timefencev1.ValueType_VALUE_TYPE_DOUBLE:
					vals[k] = r.Float64()
				case timefencev1.ValueType_VALUE_TYPE_STRING:
					vals[k] = "v"
				case timefencev1.ValueType_VALUE_TYPE_BOOL:
					vals[k] = r.IntN(2) == 0
				default:
					vals[k] = r.Int64N(1 << 20)
				}
			}
			rows[j] = client.Row{Key: []any{(base + int64(j)) % c.keyspace}, EventTime: now, Values: vals}
		}
		res, err := clients[(i+len(clients))%len(clients)].Write(ctx, c.view, rows, client.WithFeatures(names...))
		if err != nil {
			return err
		}
		if got := res.LastSeq - res.FirstSeq + 1; got != int64(c.batchRows) {
			return fmt.Errorf("response: %d rows written, want %d", got, c.batchRows)
		}
		if reader == nil {
			return nil
		}
		got, err := reader.GetOnlineFeatures(ctx, &timefencev1.GetOnlineFeaturesRequest{
			Features: []string{c.view + ":" + names[0]}, JoinKeys: []string{c.joinKey}, MinWatermark: res.LastSeq,
			EntityRows: []*timefencev1.EntityRow{{Values: []*timefencev1.Value{{Kind: &timefencev1.Value_Int64Value{Int64Value: base % c.keyspace}}}}}})
		if err != nil {
			return err
		}
		if got.GetWatermark() < res.LastSeq {
			return fmt.Errorf("read at watermark %d after a write of seq %d", got.GetWatermark(), res.LastSeq)
		}
		return nil
	}
	return call, closeAll, nil
}
