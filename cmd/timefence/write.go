package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/spf13/cobra"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
	"github.com/timefence/timefence/client"
	"github.com/timefence/timefence/internal/tableio"
)

func writeCmd() *cobra.Command {
	cmd := verb("write [flags] VIEW FILE", "write a CSV or Parquet file to a feature view as one batch",
		`Writes the rows of a CSV or Parquet file to a feature view as one atomic
batch: all of it becomes visible, or none. Columns are the view's join keys,
the event time and any of the view's features; absent features are null.
CSV cells are typed from the view's definition (an empty cell is null; bytes
are base64, times RFC 3339 or "2006-01-02 15:04:05", UTC without a zone;
json and map cells are JSON text; lists are JSON arrays like [1, 2] or
["a", "b"], with base64 strings for bytes and time strings for times; see
docs/types.md).

A live write is available from the moment it commits: the server sets each
row's available_at to its commit time, so reads at earlier times do not see
it. To load history that production saw in the past, write it with
--backfill: each row then carries its own available_at (column
--available-at-column), the time production could first read it, and is
flagged backfilled in exports and manifests.

A bool column "deleted" marks deletions: a row with deleted true writes a
tombstone, and from its event time on the key reads as not found; its
features must be empty (null), required ones included. So the output of
'timefence export' writes back as it is with --backfill, which ignores its
"backfilled" column (every row of a backfill is flagged backfilled).
'timefence delete' deletes keys without a file.`,
		"timefence write user_stats examples/user_stats.csv",
		"timefence write --backfill user_stats examples/user_stats_history.csv",
		"timefence write --batch-id 2024-06-01 --event-time-column ts user_stats day.parquet",
		"timefence write --backfill user_stats user_stats_export.parquet")
	cmd.Args = exactArgs(2, "expected a feature view and a file")
	conn := connectionFlags(cmd)
	fs := cmd.Flags()
	var opts writeFlags
	fs.StringVar(&opts.eventTime, "event-time-column", "event_timestamp", "the column holding each row's event time")
	fs.StringVar(&opts.batchID, "batch-id", "", "idempotency key: writing the same batch id and rows again writes nothing twice")
	fs.BoolVar(&opts.backfill, "backfill", false, "write history: each row's available_at comes from the file (--available-at-column), not the commit time")
	fs.StringVar(&opts.availableAt, "available-at-column", "available_at", "with --backfill: the column holding when each row became available")
	cmd.ValidArgsFunction = completeViewThenFile(conn)
	cmd.RunE = func(cmd *cobra.Command, pos []string) error {
		ctx, stdout, stderr := cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr()
		if fs.Changed("available-at-column") && !opts.backfill {
			return usageError("write", "--available-at-column needs --backfill")
		}
		viewName, path := pos[0], pos[1]
		if _, err := tableio.FormatOf(path); err != nil {
			return err
		}
		if err := checkFile(path); err != nil {
			return err
		}
		s, err := conn.dial(ctx)
		if err != nil {
			return err
		}
		defer s.Close()
		view, entity, err := s.viewAndEntity(ctx, viewName)
		if err != nil {
			return err
		}
		t, err := tableio.Open(ctx, path, writeColumns(view, entity, opts, path))
		if err != nil {
			return err
		}
		defer t.Close()
		start := time.Now()
		p := newProgress(stderr, "writing", t.Unit, t.Total)
		p.watch(t, func() { p.stage("waiting for the server", "", 0) })
		wopts := []client.Option{client.WithEventTimeColumn(opts.eventTime), client.WithBatchID(opts.batchID), client.WithProgress(p.server)}
		if opts.backfill {
			wopts = append(wopts, client.Backfill(), client.WithAvailableAtColumn(opts.availableAt))
		}
		res, err := s.WriteTable(ctx, viewName, t, wopts...)
		p.finish()
		if err != nil {
			return s.explain(err)
		}
		kind := "batch"
		if opts.backfill {
			kind = "backfill batch"
		}
		if res.Duplicate {
			fmt.Fprintf(stdout, "%s %q was already written; nothing was written again (%s, seq %d-%d)\n",
				kind, opts.batchID, plural(res.Rows, "row"), res.FirstSeq, res.LastSeq)
			return nil
		}
		avail := "available from " + res.CommitTime
		if opts.backfill {
			avail = "available as of each row's " + opts.availableAt
		}
		fmt.Fprintf(stdout, "wrote %s to %s in one %s (seq %d-%d, %s) in %s\n",
			plural(res.Rows, "row"), viewName, kind, res.FirstSeq, res.LastSeq, avail, time.Since(start).Round(time.Millisecond))
		return nil
	}
	return cmd
}

// viewAndEntity fetches a feature view and its entity.
func (s *session) viewAndEntity(ctx context.Context, name string) (*timefencev1.FeatureView, *timefencev1.Entity, error) {
	cctx, cancel := call(ctx)
	defer cancel()
	view, err := s.GetFeatureView(cctx, name)
	if err != nil {
		return nil, nil, s.explain(err)
	}
	entity, err := s.GetEntity(cctx, view.GetEntity())
	if err != nil {
		return nil, nil, s.explain(err)
	}
	return view, entity, nil
}

// writeFlags are the flags of 'timefence write'.
type writeFlags struct {
	eventTime, batchID string
	backfill           bool
	availableAt        string
}

// writeColumns types the columns of a file written to view.
func writeColumns(view *timefencev1.FeatureView, entity *timefencev1.Entity, opts writeFlags, path string) func(string) (arrow.DataType, error) {
	return func(col string) (arrow.DataType, error) {
		if col == opts.eventTime || (opts.backfill && col == opts.availableAt) {
			return arrow.FixedWidthTypes.Timestamp_ns, nil
		}
		for _, k := range entity.GetJoinKeys() {
			if k.GetName() == col {
				return tableio.ArrowType(k.GetType()), nil
			}
		}
		for _, f := range view.GetFeatures() {
			if f.GetName() == col {
				return tableio.CSVType(f.GetType()), nil
			}
		}
		switch {
		case col == "deleted" || (opts.backfill && col == "backfilled"):
			return arrow.FixedWidthTypes.Boolean, nil
		case col == "available_at":
			return nil, fmt.Errorf("%s: column %q is assigned by the server on a live write; remove it, or load the file as history with --backfill", path, col)
		case col == "backfilled":
			return nil, fmt.Errorf("%s: column %q belongs to history: load the file with --backfill (every row is then flagged backfilled), or remove the column", path, col)
		}
		var names []string
		for _, f := range view.GetFeatures() {
			names = append(names, f.GetName())
		}
		var keys []string
		for _, k := range entity.GetJoinKeys() {
			keys = append(keys, k.GetName())
		}
		return nil, fmt.Errorf("%s: column %q is not a join key (%s), the event time column (%s) or a feature of %s (%s)",
			path, col, strings.Join(keys, ", "), opts.eventTime, view.GetName(), strings.Join(names, ", "))
	}
}
