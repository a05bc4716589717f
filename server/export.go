package server

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/flight"
	"github.com/apache/arrow/go/v15/arrow/ipc"
	"github.com/apache/arrow/go/v15/arrow/memory"

	"github.com/timefence/timefence/storage"
)

// exportCmd is the Flight DoGet ticket of a snapshot export.
type exportCmd struct {
	Op          string   `json:"op"`
	Split       string   `json:"split"`
	FeatureView string   `json:"feature_view"`
	Features    []string `json:"features,omitempty"`
	// DatasetID re-exports a recorded export byte for byte.
	DatasetID string `json:"dataset_id,omitempty"`
}

// exportSummary is the app metadata of an export's last record.
type exportSummary struct {
	DatasetID string `json:"dataset_id"`
	Checksum  string `json:"checksum"`
	Rows      int64  `json:"rows"`
	Split     string `json:"split"`
	Watermark uint64 `json:"watermark"`
}

var timestampNS = &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}

// export streams every version of a view that production could have seen
// by the split's cutoff: event time and available-at time both within the
// split, seq at most the watermark. Columns: the join keys, event_timestamp,
// available_at, deleted, backfilled, then the features.
func (s *Server) export(ctx context.Context, cmd exportCmd, out flight.DataStreamWriter) error {
	var versions map[string]int64
	var prior *storage.Manifest
	if cmd.DatasetID != "" {
		m, err := s.store.Manifest(cmd.DatasetID)
		if err != nil {
			return err
		}
		if m.Kind != "export" || len(m.Features) == 0 {
			return invalid(fmt.Sprintf("dataset_id: dataset %q is not an export", m.DatasetID))
		}
		prior = &m
		cmd.Split, cmd.FeatureView, cmd.Features = m.Split.Name, m.Features[0].View, nil
		for _, f := range m.Features {
			cmd.Features = append(cmd.Features, f.Feature)
		}
		versions = map[string]int64{cmd.FeatureView: m.Features[0].ViewVersion}
	}
	sp, err := s.splitFor(ctx, cmd.Split)
	if err != nil {
		return err
	}
	if cmd.FeatureView == "" {
		return invalid("feature_view: missing")
	}
	refs := []string{cmd.FeatureView}
	if len(cmd.Features) > 0 {
		refs = refs[:0]
		for _, f := range cmd.Features {
			refs = append(refs, cmd.FeatureView+":"+f)
		}
	}
	reads, _, err := s.resolveFeatures(refs, versions)
	if err != nil {
		return err
	}
	proj := reads[0].proj
	view := proj.View
	watermark := s.store.Watermark()
	if prior != nil {
		watermark = prior.Watermark
	}
	m := storage.Manifest{Kind: "export", Split: sp, Watermark: watermark, ServerVersion: s.cfg.Version}
	for _, f := range proj.Features {
		m.Features = append(m.Features, storage.FeatureRef{View: view.Name, Feature: f.Name, ViewVersion: view.Version})
	}
	m.DatasetID = datasetID(struct {
		Kind      string
		Features  []storage.FeatureRef
		Split     storage.Split
		Watermark uint64
	}{m.Kind, m.Features, storage.Split{Name: sp.Name, Start: sp.Start, End: sp.End}, watermark})

	var fields []arrow.Field
	for _, k := range view.JoinKeys {
		fields = append(fields, arrow.Field{Name: k.Name, Type: arrowType(k.Type)})
	}
	fields = append(fields,
		arrow.Field{Name: "event_timestamp", Type: timestampNS},
		arrow.Field{Name: "available_at", Type: timestampNS},
		arrow.Field{Name: "deleted", Type: arrow.FixedWidthTypes.Boolean},
		arrow.Field{Name: "backfilled", Type: arrow.FixedWidthTypes.Boolean})
	for _, f := range proj.Features {
		fields = append(fields, arrow.Field{Name: f.Name, Type: arrowType(f.Type), Nullable: true})
	}
	schema := arrow.NewSchema(fields, nil)
	w := flight.NewRecordWriter(out, ipc.WithSchema(schema), ipc.WithAllocator(memory.DefaultAllocator))
	defer w.Close()
	hasher := newTableHasher(len(fields))
	var pending arrow.Record
	defer func() {
		if pending != nil {
			pending.Release()
		}
	}()
	// Each batch becomes a record; the previous one is written, as the last
	// record is held back to carry the summary.
	write := func(rec arrow.Record) error {
		for i, c := range rec.Columns() {
			hasher.add(i, c)
		}
		if pending != nil {
			err := w.Write(pending)
			pending.Release()
			pending = nil
			if err != nil {
				rec.Release()
				return err
			}
		}
		pending = rec
		return nil
	}
	err = s.store.ScanColumns(ctx, proj, storage.Window{Start: sp.Start, End: sp.End}, watermark, chunkRows, func(b *storage.ColumnBatch) error {
		cols, err := keyArrays(view, b.Keys)
		if err != nil {
			return err
		}
		cols = append(cols, timestampArray(b.EventTime), timestampArray(b.AvailableAt), boolArray(b.Deleted), boolArray(b.Backfilled))
		for i := range b.Features {
			cols = append(cols, columnArray(&b.Features[i], b.Len()))
		}
		rec := array.NewRecord(schema, cols, int64(b.Len()))
		for _, c := range cols {
			c.Release()
		}
		m.Rows += int64(b.Len())
		for i := range b.Len() {
			m.MaxEventTime, m.MaxAvailableAt = max(m.MaxEventTime, b.EventTime[i]), max(m.MaxAvailableAt, b.AvailableAt[i])
			if b.Backfilled[i] {
				m.BackfilledValues++
			}
		}
		return write(rec)
	})
	if err != nil {
		return err
	}
	if pending == nil { // no versions: one empty record carries the summary
		b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
		err := write(b.NewRecord())
		b.Release()
		if err != nil {
			return err
		}
	}
	m.OutputChecksum = hasher.sum(schema.String())
	stored, err := s.store.PutManifest(m)
	if err != nil {
		return err
	}
	if stored.OutputChecksum != m.OutputChecksum {
		s.log.Error("re-export of a dataset differs from its first export", "dataset_id", m.DatasetID)
	}
	meta, _ := json.Marshal(exportSummary{DatasetID: m.DatasetID, Checksum: m.OutputChecksum, Rows: m.Rows, Split: sp.Name, Watermark: watermark})
	err = w.WriteWithAppMetadata(pending, meta)
	s.log.Info("export", "dataset_id", m.DatasetID, "view", view.Name, "split", sp.Name, "rows", m.Rows)
	return err
}
