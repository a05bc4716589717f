package server

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/flight"
	"github.com/apache/arrow/go/v15/arrow/ipc"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"google.golang.org/grpc/codes"

	"github.com/timefence/timefence/storage"
)

// historicalCmd is the Flight DoExchange command of a point-in-time join.
type historicalCmd struct {
	Op       string   `json:"op"`
	Split    string   `json:"split"`
	Features []string `json:"features"`
	// TimestampColumn names the spine's timestamp column; default "event_timestamp".
	TimestampColumn string `json:"timestamp_column,omitempty"`
	// FullFeatureNames names result columns "view__feature" instead of "feature".
	FullFeatureNames bool `json:"full_feature_names,omitempty"`
	// DatasetID re-reads a recorded dataset: with the same spine, the output
	// is byte-identical to the first read's, whatever was written since.
	DatasetID string `json:"dataset_id,omitempty"`
	// Progress asks for progress messages before the first result record.
	Progress bool `json:"progress,omitempty"`
	// MinWatermark is the lowest watermark to read at (read your writes);
	// see GetOnlineFeaturesRequest.min_watermark.
	MinWatermark int64 `json:"min_watermark,omitempty"`
}

// joinSummary is sent as the app metadata of the last message of a join.
type joinSummary struct {
	DatasetID string `json:"dataset_id"`
	// Checksum is the output's content digest (see Manifest.output_checksum).
	Checksum string `json:"checksum"`
	Rows     int64  `json:"rows"`
	Split    string `json:"split"`
	// Watermark is the write sequence number the join was pinned to.
	Watermark uint64 `json:"watermark"`
	// NaiveDifferences counts spine rows for which a naive event-time-only
	// join over a snapshot at the cutoff would have read another version of
	// at least one view: the leakage the read rule kept out.
	NaiveDifferences int64 `json:"naive_differences"`
	// MaxEventTime and MaxAvailableAt are the latest times of the versions read (RFC 3339).
	MaxEventTime   string `json:"max_event_time,omitempty"`
	MaxAvailableAt string `json:"max_available_at,omitempty"`
	// BackfilledValues counts result values that came from backfilled versions.
	BackfilledValues int64 `json:"backfilled_values"`

	maxEvent, maxAvail int64
}

// chunkRows is the most rows a streamed record holds, so that a record of
// a wide join stays well under the gRPC message limit.
const chunkRows = 64 << 10

// joinPlan is a validated point-in-time join, ready to run over the spine.
type joinPlan struct {
	store     Store
	work      *work
	split     storage.Split
	watermark uint64
	reads     []*viewRead
	names     []string // output feature column names
	schema    *arrow.Schema
	spine     []arrow.Record
	times     [][]int64 // per spine record, the row timestamps in ns
	spineHash string
	budget    *spineBudget // nil: the spine is not limited
}

