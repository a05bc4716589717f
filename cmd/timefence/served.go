package main

import (
	"fmt"
	"time"

	"github.com/apache/arrow/go/v15/arrow"

	"github.com/timefence/timefence/internal/tableio"

	"github.com/spf13/cobra"
)

func servedCmd() *cobra.Command {
	cmd := verb("served --split NAME --features REFS -o OUT.parquet [flags]", "write what production served, from the serving log, under a split",
		`Writes the logged online lookups read within the split's window that
served every one of the features to a Parquet file: one row per entity row,
with request_id, row, read_time, the join keys, context (the request-time
inputs as a JSON object), then each feature as served, named view:feature
(null unless it was present). It is "log and wait": join it with labels
that arrived since (keyed by request_id) to train on exactly what
production served. Lookups read after the split's end are never in it.`,
		"timefence served --split train --features user_stats -o served.parquet")
	cmd.Args = noArgs
	conn := connectionFlags(cmd)
	fs := cmd.Flags()
	split := fs.String("split", "", "the split the read runs under")
	var features listFlag
	fs.Var(&features, "features", "feature `references` served, comma-separated or repeated: view:feature or view")
	var out string
	fs.StringVarP(&out, "output", "o", "", "the output Parquet file")
	completeFlags(cmd, conn, map[string]completer{"split": splitNames, "features": featureRefs})
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		ctx, stdout := cmd.Context(), cmd.OutOrStdout()
		switch {
		case out == "":
			return usageError("served", "-o (the output Parquet file) is required")
		case !isParquetName(out):
			return usageError("served", "-o %s: the output is Parquet, so name it *.parquet", out)
		case *split == "" || len(features) == 0:
			return usageError("served", "--split and --features are required")
		}
		s, cctx, done, err := conn.open(ctx)
		if err != nil {
			return err
		}
		defer done()
		start := time.Now()
		sink := tableio.NewParquetWriter(out)
		sum, err := s.ServingLog(cctx, *split, features, func(rec arrow.Record) error { return sink.Write(rec) })
		if err != nil {
			sink.Abort()
			return s.explain(err)
		}
		if err := sink.Commit(); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s of %s served under split %s to %s in %s\n", plural(sum.Rows, "row"),
			plural(sum.Lookups, "logged lookup"), sum.Split, out, time.Since(start).Round(time.Millisecond))
		return nil
	}
	return cmd
}
