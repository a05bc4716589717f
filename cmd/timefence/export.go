package main

import (
	"fmt"
	"time"

	"github.com/apache/arrow/go/v15/arrow"

	"github.com/timefence/timefence/client"
	"github.com/timefence/timefence/internal/tableio"

	"github.com/spf13/cobra"
)

func exportCmd() *cobra.Command {
	cmd := verb("export --split NAME --view VIEW -o OUT.parquet [flags]", "export a feature view's versions within a split to a Parquet file",
		`Exports every version of a feature view that production could have seen by
the split's cutoff (event time and available-at time both within the split)
to a Parquet file: the join keys, event_timestamp, available_at, deleted,
backfilled, then the features. The manifest is written beside it as
OUT.manifest.json; --dataset-id re-exports a recorded export byte for byte.`,
		"timefence export --split train --view user_stats -o user_stats.parquet",
		"timefence export --split train --view user_stats --features clicks -o clicks.parquet",
		"timefence export --dataset-id 3f9a... -o again.parquet")
	cmd.Args = noArgs
	conn := connectionFlags(cmd)
	fs := cmd.Flags()
	split := fs.String("split", "", "the split the export runs under")
	view := fs.String("view", "", "the feature view to export")
	var features listFlag
	fs.Var(&features, "features", "only these `features` of the view, comma-separated (default all)")
	var out string
	fs.StringVarP(&out, "output", "o", "", "the output Parquet file")
	datasetID := fs.String("dataset-id", "", "re-export this recorded export")
	completeFlags(cmd, conn, map[string]completer{"split": splitNames, "view": viewNames, "features": featuresOfView(view)})
	cmd.RunE = func(cmd *cobra.Command, pos []string) error {
		ctx, stdout, stderr := cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr()
		switch {
		case out == "":
			return usageError("export", "-o (the output Parquet file) is required")
		case !isParquetName(out):
			return usageError("export", "-o %s: the output is Parquet, so name it *.parquet", out)
		case *datasetID == "" && (*split == "" || *view == ""):
			return usageError("export", "--split and --view are required")
		}
		s, err := conn.dial(ctx)
		if err != nil {
			return err
		}
		defer s.Close()
		start := time.Now()
		sink := tableio.NewParquetWriter(out)
		p := newProgress(stderr, "exporting", "rows", 0)
		fn := func(rec arrow.Record) error {
			p.add(rec.NumRows())
			return sink.Write(rec)
		}
		var sum *client.ExportSummary
		if *datasetID != "" {
			sum, err = s.ExportDataset(ctx, *datasetID, fn)
		} else {
			sum, err = s.Export(ctx, *split, *view, fn, client.WithFeatures(features...))
		}
		p.finish()
		t, err := s.saveDataset(ctx, sink, out, err, func() (string, uint64) { return sum.DatasetID, sum.Watermark })
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "exported %s under split %s in %s\n", plural(sum.Rows, "version"), sum.Split, time.Since(start).Round(time.Millisecond))
		t.write(stdout)
		if sum.Rows == 0 {
			s.hintEmpty(ctx, stderr, sum.Split, []string{*view})
		}
		return nil
	}
	return cmd
}
