package storage

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/dgraph-io/badger/v4"
)

// Row is one version to write: an entity key, its event time and values.
type Row struct {
	// Key holds the entity's join key values in the entity's key order.
	Key []Value
	// EventTime is when the values were true in the world, in Unix nanoseconds.
	EventTime int64
	// Values holds one value per feature of the batch; null is allowed unless
	// the feature is required.
	Values []Value
	// Delete writes a tombstone: the entity has no values from EventTime on.
	// Its Values are empty or all null, required features included.
	Delete bool
	// AvailableAt is set in backfill writes only, in Unix nanoseconds.
	AvailableAt int64
}

// Batch is a set of rows of one view, written atomically.
type Batch struct {
	// ID makes the write idempotent when set.
	ID   string
	View string
	// Features names the features each row carries, in order. Empty means all
	// features of the view in definition order.
	Features []string
	Rows     []Row
	// Backfill writes rows with an explicit AvailableAt and flags them.
	Backfill bool
	// Validation holds the batch's failed warn expectations: each is
	// recorded as a ValidationEvent if and only if the batch commits.
	Validation []ValidationEvent
	// Progress, when set, shows how far Write has come: "validating" and
	// encoding the rows, "indexing" them for reads, "committing" them to
	// Badger (each counted in rows), then "syncing": Badger's commit and
	// the fsyncs, which have no measure.
	Progress *Progress
}

// WriteResult describes a committed batch.
type WriteResult struct {
	FirstSeq   uint64 `json:"first_seq"`
	LastSeq    uint64 `json:"last_seq"`
	CommitTime int64  `json:"commit_time"`
	Rows       int    `json:"rows"`
	Duplicate  bool   `json:"-"`
	Hash       []byte `json:"hash"`
}

// MaxBatchIDLen is the longest batch id accepted.
const MaxBatchIDLen = 256

// encodedRow is a validated row ready to be keyed with its sequence number.
type encodedRow struct {
	key       []byte // entity key
	event     int64
	available int64 // backfill only
	flags     byte
	value     []byte
}

// Write validates the batch whole and then commits it: durable (with
// SyncWrites) and visible whole or not at all, also across a crash. Invalid
// input fails with an error wrapping ErrInvalid that names the row and field,
// and nothing is written. Repeating a batch ID returns the first result with
// Duplicate set; reusing it for other content fails with ErrConflict.
func (s *Store) Write(ctx context.Context, b Batch) (WriteResult, error) {
	if s.closed.Load() {
		return WriteResult{}, ErrClosed
	}
	if err := s.ReadOnly("write to " + b.View); err != nil {
		return WriteResult{}, err
	}
	view, err := s.View(b.View)
	if err != nil {
		return WriteResult{}, err
	}
	rows, hash, order, err := s.encodeBatch(view, &b)
	if err != nil {
		return WriteResult{}, err
	}
	size := encodedBytes(rows)
	if err := s.checkOneTxn(len(rows), size); err != nil {
		return WriteResult{}, err
	}
	if err := ctx.Err(); err != nil {
		return WriteResult{}, err
	}
	h := s.historyFor(view.ID)
	if err := s.waitForCompaction(ctx, h); err != nil {
		return WriteResult{}, err
	}
	res, err := s.commitBatch(&queuedWrite{view: view, h: h, b: &b, rows: rows, size: size, hash: hash, order: order})
	if err != nil {
		return WriteResult{}, err
	}
	// Acknowledged only once the record covers it. Outside the write lock,
	// the record's fsync overlaps the next batch's commit, and one fsync
	// covers every batch committed meanwhile.
	if err := s.ack.record(max(res.LastSeq, s.clock.watermark())); err != nil {
		// The batch is committed and visible but not acknowledged: a retry
		// with its batch id returns it as a duplicate once the record works.
		return WriteResult{}, err
	}
	return res, nil
}

// encodedBytes is the size of the rows' keys and values. On disk a batch
// costs about three times that: Badger's log and tables, and a run file.
func encodedBytes(rows []encodedRow) int64 {
	n := int64(0)
	for i := range rows {
		n += int64(len(rows[i].key) + len(rows[i].value))
	}
	return n
}

