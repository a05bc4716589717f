package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/apache/arrow/go/v15/arrow"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
)

func runWrite(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := verbFlags("write", "write [flags] VIEW FILE",
		`Writes the rows of a CSV or Parquet file to a feature view as one atomic
batch: all of it becomes visible, or none. Columns are the view's join keys,
the event time and any of the view's features; absent features are null.
CSV cells are typed from the view's definition (an empty cell is null; bytes
are base64, float lists look like [0.1, 0.2], times RFC 3339 or
"2006-01-02 15:04:05", UTC without a zone). The server assigns each row's
available_at: its commit time.`,
		[]string{
			"timefence write user_stats examples/user_stats.csv",
			"timefence write --batch-id 2024-06-01 --event-time-column ts user_stats day.parquet",
		}, stderr)
	conn := connectionFlags(fs)
	etCol := fs.String("event-time-column", "event_timestamp", "the column holding each row's event time")
	batchID := fs.String("batch-id", "", "idempotency key: writing the same batch id and rows again writes nothing twice")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usageError("write", "expected a feature view and a file")
	}
	viewName, path := pos[0], pos[1]
	if _, err := tableKind(path); err != nil {
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
	t, err := openTable(ctx, path, writeColumns(view, entity, *etCol, path))
	if err != nil {
		return err
	}
	defer t.close()
	start := time.Now()
	p := newProgress(stderr, "writing", t.unit, t.total)
	res, err := s.WriteTable(ctx, viewName, *batchID, *etCol, t.watch(p, func() { p.stage("committing", "", 0) }))
	p.finish()
	if err != nil {
		return s.explain(err)
	}
	if res.Duplicate {
		fmt.Fprintf(stdout, "batch %q was already written; nothing was written again (%s rows, seq %d-%d)\n",
			*batchID, count(int64(res.Rows)), res.FirstSeq, res.LastSeq)
		return nil
	}
	fmt.Fprintf(stdout, "wrote %s rows to %s in one batch (seq %d-%d, available from %s) in %s\n",
		count(int64(res.Rows)), viewName, res.FirstSeq, res.LastSeq, res.CommitTime, time.Since(start).Round(time.Millisecond))
	return nil
}

// viewAndEntity fetches a feature view and its entity.
func (s *session) viewAndEntity(ctx context.Context, name string) (*timefencev1.FeatureView, *timefencev1.Entity, error) {
	cctx, cancel := call(ctx)
	defer cancel()
	vr, err := s.Registry.GetFeatureView(cctx, &timefencev1.GetFeatureViewRequest{Name: name})
	if err != nil {
		return nil, nil, s.explain(err)
	}
	er, err := s.Registry.GetEntity(cctx, &timefencev1.GetEntityRequest{Name: vr.GetFeatureView().GetEntity()})
	if err != nil {
		return nil, nil, s.explain(err)
	}
	return vr.GetFeatureView(), er.GetEntity(), nil
}

// writeColumns types the columns of a file written to view.
func writeColumns(view *timefencev1.FeatureView, entity *timefencev1.Entity, etCol, path string) func(string) (arrow.DataType, error) {
	return func(col string) (arrow.DataType, error) {
		if col == etCol {
			return timestampType, nil
		}
		for _, k := range entity.GetJoinKeys() {
			if k.GetName() == col {
				return arrowTypeOf(k.GetType()), nil
			}
		}
		for _, f := range view.GetFeatures() {
			if f.GetName() == col {
				return arrowTypeOf(f.GetType()), nil
			}
		}
		if col == "available_at" {
			return nil, fmt.Errorf("%s: column %q is assigned by the server on write; remove it", path, col)
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
			path, col, strings.Join(keys, ", "), etCol, view.GetName(), strings.Join(names, ", "))
	}
}
