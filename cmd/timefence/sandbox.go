package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/apache/arrow/go/v15/arrow"

	"github.com/timefence/timefence/internal/tableio"
	"github.com/timefence/timefence/server"
	"github.com/timefence/timefence/storage"

	"github.com/spf13/cobra"
)

func sandboxCmd() *cobra.Command {
	cmd := verb("sandbox", "cut a sandbox from a running server at a split, to serve on a laptop",
		`A sandbox is a store of its own cut from a running server at a split:
production's definitions, the split and the splits that end no later, every
version that happened and arrived by the split's end (the cutoff), and the
manifests of the datasets recorded under those splits. Nothing after the
cutoff is in its files. 'timefence serve --data DIR' serves it read-only:
joins and exports under its splits give production's answers byte for byte.`,
		"timefence sandbox create --split train -o ./train-sandbox")
	cmd.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usageError("sandbox", "unknown subcommand %q; expected create", args[0])
		}
		return nil
	}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		cmd.SetOut(cmd.ErrOrStderr())
		_ = cmd.Usage()
		return usageError("sandbox", "expected a subcommand: create")
	}
	cmd.AddCommand(sandboxCreateCmd())
	return cmd
}

func sandboxCreateCmd() *cobra.Command {
	cmd := verb("create --split NAME -o DIR", "cut a sandbox at a split into a new directory",
		`Cuts a sandbox from the running server at split NAME into DIR, a new data
directory, then writes each feature view's versions in it as Parquet under
DIR/parquet/VIEW.parquet, with the export's manifest beside it
(VIEW.manifest.json), for DuckDB, Spark or pandas. Serve it with
'timefence serve --data DIR'.`,
		"timefence sandbox create --split train -o ./train-sandbox")
	cmd.Args = noArgs
	conn := connectionFlags(cmd)
	fs := cmd.Flags()
	split := fs.String("split", "", "the split to cut at: nothing after its end is kept")
	var out string
	fs.StringVarP(&out, "output", "o", "", "the new directory (must not exist or be empty)")
	noParquet := fs.Bool("no-parquet", false, "do not write the Parquet copies of the views")
	completeFlags(cmd, conn, map[string]completer{"split": splitNames})
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		ctx, stdout, stderr := cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr()
		switch {
		case *split == "":
			return usageError("sandbox create", "--split is required")
		case out == "":
			return usageError("sandbox create", "-o (the new directory) is required")
		}
		if ents, err := os.ReadDir(out); err == nil && len(ents) > 0 {
			return fmt.Errorf("%s is not empty; a sandbox goes into a new directory", out)
		}
		start := time.Now()
		s, err := conn.dial(ctx)
		if err != nil {
			return err
		}
		defer s.Close()
		// The backup file lives beside the directory until it is restored.
		tmp, err := os.CreateTemp(filepath.Dir(filepath.Clean(out)), ".sandbox-*.partial")
		if err != nil {
			return err
		}
		defer os.Remove(tmp.Name())
		p := newProgress(stderr, "cutting", "bytes", 0)
		info, err := s.CreateSandbox(ctx, *split, io.MultiWriter(tmp, p))
		p.finish()
		if err != nil {
			tmp.Close()
			return s.explain(err)
		}
		if err := tmp.Close(); err != nil {
			return err
		}
		if _, err := storage.Restore(out, []string{tmp.Name()}); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "cut a sandbox of store %s at split %s (cutoff %s) into %s: %s kept, %s after the cutoff left out, splits %v, %s\n",
			info.GetSourceStoreId(), *split, info.GetSplit().GetEnd().AsTime().UTC().Format(time.RFC3339Nano), out,
			plural(info.GetVersions(), "version"), plural(info.GetLeftOut(), "version"), info.GetSplits(), plural(info.GetManifests(), "dataset"))
		if !*noParquet {
			files, err := sandboxParquet(ctx, out, *split, stderr)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "wrote %s under %s\n", plural(int64(files), "Parquet file"), filepath.Join(out, "parquet"))
		}
		fmt.Fprintf(stdout, "serve it with: timefence serve --data %s (took %s)\n", out, time.Since(start).Round(time.Millisecond))
		return nil
	}
	return cmd
}

// sandboxParquet exports every view of the sandbox in dir under split to
// dir/parquet, each with its manifest, by serving the sandbox on a loopback
// port while it does: the files hold exactly what the sandbox serves.
func sandboxParquet(ctx context.Context, dir, split string, stderr io.Writer) (int, error) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := storage.Open(storage.DefaultOptions(dir).WithLogger(quiet))
	if err != nil {
		return 0, err
	}
	defer st.Close()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	cfg := server.DefaultConfig()
	cfg.Logger, cfg.Version = quiet, Version
	sctx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- server.New(st, cfg).Serve(sctx, lis) }()
	defer func() { stop(); <-served }()
	s, err := dial(ctx, lis.Addr().String(), dialed{})
	if err != nil {
		return 0, err
	}
	defer s.Close()
	cctx, cancel := call(ctx)
	views, err := s.ListFeatureViews(cctx)
	cancel()
	if err != nil {
		return 0, s.explain(err)
	}
	pdir := filepath.Join(dir, "parquet")
	if err := os.MkdirAll(pdir, 0o755); err != nil {
		return 0, err
	}
	for _, v := range views {
		path := filepath.Join(pdir, v.GetName()+".parquet")
		sink := tableio.NewParquetWriter(path)
		p := newProgress(stderr, "exporting "+v.GetName(), "rows", 0)
		sum, err := s.Export(ctx, split, v.GetName(), func(rec arrow.Record) error {
			p.add(rec.NumRows())
			return sink.Write(rec)
		})
		p.finish()
		if _, err := s.saveDataset(ctx, sink, path, err, func() (string, uint64) { return sum.DatasetID, sum.Watermark }); err != nil {
			return 0, err
		}
	}
	return len(views), nil
}
