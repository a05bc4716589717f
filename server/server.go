package server

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/apache/arrow/go/v15/arrow/flight"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/experimental"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
	"github.com/timefence/timefence/internal/grpcbuf"
	"github.com/timefence/timefence/storage"
)

// Store is what the server needs of storage.
type Store interface {
	ApplyEntity(storage.Entity) (storage.Entity, bool, error)
	Entity(name string) (storage.Entity, error)
	Entities() []storage.Entity
	ApplyView(storage.View) (*storage.View, bool, error)
	View(name string) (*storage.View, error)
	ViewVersion(name string, version int64) (*storage.View, error)
	Views() []*storage.View
	CreateSplit(storage.Split) (storage.Split, bool, error)
	ApplyDefinitions(defs storage.Definitions, dryRun bool) ([]storage.Change, error)
	Split(name string) (storage.Split, error)
	Splits() []storage.Split
	Write(context.Context, storage.Batch) (storage.WriteResult, error)
	ReadTime() (at int64, watermark uint64)
	Watermark() uint64
	Lookup(context.Context, storage.Query) ([]storage.Result, error)
	LookupEach(ctx context.Context, q storage.Query, parallel int, fn func(part, i int, r *storage.Result)) error
	LookupColumns(ctx context.Context, q storage.Query, parallel int) (*storage.ResultColumns, error)
	ScanColumns(ctx context.Context, p *storage.Projection, w storage.Window, watermark uint64, batchRows int, fn func(*storage.ColumnBatch) error) error
	HistoryStatus() []storage.HistoryStatus
	PutManifest(storage.Manifest) (storage.Manifest, error)
	Manifest(id string) (storage.Manifest, error)
	Manifests() ([]storage.Manifest, error)
	Backup(ctx context.Context, w io.Writer, after *storage.BackupInfo) (storage.BackupInfo, error)
	Sandbox(ctx context.Context, w io.Writer, split string, allowed func(split string) bool) (storage.SandboxInfo, error)
	SandboxInfo() (storage.SandboxInfo, bool)
	ReadOnly(what string) error
	LastBatch(view string) int64
	ReplicaInfo() (storage.BackupInfo, bool)
	ApplyIncrement(ctx context.Context, path string) (storage.BackupInfo, error)
	Changes() <-chan struct{}
	WaitWatermark(ctx context.Context, w uint64, wait time.Duration) uint64
	AppendLog([]storage.LogRecord) error
	ScanLog(ctx context.Context, since, until int64, fn func(storage.LogRecord) error) error
	ValidationEvents(ctx context.Context, since, until int64, view string, fn func(storage.ValidationEvent) error) error
}

var _ Store = (*storage.Store)(nil)

var (
	_ timefencev1.RegistryServiceServer = (*Server)(nil)
	_ timefencev1.WriteServiceServer    = (*Server)(nil)
	_ timefencev1.OnlineServiceServer   = (*Server)(nil)
)

