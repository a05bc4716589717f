package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/timefence/timefence/server"
	"github.com/timefence/timefence/storage"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func serveCmd() *cobra.Command {
	cmd := verb("serve [flags]", "run the server on an embedded data directory",
		`Runs the timefence server: gRPC and Arrow Flight on one port, over the
Badger store in the data directory (created on first use). SIGTERM or
Ctrl-C stops it gracefully.`,
		"timefence serve", "timefence serve --addr 0.0.0.0:7070 --data /srv/timefence --metrics-addr localhost:9464")
	cmd.Args = noArgs
	fs := cmd.Flags()
	addr := fs.String("addr", envOr("TIMEFENCE_ADDR", defaultAddr), "address to listen on (env TIMEFENCE_ADDR)")
	dir := fs.String("data", defaultDataDir(), "data directory (env TIMEFENCE_DATA)")
	level := fs.String("log-level", "info", "log level: debug, info, warn or error")
	format := fs.String("log-format", "text", "log format: text or json")
	certFile := fs.String("tls-cert", "", "serve TLS with this PEM certificate (needs --tls-key)")
	keyFile := fs.String("tls-key", "", "the PEM private key of --tls-cert")
	clientCA := fs.String("tls-client-ca", "", "require client certificates signed by this PEM CA (mutual TLS)")
	metricsAddr := fs.String("metrics-addr", "", "serve Prometheus metrics (/metrics) over HTTP, without auth or TLS, at this address, e.g. localhost:9464 (off when empty)")
	pprofOn := fs.Bool("pprof", false, "also serve Go profiles (/debug/pprof/) at --metrics-addr: they show the server's internals and cost CPU, so keep that address private")
	skew := fs.Duration("max-clock-skew", server.DefaultConfig().MaxClockSkew, "refuse an as-of read or a spine timestamp later than now by more than this (FUTURE_TIME); 0 allows none")
	flushVersions := fs.Int("flush-versions", storage.DefaultOptions("").FlushVersions, "write a view's in-memory versions to a columnar run file once this many wait")
	flushIdle := fs.Duration("flush-idle", storage.DefaultOptions("").FlushIdle, "write a view's in-memory versions to a run file once no batch has arrived for this long")
	reserve := sizeFlag(storage.DefaultOptions("").ReserveBytes)
	fs.Var(&reserve, "reserve", "refuse writes (RESOURCE_EXHAUSTED, STORAGE_FULL) while the data directory has less than this free, so the store can always flush and compact; 0 turns the check off")
	authFile := fs.String("auth-file", "", "require bearer tokens listed in this JSON file (see docs/auth.md; 'timefence token create' makes entries)")
	replica := addReplicaFlags(fs)
	cfg := server.DefaultConfig()
	limitFlags(fs, &cfg)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		ctx, stderr := cmd.Context(), cmd.ErrOrStderr()
		if err := checkLimits(cfg); err != nil {
			return err
		}
		if *pprofOn && *metricsAddr == "" {
			return fmt.Errorf("--pprof serves profiles at --metrics-addr; set it too")
		}
		if cfg.MaxClockSkew = *skew; *skew <= 0 {
			cfg.MaxClockSkew = -1 // none: the config's zero means the default
		}
		if cfg.HistoricalNice == 0 {
			cfg.HistoricalNice = -1 // not lowered: the config's zero means the default
		}
		log, err := newLogger(stderr, *level, *format)
		if err != nil {
			return err
		}
		if cfg.TLS, err = loadTLS(*certFile, *keyFile, *clientCA); err != nil {
			return err
		}
		if *authFile != "" {
			if cfg.Auth, err = server.LoadAuth(*authFile); err != nil {
				return err
			}
			if cfg.TLS == nil {
				log.Warn("auth is on without TLS: bearer tokens travel in clear text")
			}
		}
		if *replica.of != "" {
			if err := prepareReplica(ctx, replica, *dir, log); err != nil {
				return err
			}
		}
		opts := storage.DefaultOptions(*dir).WithLogger(log).WithFlushVersions(*flushVersions).WithFlushIdle(*flushIdle).WithReserveBytes(reserveOption(reserve))
		opts.ReplicaOf = *replica.of
		st, err := storage.Open(opts)
		if err != nil {
			return err
		}
		defer st.Close()
		_, isReplica := st.ReplicaInfo()
		switch {
		case *replica.of != "" && !isReplica:
			return fmt.Errorf("--replica-of: %s holds a store that is not a replica; a replica starts in an empty directory", *dir)
		case *replica.of == "" && isReplica:
			log.Warn("this store is a read replica, and without --replica-of it follows no primary: it serves reads as of its last change applied")
		}
		lis, err := net.Listen("tcp", *addr)
		if err != nil {
			return fmt.Errorf("cannot listen on %s: %w", *addr, err)
		}
		cfg.Logger = log
		cfg.Version = Version
		if cfg.HistoricalNice > 0 && os.Getenv("GOMAXPROCS") == "" {
			// Leave every core's processor to online lookups and writes while
			// historical work runs at its bounds (server/work.go).
			runtime.GOMAXPROCS(runtime.GOMAXPROCS(0) + server.HistoricalThreads(cfg))
		}
		log.Info("timefence starting", "version", Version, "data", *dir, "gomaxprocs", runtime.GOMAXPROCS(0))
		if sb, ok := st.SandboxInfo(); ok {
			log.Info("serving a sandbox: reads only", "split", sb.Split.Name, "cutoff", storage.FormatTime(sb.Split.End), "source_store", sb.SourceID)
		}
		srv := server.New(st, cfg)
		if *metricsAddr != "" {
			mlis, err := net.Listen("tcp", *metricsAddr)
			if err != nil {
				return fmt.Errorf("cannot listen on %s for metrics: %w", *metricsAddr, err)
			}
			mux := http.NewServeMux()
			mux.Handle("/metrics", srv.MetricsHandler())
			if *pprofOn {
				mux.HandleFunc("/debug/pprof/", pprof.Index)
				mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
				mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
				mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
			}
			hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
			go func() { _ = hs.Serve(mlis) }()
			defer hs.Close()
			log.Info("serving metrics", "address", mlis.Addr().String(), "pprof", *pprofOn)
		}
		ctx, stop := context.WithCancel(ctx)
		defer stop()
		var followErr error
		if *replica.of != "" {
			primary, err := replica.dial(ctx, false)
			if err != nil {
				return err
			}
			defer primary.Close()
			done := make(chan struct{})
			defer func() { stop(); <-done }()
			go func() {
				defer close(done)
				if err := srv.FollowPrimary(ctx, primary.Conn(), filepath.Join(*dir, "incoming")); ctx.Err() == nil {
					followErr = err
					log.Error("replica: cannot follow the primary; stopping", "primary", *replica.of, "err", err)
					stop()
				}
			}()
			log.Info("serving as a read replica", "primary", *replica.of, "watermark", st.Watermark())
		}
		if err := srv.Serve(ctx, lis); err != nil {
			return err
		}
		if followErr != nil {
			return fmt.Errorf("--replica-of %s: %w", *replica.of, followErr)
		}
		log.Info("stopped")
		return nil
	}
	return cmd
}

