package storage

import (
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// Group commit. Batches are durable once Badger has synced their
// transaction, and every sync costs the same whatever it carries, so
// concurrent batches share one: a writer queues its batch; the writer at the
// front of the queue leads, taking the batches queued behind it (up to
// maxGroupRows rows) into one transaction with one sync; the others wait for
// their result. Each batch keeps its own consecutive seqs and its own
// records, so a group is the same as its batches committed one after the
// other at the same commit time, and it is atomic as a whole, so each batch
// in it is too, across a crash.

// maxGroupRows bounds the rows of a group; a larger batch commits alone.
const maxGroupRows = 16 << 10

// maxGroupBatches bounds the batches of a group.
const maxGroupBatches = 256

// queuedWrite is a batch waiting to be committed.
type queuedWrite struct {
	view  *View
	h     *history
	b     *Batch
	rows  []encodedRow
	size  int64 // encodedBytes(rows)
	hash  []byte
	order []int32

	run *run // built once its seqs are assigned
	res WriteResult
	err error

	lead chan struct{} // closed when this write is to lead the next group
	done chan struct{} // closed once res and err are final
}

// commitBatch commits a batch, in a group with the batches written
// concurrently, and publishes it.
func (s *Store) commitBatch(w *queuedWrite) (WriteResult, error) {
	w.lead, w.done = make(chan struct{}), make(chan struct{})
	s.queueMu.Lock()
	s.queue = append(s.queue, w)
	if !s.leading {
		s.leading = true
		close(w.lead)
	}
	s.queueMu.Unlock()
	select {
	case <-w.done:
		return w.res, w.err
	case <-w.lead:
	}
	group := s.takeGroup()
	s.writeMu.Lock()
	s.commitGroup(group)
	s.writeMu.Unlock()
	s.queueMu.Lock()
	if len(s.queue) > 0 {
		close(s.queue[0].lead)
	} else {
		s.leading = false
	}
	s.queueMu.Unlock()
	return w.res, w.err
}

// takeGroup takes the next group from the front of the queue: at least one
// batch, and more while they fit the group's bounds.
func (s *Store) takeGroup() []*queuedWrite {
	s.queueMu.Lock()
	defer s.queueMu.Unlock()
	n, rows := 1, len(s.queue[0].rows)
	for n < len(s.queue) && n < maxGroupBatches && rows+len(s.queue[n].rows) <= maxGroupRows {
		rows += len(s.queue[n].rows)
		n++
	}
	group := s.queue[:n:n]
	s.queue = append([]*queuedWrite(nil), s.queue[n:]...)
	return group
}

// commitGroup commits a group under the write lock and sets every batch's
// result.
func (s *Store) commitGroup(group []*queuedWrite) {
	defer func() {
		for _, w := range group {
			close(w.done)
		}
	}()
	fail := func(ws []*queuedWrite, err error) {
		for _, w := range ws {
			w.err = err
		}
	}
	if s.closed.Load() {
		fail(group, ErrClosed)
		return
	}
	// Batch ids: one already recorded returns its first result; one repeated
	// within the group gets the result of its first occurrence.
	var live, repeats []*queuedWrite
	firstOf := map[string]*queuedWrite{}
	bytes := int64(0)
	for _, w := range group {
		if id := w.b.ID; id != "" {
			if _, ok := firstOf[id]; ok {
				repeats = append(repeats, w)
				continue
			}
			prev, found, err := s.batchRecord(id)
			if err != nil {
				w.err = err
				continue
			}
			if found {
				if string(prev.Hash) != string(w.hash) {
					w.err = fmt.Errorf("%w: batch id %q", ErrConflict, id)
				} else {
					prev.Duplicate = true
					w.res = prev
				}
				continue
			}
			firstOf[id] = w
		}
		live = append(live, w)
		bytes += 3 * w.size
	}
	defer func() {
		for _, w := range repeats {
			first := firstOf[w.b.ID]
			switch {
			case string(first.hash) != string(w.hash):
				w.err = fmt.Errorf("%w: batch id %q", ErrConflict, w.b.ID)
			case first.err != nil:
				w.err = first.err
			default:
				w.res = first.res
				w.res.Duplicate = true
			}
		}
	}()
	if len(live) == 0 {
		return
	}
	if err := s.checkSpace(bytes, s.writeKeep()); err != nil {
		fail(live, err)
		return
	}
	commit := s.clock.begin()
	next := s.clock.watermark() + 1
	var ok []*queuedWrite
	ends := map[*history]uint64{} // where the next run of each view starts
	for _, w := range live {
		res := WriteResult{FirstSeq: next, LastSeq: next + uint64(len(w.rows)) - 1, CommitTime: commit, Rows: len(w.rows), Hash: w.hash}
		r, err := batchRun(w.view, w.b, w.rows, w.order, res)
		if err != nil {
			w.err = err
			continue
		}
		lo, seen := ends[w.h]
		if !seen {
			lo = w.h.end()
		}
		r.lo, ends[w.h] = lo, r.hi
		w.run, w.res = r, res
		next = res.LastSeq + 1
		ok = append(ok, w)
	}
	committed, err := s.commitTogether(ok)
	fail(ok[len(committed):], err)
	if len(committed) == 0 {
		s.clock.end(0, false)
		return
	}
	// The batches join their views' histories before their watermark is
	// published, so a read at that watermark finds them.
	now := s.opts.Now()
	for _, w := range committed {
		w.h.add(w.run, now)
		w.h.lastCommit.Store(w.res.CommitTime)
	}
	s.clock.end(committed[len(committed)-1].res.LastSeq, true)
	s.notify()
	select {
	case s.compactWake <- struct{}{}:
	default:
	}
}

// commitTogether commits ws in one transaction when they fit, else one by
// one (each in several transactions if it must), stopping at the first
// failure. It returns the committed prefix of ws and the error that stopped
// it; the batches after the prefix wrote nothing.
func (s *Store) commitTogether(ws []*queuedWrite) ([]*queuedWrite, error) {
	if len(ws) == 0 {
		return nil, nil
	}
	if len(ws) > 1 {
		err := s.commitOneTxn(ws)
		if err == nil {
			return ws, nil
		}
		if !errors.Is(err, badger.ErrTxnTooBig) {
			return nil, err
		}
	}
	for i, w := range ws {
		if err := s.commit(w.view, w.b, w.rows, w.res); err != nil {
			return ws[:i], err
		}
	}
	return ws, nil
}

// commitOneTxn writes every batch of ws and its records in one transaction.
func (s *Store) commitOneTxn(ws []*queuedWrite) error {
	txn := s.db.NewTransaction(true)
	defer txn.Discard()
	for _, w := range ws {
		if err := s.setRows(txn, w.view.ID, w.rows, w.res, w.b.Progress); err != nil {
			return err
		}
		if err := s.finish(txn, w.view.ID, w.b.ID, w.res); err != nil {
			return err
		}
		if err := setEvents(txn, w.view, w.b, w.res); err != nil {
			return err
		}
	}
	return txn.Commit()
}