// batchOrder returns the indices of rows in run order: entity key
// ascending, then (event time, available-at time, seq) descending. Rows of
// one key and event time are several versions, as if written one after the
// other: seqs follow the input order, so the last such row wins a read (in
// a backfill, the last of those with the latest available_at).
func batchOrder(rows []encodedRow) []int32 {
	keys := make([][]byte, len(rows))
	bounds := make([]Bounds, len(rows))
	for i := range rows {
		keys[i] = rows[i].key
		bounds[i].Event = rows[i].event
	}
	order := Order(keys, bounds) // ties keep input order
	for lo := 0; lo < len(order); {
		hi := lo + 1
		for hi < len(order) && rows[order[hi]].event == rows[order[lo]].event && string(rows[order[hi]].key) == string(rows[order[lo]].key) {
			hi++
		}
		if hi-lo > 1 {
			slices.SortFunc(order[lo:hi], func(a, b int32) int {
				return cmp.Or(cmpDesc(rows[a].available, rows[b].available), cmpDesc(int64(a), int64(b)))
			})
		}
		lo = hi
	}
	return order
}

// batchRun builds the heap run of a committed batch from its rows.
func batchRun(view *View, b *Batch, rows []encodedRow, order []int32, res WriteResult) (*run, error) {
	feats, err := batchFeatures(view, b.Features)
	if err != nil {
		return nil, err
	}
	ph := b.Progress.Begin("indexing", "rows", int64(len(rows)))
	rb := newRunBuilder(view.Features, len(rows))
	col := make([]int, len(feats)) // batch feature k -> run column
	for k, f := range feats {
		col[k] = rb.pos[f.ID]
	}
	vals := make([]Value, len(rb.r.cols))
	for n, i := range order {
		if n&4095 == 4095 {
			ph.Add(4096)
		}
		r, row := &rows[i], &b.Rows[i]
		avail := res.CommitTime
		if r.available != 0 {
			avail = r.available
		}
		clear(vals)
		for k, v := range row.Values {
			vals[col[k]] = v
		}
		rb.add(r.key, r.event, avail, res.FirstSeq+uint64(i), r.flags, vals)
	}
	ph.Add(int64(len(order) & 4095))
	return rb.finish(res.FirstSeq-1, res.LastSeq), nil
}

// maxTailFactor bounds a view's in-memory versions at this many times
// FlushVersions: past it, writes wait for the compactor.
const maxTailFactor = 4

