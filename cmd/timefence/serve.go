package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"

	"github.com/timefence/timefence/server"
	"github.com/timefence/timefence/storage"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("serve", "serve [flags]", stderr)
	addr := fs.String("addr", envOr("TIMEFENCE_ADDR", defaultAddr), "address to listen on (env TIMEFENCE_ADDR)")
	dir := fs.String("data", defaultDataDir(), "data directory (env TIMEFENCE_DATA)")
	level := fs.String("log-level", "info", "log level: debug, info, warn or error")
	format := fs.String("log-format", "text", "log format: text or json")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log, err := newLogger(stderr, *level, *format)
	if err != nil {
		return err
	}
	st, err := storage.Open(storage.DefaultOptions(*dir).WithLogger(log))
	if err != nil {
		return err
	}
	defer st.Close()
	lis, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w", *addr, err)
	}
	cfg := server.DefaultConfig()
	cfg.Logger = log
	cfg.Version = Version
	log.Info("timefence starting", "version", Version, "data", *dir)
	if err := server.New(st, cfg).Serve(ctx, lis); err != nil {
		return err
	}
	log.Info("stopped")
	return nil
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