// historical runs a point-in-time join: the whole spine is read and checked
// against the split before any result is streamed. The read is recorded as a
// manifest; naming a recorded dataset id re-reads it.
func (s *Server) historical(ctx context.Context, cmd historicalCmd, rdr *flight.Reader, out flight.DataStreamWriter) error {
	var prior *storage.Manifest
	var versions map[string]int64
	if cmd.DatasetID != "" {
		m, err := s.store.Manifest(cmd.DatasetID)
		if err != nil {
			return err
		}
		if m.Kind != "historical" {
			return invalid(fmt.Sprintf("dataset_id: dataset %q is an %s, not a historical read", m.DatasetID, m.Kind))
		}
		if err := cmd.adopt(m); err != nil {
			return err
		}
		prior, versions = &m, map[string]int64{}
		for _, f := range m.Features {
			versions[f.View] = f.ViewVersion
		}
	}
	sp, err := s.splitFor(ctx, cmd.Split)
	if err != nil {
		return err
	}
	reads, refs, err := s.resolveFeatures(cmd.Features, versions)
	if err != nil {
		return err
	}
	plan := &joinPlan{store: s.store, work: s.work, split: sp, reads: reads,
		budget: &spineBudget{maxRows: s.spineRowsLimit(), maxBytes: s.spineBytesLimit()}}
	defer plan.release()
	if err := plan.bind(rdr.Schema(), cmd, refs); err != nil {
		return err
	}
	if err := plan.readSpine(rdr, cmp.Or(cmd.TimestampColumn, "event_timestamp")); err != nil {
		return err
	}
	if err := s.checkFuture("spine", true, plan.times...); err != nil {
		return err
	}
	// The client has sent the whole spine and now reads.
	rep := newReporter(cmd.Progress, func(meta []byte) error { return out.Send(&flight.FlightData{AppMetadata: meta}) })
	rep.start()
	defer rep.stop()
	plan.watermark = s.store.Watermark()
	if prior != nil {
		plan.watermark = prior.Watermark
	}
	m := storage.Manifest{Kind: "historical", SpineHash: plan.spineHash, Split: sp, Watermark: plan.watermark,
		ServerVersion: s.cfg.Version, Options: map[string]string{
			"timestamp_column":   cmp.Or(cmd.TimestampColumn, "event_timestamp"),
			"full_feature_names": fmt.Sprint(cmd.FullFeatureNames),
			"features":           strings.Join(cmd.Features, ","),
		}}
	for _, ref := range refs {
		view, feat, _ := strings.Cut(ref, ":")
		for _, vr := range reads {
			if vr.proj.View.Name == view {
				m.Features = append(m.Features, storage.FeatureRef{View: view, Feature: feat, ViewVersion: vr.proj.View.Version})
			}
		}
	}
	m.DatasetID = datasetID(struct {
		Kind, SpineHash string
		Features        []storage.FeatureRef
		Split           storage.Split
		Watermark       uint64
		Options         map[string]string
	}{m.Kind, m.SpineHash, m.Features, storage.Split{Name: sp.Name, Start: sp.Start, End: sp.End}, m.Watermark, m.Options})
	if prior != nil && prior.DatasetID != m.DatasetID {
		return &requestError{code: codes.FailedPrecondition, reason: ReasonDatasetMismatch,
			msg: fmt.Sprintf("dataset_id: this spine differs from the spine of dataset %q (content hash %s, recorded %s); send the same spine to re-read it",
				prior.DatasetID, m.SpineHash[:12], prior.SpineHash[:12])}
	}
	leave, err := s.work.enter(ctx, rep.progress())
	if err != nil {
		return err
	}
	defer leave() // after a panic too; leaving twice is a no-op
	sum, err := plan.run(ctx, out, m.DatasetID, rep)
	leave()
	if err != nil {
		return err
	}
	m.Rows, m.NaiveDifferences, m.BackfilledValues = sum.Rows, sum.NaiveDifferences, sum.BackfilledValues
	m.MaxEventTime, m.MaxAvailableAt, m.OutputChecksum = sum.maxEvent, sum.maxAvail, sum.Checksum
	stored, err := s.store.PutManifest(m)
	if err != nil {
		return err
	}
	if stored.OutputChecksum != m.OutputChecksum {
		// The stream has gone out; this must never happen, so say it loudly.
		s.log.Error("re-read of a dataset differs from its first read", "dataset_id", m.DatasetID,
			"recorded", stored.OutputChecksum, "now", m.OutputChecksum)
	}
	s.log.Info("historical join", "dataset_id", m.DatasetID, "split", sp.Name, "rows", sum.Rows,
		"naive_differences", sum.NaiveDifferences, "watermark", sum.Watermark)
	return nil
}

// adopt fills the command from a recorded manifest, refusing conflicts.
func (c *historicalCmd) adopt(m storage.Manifest) error {
	refs := strings.Split(m.Options["features"], ",")
	if c.Split != "" && c.Split != m.Split.Name {
		return invalid(fmt.Sprintf("split: dataset %q was read under split %q, not %q", m.DatasetID, m.Split.Name, c.Split))
	}
	if len(c.Features) > 0 && !slices.Equal(c.Features, refs) {
		return invalid(fmt.Sprintf("features: omit them to re-read dataset %q; it read %s", m.DatasetID, strings.Join(refs, ", ")))
	}
	c.Split, c.Features = m.Split.Name, refs
	c.TimestampColumn = m.Options["timestamp_column"]
	c.FullFeatureNames = m.Options["full_feature_names"] == "true"
	return nil
}

