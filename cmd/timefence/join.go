package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/apache/arrow/go/v15/arrow"

	"github.com/timefence/timefence/client"
	"github.com/timefence/timefence/internal/tableio"

	"github.com/spf13/cobra"
)

func joinCmd() *cobra.Command {
	cmd := verb("join --split NAME --spine FILE --features REFS -o OUT.parquet [flags]", "point-in-time join of a spine with features, to a Parquet file",
		`Runs a point-in-time join: for each row of the spine (join keys, a
timestamp, any other columns such as labels), reads each feature as
production could have read it at that row's timestamp. The result (the
spine's columns, then one column per feature) is written to a Parquet
file, and the dataset's manifest beside it as OUT.manifest.json.

The read runs under a split: a spine with any timestamp outside the split is
refused whole. Features are "view:feature", or "view" for all of a view's.
--dataset-id re-reads a recorded dataset byte for byte, given the same spine.`,
		"timefence join --split train --spine examples/spine.csv --features user_stats -o train.parquet",
		"timefence join --split train --spine labels.parquet --features user_stats:clicks,user_profile:country -o train.parquet",
		"timefence join --dataset-id 3f9a... --spine labels.parquet -o again.parquet")
	cmd.Args = noArgs
	conn := connectionFlags(cmd)
	fs := cmd.Flags()
	split := fs.String("split", "", "the split the read runs under")
	spinePath := fs.String("spine", "", "the spine: a CSV or Parquet file")
	var features listFlag
	fs.Var(&features, "features", "feature `references`, comma-separated or repeated: view:feature or view")
	var out string
	fs.StringVarP(&out, "output", "o", "", "the output Parquet file")
	tsCol := fs.String("timestamp-column", "event_timestamp", "the spine's timestamp column")
	full := fs.Bool("full-feature-names", false, "name result columns view__feature instead of feature")
	datasetID := fs.String("dataset-id", "", "re-read this recorded dataset (split and features come from it)")
	completeFlags(cmd, conn, map[string]completer{"split": splitNames, "features": featureRefs})
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		ctx, stdout, stderr := cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr()
		switch {
		case *spinePath == "":
			return usageError("join", "--spine is required")
		case out == "":
			return usageError("join", "-o (the output Parquet file) is required")
		case !isParquetName(out):
			return usageError("join", "-o %s: the output is Parquet, so name it *.parquet", out)
		case *datasetID == "" && *split == "":
			return usageError("join", "--split is required")
		case *datasetID == "" && len(features) == 0:
			return usageError("join", "--features is required")
		}
		if _, err := tableio.FormatOf(*spinePath); err != nil {
			return err
		}
		if err := checkFile(*spinePath); err != nil {
			return err
		}
		s, err := conn.dial(ctx)
		if err != nil {
			return err
		}
		defer s.Close()
		refs := []string(features)
		if *datasetID != "" {
			m, err := s.GetManifest(ctx, *datasetID)
			if err != nil {
				return s.explain(err)
			}
			if m.GetKind() != "historical" {
				return fmt.Errorf("dataset %s is an %s, not a join; re-read it with 'timefence export --dataset-id'", *datasetID, m.GetKind())
			}
			if len(refs) == 0 {
				refs = strings.Split(m.GetOptions()["features"], ",")
			}
			if c := m.GetOptions()["timestamp_column"]; c != "" {
				*tsCol = c
			}
		}
		keyTypes, err := s.keyTypes(ctx, refs)
		if err != nil {
			return err
		}
		spine, err := tableio.Open(ctx, *spinePath, func(col string) (arrow.DataType, error) {
			if col == *tsCol {
				return arrow.FixedWidthTypes.Timestamp_ns, nil
			}
			return keyTypes[col], nil // nil: inferred from the data
		})
		if err != nil {
			return err
		}
		defer spine.Close()

		start := time.Now()
		var opts []client.Option
		if *tsCol != "event_timestamp" {
			opts = append(opts, client.WithTimestampColumn(*tsCol))
		}
		if *full {
			opts = append(opts, client.WithFullFeatureNames())
		}
		var joinRefs []string
		if *datasetID != "" {
			opts = append(opts, client.WithDatasetID(*datasetID))
			joinRefs = features // empty unless given: the dataset names them
		} else {
			joinRefs = refs
		}
		sink := tableio.NewParquetWriter(out)
		nfeat := 0
		var present []int64 // non-null values per feature column
		p := newProgress(stderr, "sending the spine", spine.Unit, spine.Total)
		p.watch(spine, func() { p.stage("waiting for the server", "", 0) })
		opts = append(opts, client.WithProgress(p.server))
		sum, err := s.GetHistorical(ctx, *split, joinRefs, spine, func(rec arrow.Record) error {
			if !p.inStage("receiving the result") {
				p.stage("receiving the result", "rows", spine.Rows())
			}
			if nfeat == 0 {
				nfeat = int(rec.NumCols()) - len(spine.Schema().Fields())
				present = make([]int64, nfeat)
			}
			for i := range present {
				col := rec.Column(int(rec.NumCols()) - nfeat + i)
				present[i] += int64(col.Len() - col.NullN())
			}
			p.add(rec.NumRows())
			return sink.Write(rec)
		}, opts...)
		p.finish()
		t, err := s.saveDataset(ctx, sink, out, err, func() (string, uint64) { return sum.DatasetID, sum.Watermark })
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "joined %s with %s under split %s in %s\n",
			plural(sum.Rows, "spine row"), plural(nfeat, "feature"), sum.Split, time.Since(start).Round(time.Millisecond))
		t.add("naive-join differences", fmt.Sprintf("%s of %s (%s) would have read another version in a naive event-time join",
			count(sum.NaiveDifferences), plural(sum.Rows, "row"), percent(ratio(sum.NaiveDifferences, sum.Rows))))
		if sum.BackfilledValues > 0 {
			t.add("backfilled values", count(sum.BackfilledValues))
		}
		t.write(stdout)
		if sum.Rows > 0 {
			s.hintNullViews(ctx, stderr, sum.Split, refs, present)
		}
		return nil
	}
	return cmd
}

