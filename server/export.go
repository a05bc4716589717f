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
	nfixed := len(fields)
	for _, f := range proj.Features {
		fields = append(fields, arrow.Field{Name: f.Name, Type: arrowType(f.Type), Nullable: true})
	}
	schema := arrow.NewSchema(fields, nil)
	w := flight.NewRecordWriter(out, ipc.WithSchema(schema), ipc.WithAllocator(memory.DefaultAllocator))
	defer w.Close()
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	hasher := newTableHasher(len(fields))
	var pending arrow.Record
	defer func() {
		if pending != nil {
			pending.Release()
		}
	}()
	// flush turns the builder into a record and writes the previous one: the
	// last record is held back to carry the summary.
	flush := func() error {
		rec := b.NewRecord()
		for i, c := range rec.Columns() {
			hasher.add(i, c)
		}
		if pending != nil {
			err := w.Write(pending)
			pending.Release()
			pending = nil
			if err != nil {
				return err
			}
		}
		pending = rec
		return nil
	}
	inBuilder := 0
	err = s.store.Scan(ctx, proj, storage.Window{Start: sp.Start, End: sp.End}, watermark, func(v *storage.Version) error {
		key, err := view.DecodeKey(v.Key)
		if err != nil {
			return err
		}
		for j, k := range key {
			appendValue(b.Field(j), k)
		}
		o := len(key)
		b.Field(o).(*array.TimestampBuilder).Append(arrow.Timestamp(v.EventTime))
		b.Field(o + 1).(*array.TimestampBuilder).Append(arrow.Timestamp(v.AvailableAt))
		b.Field(o + 2).(*array.BooleanBuilder).Append(v.Deleted)
		b.Field(o + 3).(*array.BooleanBuilder).Append(v.Backfilled)
		for j, x := range v.Values {
			appendValue(b.Field(nfixed+j), x)
		}
		m.Rows++
		m.MaxEventTime, m.MaxAvailableAt = max(m.MaxEventTime, v.EventTime), max(m.MaxAvailableAt, v.AvailableAt)
		if v.Backfilled {
			m.BackfilledValues++
		}
		if inBuilder++; inBuilder == chunkRows {
			inBuilder = 0
			return flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	if inBuilder > 0 || pending == nil {
		if err := flush(); err != nil {
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