// limitFlags adds the flags of the server's request limits, which set cfg.
func limitFlags(fs *pflag.FlagSet, cfg *server.Config) {
	fs.Int64Var(&cfg.MaxWriteRows, "max-write-rows", cfg.MaxWriteRows, "refuse a write (gRPC or Flight) of more rows: it is held whole until it commits")
	fs.Var((*sizeFlag)(&cfg.MaxWriteBytes), "max-write-bytes", "refuse a bulk write that holds more memory: its Arrow data plus 64 bytes per decoded value (e.g. 512MiB, 8GiB)")
	fs.Int64Var(&cfg.MaxSpineRows, "max-spine-rows", cfg.MaxSpineRows, "refuse a point-in-time join whose spine has more rows: it is held whole while the join runs")
	fs.Var((*sizeFlag)(&cfg.MaxSpineBytes), "max-spine-bytes", "refuse a point-in-time join whose spine holds more Arrow data (e.g. 512MiB, 8GiB)")
	fs.Int64Var(&cfg.MaxOnlineValues, "max-online-values", cfg.MaxOnlineValues, "refuse an online request of more entity rows × features")
	fs.DurationVar(&cfg.StreamIdleTimeout, "stream-idle-timeout", cfg.StreamIdleTimeout, "end a stream (a Flight join, export or bulk write, or another streaming call) whose client neither reads nor sends for this long")
	fs.IntVar(&cfg.HistoricalConcurrency, "historical-concurrency", cfg.HistoricalConcurrency, "run at most this many historical requests (joins, exports, statistics) at once; the others wait their turn")
	fs.IntVar(&cfg.HistoricalParallelism, "historical-parallelism", cfg.HistoricalParallelism, "goroutines each historical request spreads its work over")
	fs.Float64Var(&cfg.ServingLogRate, "serving-log-rate", cfg.ServingLogRate, "keep this share (0 to 1) of online lookups at now in the serving log, besides those that ask ('timefence skew' replays them)")
	fs.Var((*sizeFlag)(&cfg.ServingLogQueueBytes), "serving-log-queue", "the memory of logged lookups waiting to be stored; beyond it they are dropped and counted (timefence_serving_log_records_total)")
	fs.IntVar(&cfg.HistoricalNice, "historical-nice", cfg.HistoricalNice, "lower the OS priority (nice, 1-19) of the threads of historical work, so online lookups and writes go first on busy cores; 0 does not")
}