// waitForCompaction holds a write back while the view's in-memory tail is
// over its bound, so memory stays bounded when writes outrun compaction. If
// the view's compaction fails meanwhile, the write is refused with its error.
func (s *Store) waitForCompaction(ctx context.Context, h *history) error {
	for {
		inMemory := h.status("").TailVersions
		if inMemory <= int64(maxTailFactor*s.opts.FlushVersions) {
			return nil
		}
		if failed := h.failure.Load(); failed != nil {
			return fmt.Errorf("storage: the feature view holds %d versions in memory and cannot write them to run files: %w", inMemory, *failed)
		}
		s.compactedMu.Lock()
		done := s.compacted
		s.compactedMu.Unlock()
		select {
		case s.compactWake <- struct{}{}:
		default:
		}
		select {
		case <-done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// checkOneTxn refuses, before it takes any seq, a batch whose chunks would
// not fit one Badger transaction. A full chunk costs the transaction its key
// and a pointer into the value log (chunk.go), so only a batch of hundreds
// of gigabytes, or a store with tiny memtables, is refused.
func (s *Store) checkOneTxn(rows int, encoded int64) error {
	bytes := encoded + int64(rows)*(3*binary.MaxVarintLen64+8) // a chunk row's lengths and times
	size := int64(s.chunkBytes())
	chunks := bytes/size + 1
	perChunk := int64(chunkKeyLen + 14) // key, value pointer, metas
	if size < valueThreshold(s.opts) {
		perChunk += size // small chunks stay in the tree, whole
	}
	// The last chunk and the batch's records may count whole.
	if chunks+8 >= s.db.MaxBatchCount() || chunks*perChunk+size+512 >= s.db.MaxBatchSize() {
		return fmt.Errorf("%w: rows: a batch of %d rows (about %d bytes) is too large to commit at once; write it in smaller batches", ErrInvalid, rows, bytes)
	}
	return nil
}

// commit writes a batch in one transaction; checkOneTxn has refused a batch
// that would not fit.
func (s *Store) commit(view *View, b *Batch, rows []encodedRow, res WriteResult) error {
	txn := s.db.NewTransaction(true)
	defer txn.Discard()
	err := s.setRows(txn, view.ID, rows, res, b.Progress)
	if err == nil {
		err = s.finish(txn, view.ID, b.ID, res)
	}
	if err == nil {
		err = setEvents(txn, view, b, res)
	}
	if err != nil {
		return err
	}
	return txn.Commit()
}

// setRows adds rows to txn as chunks (chunk.go), counting them in a
// "committing" phase of p; a "syncing" phase follows.
func (s *Store) setRows(txn *badger.Txn, viewID uint32, rows []encodedRow, res WriteResult, p *Progress) error {
	ph := p.Begin("committing", "rows", int64(len(rows)))
	err := writeChunks(viewID, res.CommitTime, s.chunkBytes(), rows, res.FirstSeq, func(key, value []byte) error {
		_, first, last, _ := parseChunkKey(key) // made by writeChunks: it parses
		ph.Add(int64(last - first + 1))
		return txn.Set(key, value)
	})
	if err != nil {
		return err
	}
	p.Begin("syncing", "", 0)
	return nil
}

// finish adds the records that publish a batch to its last transaction.
func (s *Store) finish(txn *badger.Txn, viewID uint32, batchID string, res WriteResult) error {
	if err := txn.Set(metaSeq, uintBytes(res.LastSeq)); err != nil {
		return err
	}
	if err := txn.Set(viewSeqKey(viewID), uintBytes(res.LastSeq)); err != nil {
		return err
	}
	if err := txn.Set(metaClock, uintBytes(uint64(res.CommitTime))); err != nil {
		return err
	}
	if batchID == "" {
		return nil
	}
	rec, err := json.Marshal(res)
	if err != nil {
		return err
	}
	return txn.Set(batchKey(batchID), rec)
}

// viewSeqKey holds the last seq written to a view, so that opening the store
// knows whether Badger holds versions newer than the view's run files.
func viewSeqKey(viewID uint32) []byte {
	return binary.BigEndian.AppendUint32([]byte(viewSeqPrefix), viewID)
}

const viewSeqPrefix = "m/vseq/"

// viewLastSeq returns the last seq written to a view, if recorded.
func (s *Store) viewLastSeq(viewID uint32) (seq uint64, known bool, err error) {
	err = s.db.View(func(txn *badger.Txn) error {
		_, err := txn.Get(viewSeqKey(viewID))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		known = true
		seq, err = getUint(txn, viewSeqKey(viewID))
		return err
	})
	return seq, known, err
}

func batchKey(id string) []byte { return append([]byte{prefixBatch, '/'}, id...) }

func (s *Store) batchRecord(id string) (WriteResult, bool, error) {
	var res WriteResult
	found := false
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(batchKey(id))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		found = true
		return item.Value(func(b []byte) error { return json.Unmarshal(b, &res) })
	})
	return res, found, err
}

// encodeBatch validates every row and encodes it. It also returns a hash of
// the batch content for idempotency checks, and the rows' run order.
func (s *Store) encodeBatch(view *View, b *Batch) ([]encodedRow, []byte, []int32, error) {
	if len(b.ID) > MaxBatchIDLen {
		return nil, nil, nil, fmt.Errorf("%w: batch_id: longer than %d bytes", ErrInvalid, MaxBatchIDLen)
	}
	if len(b.Rows) == 0 {
		return nil, nil, nil, fmt.Errorf("%w: rows: the batch is empty", ErrInvalid)
	}
	feats, err := batchFeatures(view, b.Features)
	if err != nil {
		return nil, nil, nil, err
	}
	ids := make([]uint32, len(feats))
	for i, f := range feats {
		ids[i] = f.ID
	}
	ph := b.Progress.Begin("validating", "rows", int64(len(b.Rows)))
	latest := s.opts.Now().UnixNano() + int64(s.opts.MaxFutureSkew)
	out := make([]encodedRow, len(b.Rows))
	h := sha256.New()
	var tmp [8]byte
	for i := range b.Rows {
		r := &b.Rows[i]
		key, err := encodeEntityKey(nil, view.JoinKeys, r.Key)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("row %d: %w", i, err)
		}
		if r.EventTime < 0 || r.EventTime > latest {
			return nil, nil, nil, fmt.Errorf("%w: row %d: event_time %s: expected between 1970-01-01 and %s (now + max future skew)",
				ErrInvalid, i, FormatTime(r.EventTime), FormatTime(latest))
		}
		var flags byte
		switch {
		case b.Backfill:
			if r.AvailableAt <= 0 || r.AvailableAt > latest-int64(s.opts.MaxFutureSkew) {
				return nil, nil, nil, fmt.Errorf("%w: row %d: available_at: a backfill row needs an explicit available_at after 1970-01-01 and not in the future", ErrInvalid, i)
			}
			flags |= flagBackfilled
		case r.AvailableAt != 0:
			return nil, nil, nil, fmt.Errorf("%w: row %d: available_at: only backfill writes may set it; the server assigns it", ErrInvalid, i)
		}
		if r.Delete {
			if err := checkDeleteValues(feats, r.Values); err != nil {
				return nil, nil, nil, fmt.Errorf("%w: row %d: %v", ErrInvalid, i, err)
			}
			flags |= flagDeleted
		} else if err := checkValues(feats, r.Values); err != nil {
			return nil, nil, nil, fmt.Errorf("%w: row %d: %v", ErrInvalid, i, err)
		}
		val := encodeVersion(nil, flags, ids, r.Values)
		out[i] = encodedRow{key: key, event: r.EventTime, available: r.AvailableAt, flags: flags, value: val}
		h.Write(binary.AppendUvarint(tmp[:0], uint64(len(key))))
		h.Write(key)
		h.Write(binary.BigEndian.AppendUint64(tmp[:0], uint64(r.EventTime)))
		h.Write(binary.BigEndian.AppendUint64(tmp[:0], uint64(r.AvailableAt)))
		h.Write(binary.AppendUvarint(tmp[:0], uint64(len(val))))
		h.Write(val)
		if i&4095 == 4095 {
			ph.Add(4096)
		}
	}
	order := batchOrder(out)
	ph.Add(int64(len(out) & 4095))
	return out, h.Sum(nil), order, nil
}