// bind checks the spine schema against the request and builds the output schema.
func (p *joinPlan) bind(schema *arrow.Schema, cmd historicalCmd, refs []string) error {
	var cols []string
	for _, f := range schema.Fields() {
		if slices.Contains(cols, f.Name) {
			return invalid(fmt.Sprintf("spine: column %q appears twice", f.Name))
		}
		cols = append(cols, f.Name)
	}
	if err := bindKeys(p.reads, cols, "spine"); err != nil {
		return err
	}
	for _, vr := range p.reads {
		for j, c := range vr.keyCols {
			if err := checkKeyType(schema.Field(c), vr.proj.View.JoinKeys[j]); err != nil {
				return err
			}
		}
	}
	fields := slices.Clone(schema.Fields())
	p.names = make([]string, len(refs))
	for _, vr := range p.reads {
		for j, f := range vr.proj.Features {
			name := f.Name
			if cmd.FullFeatureNames {
				name = vr.proj.View.Name + "__" + f.Name
			}
			col := vr.cols[j]
			p.names[col] = name
		}
	}
	for i, name := range p.names {
		if slices.Contains(cols, name) {
			what := "the spine has a column"
			if slices.Contains(cols[len(schema.Fields()):], name) {
				what = "two requested features are"
			}
			return invalid(fmt.Sprintf("features[%d]: %s named %q; set full_feature_names to name result columns view__feature", i, what, name))
		}
		cols = append(cols, name)
	}
	for i := range p.names {
		vr, j := p.column(i)
		fields = append(fields, arrow.Field{Name: p.names[i], Type: arrowType(vr.proj.Features[j].Type), Nullable: true})
	}
	md := schema.Metadata()
	p.schema = arrow.NewSchema(fields, &md)
	return nil
}

// column returns the read and feature index behind output feature column i.
func (p *joinPlan) column(i int) (*viewRead, int) {
	for _, vr := range p.reads {
		if j := slices.Index(vr.cols, i); j >= 0 {
			return vr, j
		}
	}
	panic("unreachable: every output column has a read")
}

func checkKeyType(f arrow.Field, k storage.JoinKey) error {
	ok := false
	switch k.Type {
	case storage.TypeInt64:
		switch f.Type.ID() {
		case arrow.INT64, arrow.INT32, arrow.INT16, arrow.INT8, arrow.UINT32, arrow.UINT16, arrow.UINT8:
			ok = true
		}
	case storage.TypeString:
		ok = f.Type.ID() == arrow.STRING || f.Type.ID() == arrow.LARGE_STRING
	}
	if !ok {
		return invalid(fmt.Sprintf("spine: join key column %q: expected %s, got Arrow type %s", f.Name, k.Type, f.Type))
	}
	return nil
}

// readSpine reads the whole spine, checking timestamps and keys, and refuses
// it whole when any timestamp lies outside the split.
func (p *joinPlan) readSpine(rdr recordStream, tsName string) error {
	idx := rdr.Schema().FieldIndices(tsName)
	if len(idx) == 0 {
		return invalid(fmt.Sprintf("spine: missing timestamp column %q (set timestamp_column to name another)", tsName))
	}
	row := 0
	hasher := newTableHasher(len(rdr.Schema().Fields()))
	hasher.textLists = true
	// add checks one record. Hashing touches every value of every column,
	// so a corrupt record fails here, under recovery, and not later in a
	// join worker.
	add := func(rec arrow.Record) error {
		for i, c := range rec.Columns() {
			hasher.add(i, c)
		}
		tc, err := newTimeColumn(tsName, rec.Column(idx[0]))
		if err != nil {
			return err
		}
		n := int(rec.NumRows())
		times := make([]int64, n)
		for i := range n {
			if times[i], err = tc.nanos(i, row+i); err != nil {
				return err
			}
		}
		for _, vr := range p.reads {
			for _, c := range vr.keyCols {
				if err := checkUTF8(rec.Column(c), row, fmt.Sprintf("join key column %q", rdr.Schema().Field(c).Name)); err != nil {
					return fmt.Errorf("spine: %w", err)
				}
				if rec.Column(c).NullN() == 0 {
					continue
				}
				for i := range n {
					if rec.Column(c).IsNull(i) {
						return invalid(fmt.Sprintf("spine: row %d: join key column %q is null", row+i, rdr.Schema().Field(c).Name))
					}
				}
			}
		}
		rec.Retain()
		p.spine = append(p.spine, rec)
		p.times = append(p.times, times)
		row += n
		return nil
	}
	for {
		rec, err := nextRecord(rdr)
		if err != nil {
			return err
		}
		if rec == nil {
			break
		}
		if p.budget != nil {
			if err := p.budget.add(rec); err != nil {
				return err
			}
		}
		if err := safely(func() error { return add(rec) }); err != nil {
			return err
		}
	}
	if err := rdr.Err(); err != nil {
		return invalid(fmt.Sprintf("spine: cannot read the Arrow stream: %v", err))
	}
	if row == 0 {
		return invalid("spine: no rows")
	}
	p.spineHash = hasher.sum(rdr.Schema().String())
	return checkWindow(p.split, p.times...)
}

func (p *joinPlan) release() {
	for _, r := range p.spine {
		r.Release()
	}
}