// Config holds the server's limits. DefaultConfig documents the defaults.
type Config struct {
	// MaxMessageBytes bounds a received or sent gRPC message. Default 64 MiB.
	MaxMessageBytes int
	// MaxConcurrentStreams bounds streams per connection. Default 256.
	MaxConcurrentStreams uint32
	// DefaultTimeout applies to unary calls that arrive without a deadline. Default 60 s.
	DefaultTimeout time.Duration
	// StopTimeout bounds the graceful stop; remaining calls are then cut. Default 10 s.
	StopTimeout time.Duration
	// MaxWriteRows bounds the rows of one write (a gRPC WriteBatch or a
	// Flight DoPut), which is held whole until it commits. Default 10,000,000.
	MaxWriteRows int64
	// MaxWriteBytes bounds the memory one bulk write holds until it commits:
	// the Arrow data received plus the decoded rows (64 bytes per value,
	// 160 per row). Default 8 GiB.
	MaxWriteBytes int64
	// MaxSpineRows bounds the rows of one point-in-time join's spine
	// (Flight DoExchange), which is held whole while the join runs.
	// Default 100,000,000.
	MaxSpineRows int64
	// MaxSpineBytes bounds the Arrow data of one spine. Default 8 GiB.
	MaxSpineBytes int64
	// MaxOnlineValues bounds entity rows × features of one online request.
	// Default 1,048,576.
	MaxOnlineValues int64
	// StreamIdleTimeout ends a stream (Flight, or a streaming call of the
	// API) whose client neither reads nor sends a message for this long.
	// Default 60 s.
	StreamIdleTimeout time.Duration
	// MaxClockSkew is how far past the server's clock an as-of time or a
	// spine timestamp may lie, for clients whose clocks run a little ahead.
	// A later time is refused (FAILED_PRECONDITION, reason FUTURE_TIME): what
	// a read of the future returns could change after it returns. A read as
	// of a time within the allowance waits for the time to come. Default 5 s;
	// a negative value allows none.
	MaxClockSkew time.Duration
	// HistoricalConcurrency bounds the historical requests (point-in-time
	// joins, exports, statistics) that run at once; the others wait their
	// turn within their deadline. Default 2.
	HistoricalConcurrency int
	// HistoricalParallelism is the goroutines each historical request
	// spreads its work over. Default GOMAXPROCS.
	HistoricalParallelism int
	// HistoricalNice lowers the OS priority (Linux nice, 1-19) of the threads
	// that run historical work, so that online lookups and writes go first
	// when the cores are busy (see work.go). Default 10; negative: not lowered.
	HistoricalNice int
	// ServingLogRate is the share of online lookups at now kept in the
	// serving log, from 0 (none but those that ask, the default) to 1.
	ServingLogRate float64
	// ServingLogQueueBytes bounds the memory of logged lookups waiting to
	// be stored; beyond it records are dropped and counted. Default 64 MiB.
	ServingLogQueueBytes int64
	// Version is reported in manifests and logs.
	Version string
	// Auth, when set, requires a bearer token on every call but health
	// checks and limits each credential to its role and splits.
	Auth *Auth
	// TLS, when set, serves over TLS; set ClientCAs and ClientAuth for mTLS.
	TLS    *tls.Config
	Logger *slog.Logger
}

// DefaultConfig returns the default limits.
func DefaultConfig() Config {
	return Config{
		MaxMessageBytes:      64 << 20,
		MaxConcurrentStreams: 256,
		DefaultTimeout:       60 * time.Second,
		StopTimeout:          10 * time.Second,
		// A write holds about 450 bytes per row of a narrow view (a key and a
		// few features) until it commits: 10M rows take about 4.5 GB. 8 GiB
		// lets a wide view (50 features, about 3.8 KB per row) write 2M rows
		// at once; larger tables are written in several batches.
		MaxWriteRows:  10_000_000,
		MaxWriteBytes: 8 << 30,
		// A join holds its spine as received, plus 8 bytes per row of
		// timestamps; the lookups and results are held one chunk (at most
		// 1M rows) at a time. 100M rows of a key, a timestamp and a label
		// take about 3.2 GB: ten times the largest benchmarked spine.
		MaxSpineRows:  100_000_000,
		MaxSpineBytes: 8 << 30,
		// 1M values answer 20,000 entities × 50 features in one response
		// well under MaxMessageBytes.
		MaxOnlineValues:   1 << 20,
		StreamIdleTimeout: 60 * time.Second,
		MaxClockSkew:      5 * time.Second,
		// Two requests at a time: a long export does not hold up every join.
		HistoricalConcurrency: 2,
		HistoricalParallelism: runtime.GOMAXPROCS(0),
		HistoricalNice:        10,
		ServingLogQueueBytes:  64 << 20,
		Logger:                slog.Default(),
	}
}

