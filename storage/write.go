package storage

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"

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
	key       []byte // view prefix + entity key
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
	view, err := s.View(b.View)
	if err != nil {
		return WriteResult{}, err
	}
	rows, hash, err := s.encodeBatch(view, &b)
	if err != nil {
		return WriteResult{}, err
	}
	if err := ctx.Err(); err != nil {
		return WriteResult{}, err
	}
	h := s.historyFor(view.ID)
	if err := s.waitForCompaction(ctx, h); err != nil {
		return WriteResult{}, err
	}
	res, err := s.commitBatch(view, h, &b, rows, hash, batchOrder(rows))
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

// batchBytes estimates what a batch costs on disk: its keys and values go
// to Badger's log and tables, and later to a run file.
func batchBytes(rows []encodedRow) int64 {
	n := int64(0)
	for i := range rows {
		n += int64(len(rows[i].key) + len(rows[i].value))
	}
	return 3 * n
}

// batchOrder returns the indices of rows in run order: entity key
// ascending, then event time descending (a batch has one version per key
// and event time, so that order is total).
func batchOrder(rows []encodedRow) []int32 {
	keys := make([][]byte, len(rows))
	bounds := make([]Bounds, len(rows))
	for i := range rows {
		keys[i] = rows[i].key[viewPrefixLen:]
		bounds[i].Event = rows[i].event
	}
	return Order(keys, bounds)
}