// Chunks: how many spine rows are joined at once. Rows of a chunk are
// looked up in key order, so larger chunks read the runs more densely, but
// a chunk's keys and results are held until it is streamed. A spine is cut
// into about joinChunks chunks of minChunkRows to maxChunkRows rows.
const (
	joinChunks   = 8
	minChunkRows = 256 << 10
	maxChunkRows = 1 << 20
)

// chunkRowsFor returns the chunk size for a spine of rows rows.
func chunkRowsFor(rows int) int { return min(max(rows/joinChunks, minChunkRows), maxChunkRows) }

// span is a run of rows of one spine record.
type span struct{ rec, off, n int }

// chunkResult is one joined chunk: its spans and their feature columns.
type chunkResult struct {
	spans []span
	feats []arrow.Array // one per output feature column, over the whole chunk
	stats joinSummary
	max   [2]int64 // max event time, max available at
	err   error
}

func (c *chunkResult) release() {
	for _, a := range c.feats {
		if a != nil {
			a.Release()
		}
	}
}

// run joins the spine chunk by chunk and streams the results in spine
// order, each chunk's lookups spread over every core. The next chunk is
// joined while the previous one is streamed. The lookups of the first chunk,
// the work before the first result record, are rep's "joining" phase.
func (p *joinPlan) run(ctx context.Context, out flight.DataStreamWriter, datasetID string, rep *reporter) (*joinSummary, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make(chan *chunkResult, 1)
	total := 0
	for _, rec := range p.spine {
		total += int(rec.NumRows())
	}
	joinRows := chunkRowsFor(total)
	joining := rep.progress().Begin("joining", "lookups", int64(min(total, joinRows)*len(p.reads)))
	p.work.start(func() {
		defer close(results)
		var spans []span
		rows := 0
		flush := func() bool {
			res := p.chunk(ctx, spans, rows, joining)
			joining = nil
			select {
			case results <- res:
			case <-ctx.Done():
				res.release()
				return false
			}
			spans, rows = nil, 0
			return res.err == nil
		}
		for r, rec := range p.spine {
			n := int(rec.NumRows())
			for off := 0; off < n; {
				take := min(n-off, joinRows-rows)
				spans = append(spans, span{rec: r, off: off, n: take})
				off, rows = off+take, rows+take
				if rows == joinRows && !flush() {
					return
				}
			}
		}
		if rows > 0 {
			flush()
		}
	})
	w := flight.NewRecordWriter(out, ipc.WithSchema(p.schema), ipc.WithAllocator(memory.DefaultAllocator))
	defer w.Close()
	sum := &joinSummary{DatasetID: datasetID, Split: p.split.Name, Watermark: p.watermark}
	nspine := len(p.schema.Fields()) - len(p.names)
	outHash := newTableHasher(len(p.names))
	var maxEvent, maxAvail int64
	// The last record carries the summary as app metadata, so each record is
	// written only once the next one is ready.
	var pending arrow.Record
	fail := func(err error) (*joinSummary, error) {
		cancel()
		if pending != nil {
			pending.Release()
		}
		for res := range results { // drain so the producer finishes
			res.release()
		}
		return nil, err
	}
	for res := range results {
		rep.stop() // before the first record is sent
		if res.err != nil {
			return fail(res.err)
		}
		base := 0
		for _, sp := range res.spans {
			rec := p.spine[sp.rec]
			for off := 0; off < sp.n; off += chunkRows {
				n := min(chunkRows, sp.n-off)
				cols := make([]arrow.Array, 0, len(p.schema.Fields()))
				for _, c := range rec.Columns() {
					cols = append(cols, array.NewSlice(c, int64(sp.off+off), int64(sp.off+off+n)))
				}
				for _, f := range res.feats {
					cols = append(cols, array.NewSlice(f, int64(base+off), int64(base+off+n)))
				}
				next := array.NewRecord(p.schema, cols, int64(n))
				for _, c := range cols {
					c.Release()
				}
				for j := range p.names {
					outHash.add(j, next.Column(nspine+j))
				}
				if pending != nil {
					err := w.Write(pending)
					pending.Release()
					pending = nil
					if err != nil {
						res.release()
						return fail(err)
					}
				}
				pending = next
			}
			base += sp.n
		}
		res.release()
		sum.Rows += res.stats.Rows
		sum.NaiveDifferences += res.stats.NaiveDifferences
		sum.BackfilledValues += res.stats.BackfilledValues
		maxEvent, maxAvail = max(maxEvent, res.max[0]), max(maxAvail, res.max[1])
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	if maxEvent > 0 {
		sum.MaxEventTime, sum.MaxAvailableAt = storage.FormatTime(maxEvent), storage.FormatTime(maxAvail)
	}
	sum.maxEvent, sum.maxAvail = maxEvent, maxAvail
	sum.Checksum = outHash.sum(p.spineHash + p.schema.String())
	meta, _ := json.Marshal(sum)
	err := w.WriteWithAppMetadata(pending, meta)
	pending.Release()
	if err != nil {
		return nil, err
	}
	return sum, nil
}

// chunk joins the rows of spans (rows in all), every view in turn, each
// view's lookups split over every core. The rows are first put in the order
// the runs are read in (by key, then time), so that keys, bounds and results
// are all walked sequentially; each result column is put back in spine order
// once, at the end.
func (p *joinPlan) chunk(ctx context.Context, spans []span, rows int, progress *storage.Phase) (res *chunkResult) {
	res = &chunkResult{spans: spans}
	defer recovered(&res.err) // it runs in a goroutine of its own
	times := make([]int64, 0, rows)
	for _, sp := range spans {
		times = append(times, p.times[sp.rec][sp.off:sp.off+sp.n]...)
	}
	differs := make([]bool, rows)
	res.feats = make([]arrow.Array, len(p.names))
	// Views keyed by the same spine columns share their sorted keys.
	type sorted struct {
		order  []int32 // sorted position -> spine row of the chunk
		keys   [][]byte
		bounds []storage.Bounds
	}
	shared := map[string]*sorted{}
	for _, vr := range p.reads {
		sig := fmt.Sprint(vr.keyCols, vr.proj.View.JoinKeys)
		sd := shared[sig]
		if sd == nil {
			keys := make([][]byte, 0, rows)
			for _, sp := range spans {
				k, err := encodeKeys(p.spine[sp.rec], vr, sp.off, sp.n)
				if err != nil {
					res.err = err
					return res
				}
				keys = append(keys, k...)
			}
			sd = &sorted{}
			sd.order, sd.keys, sd.bounds = storage.SortAt(keys, times)
			shared[sig] = sd
		}
		order := sd.order
		rc, err := p.store.LookupColumns(ctx, storage.Query{Proj: vr.proj, Keys: sd.keys, Bounds: sd.bounds, Sorted: true,
			Watermark: p.watermark, NaiveAvailable: p.split.End, Go: p.work.start, Progress: progress}, p.work.parallel)
		if err != nil {
			res.err = err
			return res
		}
		for n, i := range order {
			if rc.NaiveDiffers[n] {
				differs[i] = true
			}
			if rc.Status[n] != storage.Present {
				continue
			}
			res.max[0], res.max[1] = max(res.max[0], rc.EventTime[n]), max(res.max[1], rc.AvailableAt[n])
			if rc.Backfilled[n] {
				for f := range rc.Features {
					if rc.Features[f].Valid[n>>3]&(1<<(n&7)) != 0 {
						res.stats.BackfilledValues++
					}
				}
			}
		}
		errs := make([]error, len(rc.Features))
		p.work.each(len(rc.Features), func(j int) {
			defer recovered(&errs[j])
			c := scatter(&rc.Features[j], order)
			res.feats[vr.cols[j]] = columnArray(&c, rows)
		})
		if res.err = errors.Join(errs...); res.err != nil {
			return res
		}
	}
	for _, d := range differs {
		if d {
			res.stats.NaiveDifferences++
		}
	}
	res.stats.Rows = int64(rows)
	return res
}

// encodeKeys encodes the entity keys of rows [off, off+n) for one view,
// into one buffer.
func encodeKeys(rec arrow.Record, vr *viewRead, off, n int) ([][]byte, error) {
	view := vr.proj.View
	cols := make([]*column, len(vr.keyCols))
	for j, c := range vr.keyCols {
		col, err := newColumn(view.JoinKeys[j].Name, rec.Column(c), view.JoinKeys[j].Type)
		if err != nil {
			return nil, err
		}
		cols[j] = col
	}
	ends := make([]int, n)
	buf := make([]byte, 0, 8*n)
	key := make([]storage.Value, len(cols))
	var err error
	for i := range n {
		for j, c := range cols {
			key[j] = c.value(off + i)
		}
		if buf, err = view.AppendKey(buf, key); err != nil {
			return nil, err
		}
		ends[i] = len(buf)
	}
	keys := make([][]byte, n)
	start := 0
	for i, end := range ends {
		keys[i] = buf[start:end:end]
		start = end
	}
	return keys, nil
}