// checkLimits refuses limits that would refuse everything.
func checkLimits(cfg server.Config) error {
	for _, l := range []struct {
		flag string
		v    int64
	}{{"max-write-rows", cfg.MaxWriteRows}, {"max-write-bytes", cfg.MaxWriteBytes}, {"max-spine-rows", cfg.MaxSpineRows},
		{"max-spine-bytes", cfg.MaxSpineBytes}, {"max-online-values", cfg.MaxOnlineValues}, {"stream-idle-timeout", int64(cfg.StreamIdleTimeout)},
		{"historical-concurrency", int64(cfg.HistoricalConcurrency)}, {"historical-parallelism", int64(cfg.HistoricalParallelism)}} {
		if l.v <= 0 {
			return fmt.Errorf("--%s: must be positive", l.flag)
		}
	}
	if cfg.ServingLogRate < 0 || cfg.ServingLogRate > 1 {
		return fmt.Errorf("--serving-log-rate: must be between 0 and 1, not %g", cfg.ServingLogRate)
	}
	if cfg.ServingLogQueueBytes <= 0 {
		return fmt.Errorf("--serving-log-queue: must be positive")
	}
	if cfg.HistoricalNice < 0 || cfg.HistoricalNice > 19 {
		return fmt.Errorf("--historical-nice: must be between 0 and 19, not %d", cfg.HistoricalNice)
	}
	return nil
}

// loadTLS builds the server's TLS config from PEM files; none without a certificate.
func loadTLS(certFile, keyFile, clientCA string) (*tls.Config, error) {
	if certFile == "" && keyFile == "" && clientCA == "" {
		return nil, nil
	}
	if certFile == "" || keyFile == "" {
		return nil, fmt.Errorf("TLS needs both --tls-cert and --tls-key")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("TLS certificate: %w", err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if clientCA != "" {
		pem, err := os.ReadFile(clientCA)
		if err != nil {
			return nil, fmt.Errorf("TLS client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("TLS client CA %s: no PEM certificate found", clientCA)
		}
		cfg.ClientCAs, cfg.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: expected debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log format %q: expected text or json", format)
}

// reserveOption maps the -reserve flag to the store option: 0 turns the
// check off.
func reserveOption(b sizeFlag) int64 {
	if b == 0 {
		return -1
	}
	return int64(b)
}