func batchFeatures(view *View, names []string) ([]Feature, error) {
	if len(names) == 0 {
		return view.Features, nil
	}
	feats := make([]Feature, len(names))
	seen := make(map[string]bool, len(names))
	for i, n := range names {
		f, ok := view.Feature(n)
		if !ok {
			return nil, fmt.Errorf("feature_names[%d]: %w %q in feature view %q", i, ErrUnknownFeature, n, view.Name)
		}
		if seen[n] {
			return nil, fmt.Errorf("%w: feature_names[%d]: feature %q appears twice", ErrInvalid, i, n)
		}
		seen[n] = true
		feats[i] = f
	}
	for _, f := range view.Features {
		if f.Required && !seen[f.Name] {
			return nil, fmt.Errorf("%w: feature_names: required feature %q is missing", ErrInvalid, f.Name)
		}
	}
	return feats, nil
}

// checkDeleteValues checks the values of a deleted row: a deletion carries
// no values, so they are absent, or one null per feature. Required features
// are not required of it.
func checkDeleteValues(feats []Feature, vals []Value) error {
	if len(vals) == 0 {
		return nil
	}
	if len(vals) != len(feats) {
		return fmt.Errorf("values: %d values on a deleted row, want none (or one null per feature)", len(vals))
	}
	for j, v := range vals {
		if !v.IsNull() {
			return fmt.Errorf("feature %q: a deleted row carries no values; write null", feats[j].Name)
		}
	}
	return nil
}

func checkValues(feats []Feature, vals []Value) error {
	if len(vals) != len(feats) {
		return fmt.Errorf("values: %d values, want %d (one per feature)", len(vals), len(feats))
	}
	for j, v := range vals {
		f := feats[j]
		switch {
		case v.IsNull():
			if f.Required {
				return fmt.Errorf("feature %q: null, but the feature is required", f.Name)
			}
		case v.Type != f.Type:
			return fmt.Errorf("feature %q: expected %s, got %s", f.Name, f.Type, v.Type)
		}
		if err := v.Check(); err != nil {
			return fmt.Errorf("feature %q: %v", f.Name, err)
		}
	}
	return nil
}
