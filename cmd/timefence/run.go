package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Version is the server and CLI version, set at build time with
// -ldflags "-X main.Version=...".
var Version = "0.1.0-dev"

// defaultAddr is the address the server listens on and the CLI dials.
const defaultAddr = "localhost:7070"

type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands = map[string]command{
	"serve":      {"run the server on an embedded data directory", runServe},
	"apply":      {"apply a YAML definitions file: entities, feature views, splits", runApply},
	"write":      {"write a CSV or Parquet file to a feature view as one batch", runWrite},
	"split":      {"create or list splits: the time windows training reads run under", runSplit},
	"join":       {"point-in-time join of a spine with features, to a Parquet file", runJoin},
	"export":     {"export a feature view's versions within a split to a Parquet file", runExport},
	"get":        {"look features up online, as inference would now", runGet},
	"stats":      {"summarise features within a split, or compare two splits", runStats},
	"status":     {"show each view's columnar history: run files, versions in memory", runStatus},
	"backup":     {"write a backup of a running server's store, full or incremental", runBackup},
	"restore":    {"restore backups into a new data directory", runRestore},
	"verify":     {"check a data directory offline: checksums, keys, registry, watermark", runVerify},
	"schema":     {"print the JSON Schema of the definitions file", runSchema},
	"quickstart": {"run a demo that shows the leakage timefence prevents", runQuickstart},
	"version":    {"print the version", runVersion},
}

// commandOrder is the order usage lists the commands in.
var commandOrder = []string{"serve", "apply", "write", "split", "join", "export", "get", "stats", "status", "backup", "restore", "verify", "schema", "quickstart", "version"}

// errUsage marks an error already explained by usage text.
var errUsage = errors.New("usage")

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 2 && args[0] == "help" {
		args = []string{args[1], "-h"}
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		return nil
	}
	cmd, ok := commands[args[0]]
	if !ok {
		usage(stderr)
		return fmt.Errorf("unknown command %q", args[0])
	}
	err := cmd.run(ctx, args[1:], stdout, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "timefence is a leakage-safe, time-travel feature store.")
	fmt.Fprintln(w, "\nUsage: timefence <command> [flags]\n\nCommands:")
	for _, n := range commandOrder {
		fmt.Fprintf(w, "  %-10s  %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nCommands that talk to a server take --addr (env TIMEFENCE_ADDR, default "+defaultAddr+").")
	fmt.Fprintln(w, "Run 'timefence <command> -h' for a command's flags and examples.")
}

func runVersion(_ context.Context, _ []string, stdout, _ io.Writer) error {
	fmt.Fprintln(stdout, "timefence", Version)
	return nil
}

// newFlags returns a flag set that prints its usage to stderr.
func newFlags(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: timefence %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// defaultDataDir is $TIMEFENCE_DATA, else $XDG_DATA_HOME/timefence, else
// ~/.local/share/timefence.
func defaultDataDir() string {
	if d := os.Getenv("TIMEFENCE_DATA"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "timefence")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "timefence")
	}
	return "timefence-data"
}

func envOr(name, def string) string {
	if v := strings.TrimSpace(os.Getenv(name)); v != "" {
		return v
	}
	return def
}