func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// keyTypes returns the Arrow types of the join keys of the views referenced
// by refs ("view:feature" or "view"), by key column name.
func (s *session) keyTypes(ctx context.Context, refs []string) (map[string]arrow.DataType, error) {
	out := map[string]arrow.DataType{}
	seen := map[string]bool{}
	for _, ref := range refs {
		view, _, _ := strings.Cut(ref, ":")
		if seen[view] {
			continue
		}
		seen[view] = true
		_, entity, err := s.viewAndEntity(ctx, view)
		if err != nil {
			return nil, err
		}
		for _, k := range entity.GetJoinKeys() {
			out[k.GetName()] = tableio.ArrowType(k.GetType())
		}
	}
	return out, nil
}

// saveDataset ends the read of a dataset into sink: on failure (err) it
// removes the partial output and explains err; otherwise it commits the
// output, writes the manifest beside it and returns the summary table's
// first rows. ids gives the dataset id and watermark once err is nil.
func (s *session) saveDataset(ctx context.Context, sink *tableio.ParquetWriter, out string, err error, ids func() (string, uint64)) (*textTable, error) {
	if err != nil {
		sink.Abort()
		return nil, s.explain(err)
	}
	if err := sink.Commit(); err != nil {
		return nil, err
	}
	id, watermark := ids()
	mpath, err := s.writeManifest(ctx, id, out)
	if err != nil {
		return nil, err
	}
	t := newTable("", "")
	t.indent, t.noHeader = "  ", true
	t.add("output", out)
	t.add("manifest", mpath)
	t.add("dataset id", id)
	t.add("watermark", fmt.Sprint(watermark))
	return t, nil
}

// writeManifest writes the manifest of a dataset beside out and returns its path.
func (s *session) writeManifest(ctx context.Context, datasetID, out string) (string, error) {
	cctx, cancel := call(ctx)
	defer cancel()
	m, err := s.GetManifest(cctx, datasetID)
	if err != nil {
		return "", s.explain(err)
	}
	data, err := protoJSON(m)
	if err != nil {
		return "", err
	}
	path := manifestPath(out)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return "", fmt.Errorf("cannot write %s: %v", path, unwrapPath(err))
	}
	return path, nil
}

// manifestPath is where the manifest of out is written: OUT.manifest.json
// for OUT.parquet.
func manifestPath(out string) string {
	return strings.TrimSuffix(out, filepath.Ext(out)) + ".manifest.json"
}

// isParquetName reports whether path has a Parquet file's extension.
func isParquetName(path string) bool {
	format, err := tableio.FormatOf(path)
	return err == nil && format == tableio.Parquet
}