// batchRun builds the heap run of a committed batch from its rows.
func batchRun(view *View, b *Batch, rows []encodedRow, order []int32, res WriteResult) (*run, error) {
	feats, err := batchFeatures(view, b.Features)
	if err != nil {
		return nil, err
	}
	rb := newRunBuilder(view.Features, len(rows))
	col := make([]int, len(feats)) // batch feature k -> run column
	for k, f := range feats {
		col[k] = rb.pos[f.ID]
	}
	vals := make([]Value, len(rb.r.cols))
	for _, i := range order {
		r, row := &rows[i], &b.Rows[i]
		avail := res.CommitTime
		if r.available != 0 {
			avail = r.available
		}
		clear(vals)
		for k, v := range row.Values {
			vals[col[k]] = v
		}
		rb.add(r.key[viewPrefixLen:], r.event, avail, res.FirstSeq+uint64(i), r.flags, vals)
	}
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

// commit writes the rows in one transaction if they fit, else in several
// guarded by a pending record. The last transaction publishes the batch.
func (s *Store) commit(viewID uint32, batchID string, rows []encodedRow, res WriteResult) error {
	txn := s.db.NewTransaction(true)
	defer txn.Discard()
	err := s.setRows(&txn, rows, res, false)
	if err == nil {
		if err = s.finish(txn, viewID, batchID, res); err == nil {
			return txn.Commit()
		}
	}
	if !errors.Is(err, badger.ErrTxnTooBig) {
		return err
	}
	txn.Discard()
	// Too big for one transaction: record the batch as pending before any of
	// its versions is durable, so that a crash midway can be undone.
	p := pendingBatch{View: viewID, FirstSeq: res.FirstSeq, LastSeq: res.LastSeq}
	if err := s.putPending(p); err != nil {
		return err
	}
	if err := s.commitChunked(viewID, batchID, rows, res); err != nil {
		// Undo what was written so the sequence numbers can be reused.
		if uerr := s.undoPending(p); uerr != nil {
			s.broken = fmt.Errorf("storage: a failed batch could not be undone (%v); restart to recover: %w", uerr, err)
		}
		return err
	}
	return nil
}

// setRows adds rows to txn. With flush, a full transaction is committed and
// replaced by a new one; without, ErrTxnTooBig is returned.
func (s *Store) setRows(tp **badger.Txn, rows []encodedRow, res WriteResult, flush bool) error {
	for i, r := range rows {
		available := res.CommitTime
		if r.available != 0 {
			available = r.available
		}
		key := appendVersionSuffix(append(make([]byte, 0, len(r.key)+versionSuffixLen), r.key...), r.event, available, res.FirstSeq+uint64(i))
		err := (*tp).Set(key, r.value)
		if flush && errors.Is(err, badger.ErrTxnTooBig) {
			if err = (*tp).Commit(); err != nil {
				return err
			}
			*tp = s.db.NewTransaction(true)
			err = (*tp).Set(key, r.value)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// commitChunked writes rows over as many transactions as needed, then
// publishes the batch and drops its pending record in the last one.
func (s *Store) commitChunked(viewID uint32, batchID string, rows []encodedRow, res WriteResult) error {
	txn := s.db.NewTransaction(true)
	defer func() { txn.Discard() }()
	if err := s.setRows(&txn, rows, res, true); err != nil {
		return err
	}
	err := s.finish(txn, viewID, batchID, res)
	if errors.Is(err, badger.ErrTxnTooBig) {
		if err := txn.Commit(); err != nil {
			return err
		}
		txn = s.db.NewTransaction(true)
		err = s.finish(txn, viewID, batchID, res)
	}
	if err != nil {
		return err
	}
	if err := txn.Delete(pendingKey(res.FirstSeq)); err != nil {
		return err
	}
	return txn.Commit()
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

func (s *Store) putPending(p pendingBatch) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return s.db.Update(func(txn *badger.Txn) error { return txn.Set(pendingKey(p.FirstSeq), b) })
}

// viewSeqKey holds the last seq written to a view, so that opening the store
// knows whether Badger holds versions newer than the view's run files.
func viewSeqKey(viewID uint32) []byte {
	return binary.BigEndian.AppendUint32([]byte("m/vseq/"), viewID)
}

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
// the batch content for idempotency checks.
func (s *Store) encodeBatch(view *View, b *Batch) ([]encodedRow, []byte, error) {
	if len(b.ID) > MaxBatchIDLen {
		return nil, nil, fmt.Errorf("%w: batch_id: longer than %d bytes", ErrInvalid, MaxBatchIDLen)
	}
	if len(b.Rows) == 0 {
		return nil, nil, fmt.Errorf("%w: rows: the batch is empty", ErrInvalid)
	}
	feats, err := batchFeatures(view, b.Features)
	if err != nil {
		return nil, nil, err
	}
	ids := make([]uint32, len(feats))
	for i, f := range feats {
		ids[i] = f.ID
	}
	latest := s.opts.Now().UnixNano() + int64(s.opts.MaxFutureSkew)
	prefix := viewPrefix(view.ID)
	out := make([]encodedRow, len(b.Rows))
	seen := make(map[string]int, len(b.Rows))
	h := sha256.New()
	var tmp [8]byte
	for i := range b.Rows {
		r := &b.Rows[i]
		key, err := encodeEntityKey(prefix, view.JoinKeys, r.Key)
		if err != nil {
			return nil, nil, fmt.Errorf("row %d: %w", i, err)
		}
		if r.EventTime < 0 || r.EventTime > latest {
			return nil, nil, fmt.Errorf("%w: row %d: event_time %s: expected between 1970-01-01 and %s (now + max future skew)",
				ErrInvalid, i, FormatTime(r.EventTime), FormatTime(latest))
		}
		var flags byte
		switch {
		case b.Backfill:
			if r.AvailableAt <= 0 || r.AvailableAt > latest-int64(s.opts.MaxFutureSkew) {
				return nil, nil, fmt.Errorf("%w: row %d: available_at: a backfill row needs an explicit available_at after 1970-01-01 and not in the future", ErrInvalid, i)
			}
			flags |= flagBackfilled
		case r.AvailableAt != 0:
			return nil, nil, fmt.Errorf("%w: row %d: available_at: only backfill writes may set it; the server assigns it", ErrInvalid, i)
		}
		if r.Delete {
			if len(r.Values) != 0 {
				return nil, nil, fmt.Errorf("%w: row %d: values: a delete row carries no values", ErrInvalid, i)
			}
			flags |= flagDeleted
		} else if err := checkValues(feats, r.Values); err != nil {
			return nil, nil, fmt.Errorf("%w: row %d: %v", ErrInvalid, i, err)
		}
		dup := string(key[len(prefix):]) + string(binary.BigEndian.AppendUint64(tmp[:0], uint64(r.EventTime)))
		if j, ok := seen[dup]; ok {
			return nil, nil, fmt.Errorf("%w: row %d: same entity key and event_time as row %d; a batch holds one version per key and time", ErrInvalid, i, j)
		}
		seen[dup] = i
		val := encodeVersion(nil, flags, ids, r.Values)
		out[i] = encodedRow{key: key, event: r.EventTime, available: r.AvailableAt, flags: flags, value: val}
		h.Write(binary.AppendUvarint(tmp[:0], uint64(len(key))))
		h.Write(key)
		h.Write(binary.BigEndian.AppendUint64(tmp[:0], uint64(r.EventTime)))
		h.Write(binary.BigEndian.AppendUint64(tmp[:0], uint64(r.AvailableAt)))
		h.Write(binary.AppendUvarint(tmp[:0], uint64(len(val))))
		h.Write(val)
	}
	return out, h.Sum(nil), nil
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
		case (v.Type == TypeFloat64 || v.Type == TypeFloat32) && math.IsNaN(v.Float):
			return fmt.Errorf("feature %q: NaN is not a value; write null instead", f.Name)
		}
	}
	return nil
}
