package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"

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
	// MinWatermark is the lowest watermark to read at (read your writes);
	// see GetOnlineFeaturesRequest.min_watermark.
	MinWatermark int64 `json:"min_watermark,omitempty"`
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
	leave, err := s.work.enter(ctx, nil)
	if err != nil {
		return err
	}
	defer leave()

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
	// The scan builds records; a second goroutine hashes and writes them,
	// so the two halves of the work run on two cores. The look-ahead is
	// bounded: an export whose client stops reading holds at most five
	// records of chunkRows rows (one being sent, one kept back for the
	// summary, two queued, one built by the scan) until StreamIdleTimeout
	// ends it.
	recs := make(chan arrow.Record, 2)
	written := make(chan error, 1)
	hw := &hashedWriter{w: w, hasher: hasher}
	defer hw.release()
	s.work.start(func() {
		var err error
		defer func() { written <- err }()
		defer func() { // after a panic, stop the scan and free what it still sends
			hw.failed.Store(true)
			for rec := range recs {
				rec.Release()
			}
		}()
		defer recovered(&err)
		err = hw.run(recs)
	})
	err = s.store.ScanColumns(ctx, proj, storage.Window{Start: sp.Start, End: sp.End}, watermark, chunkRows, func(b *storage.ColumnBatch) error {
		cols := make([]arrow.Array, 0, len(fields))
		for i := range b.KeyColumns {
			cols = append(cols, columnArray(&b.KeyColumns[i], b.Len()))
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
		if hw.failed.Load() {
			rec.Release()
			return errWriteFailed
		}
		recs <- rec
		return nil
	})
	if err == nil && m.Rows == 0 { // no versions: one empty record carries the summary
		b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
		recs <- b.NewRecord()
		b.Release()
	}
	close(recs)
	if werr := <-written; werr != nil {
		err = werr
	}
	if err != nil {
		return err
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
	err = w.WriteWithAppMetadata(hw.pending, meta)
	s.log.Info("export", "dataset_id", m.DatasetID, "view", view.Name, "split", sp.Name, "rows", m.Rows)
	return err
}

// hashedWriter hashes records and writes each one once the next has come:
// the last record is kept back (pending) to carry the summary.
type hashedWriter struct {
	w       *flight.Writer
	hasher  *tableHasher
	pending arrow.Record
	failed  atomic.Bool // set once a write failed
}

// errWriteFailed stops a scan whose output can no longer be written; the
// write's own error is reported instead.
var errWriteFailed = errors.New("export: the stream failed")

// run consumes recs until it is closed. After a write error it releases
// what still arrives and returns the error.
func (hw *hashedWriter) run(recs <-chan arrow.Record) error {
	var err error
	for rec := range recs {
		if err != nil {
			rec.Release()
			continue
		}
		for i, c := range rec.Columns() {
			hw.hasher.add(i, c)
		}
		if hw.pending != nil {
			err = hw.w.Write(hw.pending)
			hw.pending.Release()
			hw.failed.Store(err != nil)
		}
		hw.pending = rec
	}
	return err
}

func (hw *hashedWriter) release() {
	if hw.pending != nil {
		hw.pending.Release()
		hw.pending = nil
	}
}