// orOff reads a setting whose zero means the default and whose negative
// values turn it off (0).
func orOff[T ~int | ~int64](v, def T) T {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

// Server implements timefence's gRPC services over a Store.
type Server struct {
	timefencev1.UnimplementedRegistryServiceServer
	timefencev1.UnimplementedWriteServiceServer
	timefencev1.UnimplementedOnlineServiceServer
	timefencev1.UnimplementedDatasetServiceServer
	timefencev1.UnimplementedAdminServiceServer
	timefencev1.UnimplementedServingLogServiceServer

	store   Store
	cfg     Config
	plans   planCache
	log     *slog.Logger
	metrics *metrics
	work    *work
	health  *health.Server
	// servingLog keeps logged online lookups (servinglog.go).
	servingLog *servingLog
	// replicaMetrics describe following the primary, on a replica.
	replicaMetrics *replicaMetrics
	// stopping is closed when a graceful stop begins.
	stopping chan struct{}
}

// New returns a server over store.
func New(store Store, cfg Config) *Server {
	def := DefaultConfig()
	cfg.MaxMessageBytes = cmp.Or(cfg.MaxMessageBytes, def.MaxMessageBytes)
	cfg.MaxConcurrentStreams = cmp.Or(cfg.MaxConcurrentStreams, def.MaxConcurrentStreams)
	cfg.DefaultTimeout = cmp.Or(cfg.DefaultTimeout, def.DefaultTimeout)
	cfg.StopTimeout = cmp.Or(cfg.StopTimeout, def.StopTimeout)
	cfg.MaxWriteRows = cmp.Or(cfg.MaxWriteRows, def.MaxWriteRows)
	cfg.MaxWriteBytes = cmp.Or(cfg.MaxWriteBytes, def.MaxWriteBytes)
	cfg.MaxSpineRows = cmp.Or(cfg.MaxSpineRows, def.MaxSpineRows)
	cfg.MaxSpineBytes = cmp.Or(cfg.MaxSpineBytes, def.MaxSpineBytes)
	cfg.MaxOnlineValues = cmp.Or(cfg.MaxOnlineValues, def.MaxOnlineValues)
	cfg.StreamIdleTimeout = cmp.Or(cfg.StreamIdleTimeout, def.StreamIdleTimeout)
	cfg.MaxClockSkew = orOff(cfg.MaxClockSkew, def.MaxClockSkew)
	cfg.HistoricalConcurrency = cmp.Or(cfg.HistoricalConcurrency, def.HistoricalConcurrency)
	cfg.HistoricalParallelism = cmp.Or(cfg.HistoricalParallelism, def.HistoricalParallelism)
	cfg.HistoricalNice = orOff(cfg.HistoricalNice, def.HistoricalNice)
	cfg.ServingLogQueueBytes = cmp.Or(cfg.ServingLogQueueBytes, def.ServingLogQueueBytes)
	cfg.ServingLogRate = min(max(cfg.ServingLogRate, 0), 1)
	if cfg.Logger == nil {
		cfg.Logger = def.Logger
	}
	w := newWork(cfg, cfg.Logger.Warn)
	sl := newServingLog(store, cfg.ServingLogRate, cfg.ServingLogQueueBytes, cfg.Logger)
	m := newMetrics(store, w)
	m.reg.MustRegister(sl.collectors()...)
	rm := newReplicaMetrics(store)
	if _, ok := store.ReplicaInfo(); ok {
		m.reg.MustRegister(rm.collectors()...)
	}
	return &Server{store: store, cfg: cfg, log: cfg.Logger, metrics: m, work: w, health: health.NewServer(), servingLog: sl,
		replicaMetrics: rm, stopping: make(chan struct{})}
}

// streamWorkers is how many goroutines serve calls; a call that finds them
// all busy gets a new goroutine.
const streamWorkers = 32

// GRPCServer builds a grpc.Server with the limits of the config and every
// service registered: timefence.v1, Arrow Flight, health and reflection.
// Health reports SERVING for "" and for each service until Serve stops.
func (s *Server) GRPCServer() *grpc.Server {
	// The gRPC metrics come first, so that they count every call as it ends,
	// a recovered panic too.
	unary := []grpc.UnaryServerInterceptor{s.metrics.grpc.UnaryServerInterceptor(), s.recoverUnary, s.metrics.refusalsUnary}
	// The Arrow status of a failed Flight call is set outside the others, so
	// that they all see the error as the handler returned it.
	stream := []grpc.StreamServerInterceptor{s.metrics.grpc.StreamServerInterceptor(), s.arrowStatusStream, s.recoverStream,
		s.metrics.refusalsStream, s.idleStream}
	if s.cfg.Auth != nil {
		unary = append(unary, s.authUnary)
		stream = append(stream, s.authStream)
	}
	unary = append(unary, s.deadlineUnary, s.logUnary)
	opts := []grpc.ServerOption{
		grpc.MaxRecvMsgSize(s.cfg.MaxMessageBytes),
		grpc.MaxSendMsgSize(s.cfg.MaxMessageBytes),
		grpc.MaxConcurrentStreams(s.cfg.MaxConcurrentStreams),
		// Calls run on goroutines kept from call to call, whose stacks have
		// grown already: a new goroutine per call spends about 4% of a
		// small write's CPU growing its stack.
		grpc.NumStreamWorkers(streamWorkers),
		newServerCodec(),
		experimental.BufferPool(grpcbuf.Receive),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 2 * time.Minute, Timeout: 20 * time.Second}),
		grpc.ChainUnaryInterceptor(unary...),
		grpc.ChainStreamInterceptor(stream...),
	}
	if s.cfg.TLS != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(s.cfg.TLS)))
	}
	g := grpc.NewServer(opts...)
	timefencev1.RegisterRegistryServiceServer(g, s)
	timefencev1.RegisterWriteServiceServer(g, s)
	timefencev1.RegisterOnlineServiceServer(g, s)
	timefencev1.RegisterDatasetServiceServer(g, s)
	timefencev1.RegisterAdminServiceServer(g, s)
	timefencev1.RegisterServingLogServiceServer(g, s)
	flight.RegisterFlightServiceServer(g, &flightServer{s: s})
	healthpb.RegisterHealthServer(g, s.health)
	reflection.Register(g)
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	for name := range g.GetServiceInfo() {
		s.health.SetServingStatus(name, healthpb.HealthCheckResponse_SERVING)
	}
	s.metrics.grpc.InitializeMetrics(g)
	return g
}

