package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/spf13/cobra"
)

// feastInstall says how to get the Python importer.
const feastInstall = "pip install './client/python[feast]' from the repository's root"

func importCmd() *cobra.Command {
	cmd := verb("import feast [flags] REPO_PATH", "import a Feast repository: definitions and offline data",
		`Imports the Feast repository at REPO_PATH (the folder of feature_store.yaml;
run 'feast apply' there first) into the server: its entities and feature
views become one definitions file, applied all or nothing, and each view's
Parquet FileSource is loaded as a backfill. A row's available_at is the
source's created_timestamp_column; a source without one needs --lag, and its
rows become available at their event time plus the lag. Loading again
writes nothing twice. The report lists what was created, the rows loaded
per view, and what was not imported (on-demand views, push and stream
sources, feature services, other offline stores, types without a timefence
counterpart), each with what to do instead.

The import runs the Python client's importer (python -m
timefence.feast_import), which reads the repository with the Feast SDK. It
needs Python 3 with the client and its feast extra:
  `+feastInstall+`
TIMEFENCE_PYTHON names the interpreter (default python3); the token goes to
it in TIMEFENCE_TOKEN.`,
		"timefence import feast feature_repo",
		"timefence import feast feature_repo --lag 1h --definitions-out feast.yaml",
		"timefence import feast feature_repo --dry-run")
	cmd.Args = func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) == 0:
			return usageError("import", "expected a source and a path: import feast REPO_PATH")
		case args[0] != "feast":
			return usageError("import", "unknown source %q; expected feast", args[0])
		case len(args) != 2:
			return usageError("import", "expected one Feast repository path after feast")
		}
		return nil
	}
	conn := connectionFlags(cmd)
	fs := cmd.Flags()
	lag := fs.String("lag", "", "for sources without a created_timestamp_column: rows become available at event time + LAG (e.g. 1h, 30m, 1d, 0s)")
	defsOut := fs.String("definitions-out", "", "also write the definitions (YAML) to this file")
	dryRun := fs.Bool("dry-run", false, "check the definitions with the server and count the rows; apply and load nothing")
	cmd.RunE = func(cmd *cobra.Command, pos []string) error {
		python := envOr("TIMEFENCE_PYTHON", "python3")
		if _, err := exec.LookPath(python); err != nil {
			return fmt.Errorf("import feast needs Python 3 with the timefence client: %s not found; install Python and %s, or set TIMEFENCE_PYTHON", python, feastInstall)
		}
		check := exec.CommandContext(cmd.Context(), python, "-c", "import timefence.feast_import")
		if out, err := check.CombinedOutput(); err != nil {
			return fmt.Errorf("import feast needs the timefence Python client in %s (%s): %s", python, lastLine(out), feastInstall)
		}
		args := []string{"-m", "timefence.feast_import", pos[1], "--addr", *conn.addr}
		for _, f := range []struct{ flag, value string }{{"--lag", *lag}, {"--definitions-out", *defsOut},
			{"--tls-ca", *conn.ca}, {"--tls-cert", *conn.cert}, {"--tls-key", *conn.key}} {
			if f.value != "" {
				args = append(args, f.flag, f.value)
			}
		}
		if *dryRun {
			args = append(args, "--dry-run")
		}
		if *conn.tls {
			args = append(args, "--tls")
		}
		py := exec.CommandContext(cmd.Context(), python, args...)
		py.Env = os.Environ()
		if *conn.token != "" {
			py.Env = append(py.Env, "TIMEFENCE_TOKEN="+*conn.token)
		}
		var stderr bytes.Buffer
		py.Stdout, py.Stderr = cmd.OutOrStdout(), &stderr
		if err := py.Run(); err != nil {
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				return fmt.Errorf("import feast: %v", err)
			}
			// The importer's error is its last line (Feast's warnings come first).
			msg := strings.TrimPrefix(lastLine(stderr.Bytes()), "timefence import feast: ")
			if msg == "" {
				msg = fmt.Sprintf("%s -m timefence.feast_import failed: %v", python, err)
			}
			return errors.New("import feast: " + msg)
		}
		return nil
	}
	return cmd
}

// lastLine is the last non-empty line of out.
func lastLine(out []byte) string {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