// Serve serves on lis until ctx is done, then stops gracefully: in-flight
// calls get StopTimeout to finish before they are cut.
func (s *Server) Serve(ctx context.Context, lis net.Listener) error {
	g := s.GRPCServer()
	errc := make(chan error, 1)
	go func() { errc <- g.Serve(lis) }()
	s.log.Info("serving", "address", lis.Addr().String(), "tls", s.cfg.TLS != nil,
		"mutual_tls", s.cfg.TLS != nil && s.cfg.TLS.ClientAuth == tls.RequireAndVerifyClientCert,
		"auth", s.cfg.Auth != nil, "credentials", s.cfg.Auth.count())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.log.Info("stopping gracefully", "timeout_s", s.cfg.StopTimeout.Seconds())
	// Load balancers and orchestrators watching health stop sending calls.
	s.health.Shutdown()
	close(s.stopping) // replicas following this server are let go
	stopped := make(chan struct{})
	go func() { g.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(s.cfg.StopTimeout):
		s.log.Warn("graceful stop timed out; closing remaining calls")
		g.Stop()
	}
	// The lookups served before the stop are stored before it returns.
	s.servingLog.close()
	if err := <-errc; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return err
	}
	return nil
}

// recoverUnary is the outermost interceptor: it refuses a request that did
// not decode, turns a panic into INTERNAL, and logs every INTERNAL error
// with the request id the client sees.
func (s *Server) recoverUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (resp any, err error) {
	if err := decodeError(req); err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			resp, err = nil, internalStatus(&panicError{value: r, stack: debug.Stack()})
		}
		err = s.reportInternal(info.FullMethod, err)
	}()
	return h(ctx, req)
}

// recoverStream does for streams what recoverUnary does for unary calls.
func (s *Server) recoverStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = internalStatus(&panicError{value: r, stack: debug.Stack()})
		}
		err = s.reportInternal(info.FullMethod, err)
	}()
	return h(srv, decodedStream{ss})
}

// decodedStream refuses received messages that did not decode.
type decodedStream struct{ grpc.ServerStream }

func (s decodedStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	return decodeError(m)
}

func (s *Server) deadlineUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.cfg.DefaultTimeout)
		defer cancel()
	}
	return h(ctx, req)
}

func (s *Server) logUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	start := time.Now()
	resp, err := h(ctx, req)
	if err != nil {
		s.log.Info("call failed", "method", info.FullMethod, "code", status.Code(err).String(),
			"error", status.Convert(err).Message(), "duration_s", time.Since(start).Seconds())
	} else if s.log.Enabled(ctx, slog.LevelDebug) {
		s.log.Debug("call", "method", info.FullMethod, "duration_s", time.Since(start).Seconds())
	}
	return resp, err
}
