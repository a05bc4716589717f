package storage

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// historyDir is where the run files of a view live.
func (s *Store) historyDir(viewID uint32) string {
	return filepath.Join(s.opts.Dir, "history", strconv.FormatUint(uint64(viewID), 10))
}

// mergeRuns merges runs of one view, which cover consecutive seq ranges,
// into one heap run with a column for every feature any of them has. The
// columns come from the runs, not from the view's definition, which may
// have gained a feature, or widened one's type, since the merge began: a
// feature's column takes the widest of its types in the runs.
func mergeRuns(runs []*run) *run {
	total, keys, keyBytes := 0, 0, 0
	var feats []Feature
	seen := map[uint32]int{}
	for _, r := range runs {
		total += r.versions()
		keys += r.keys()
		keyBytes += len(r.keyData)
		for _, c := range r.cols {
			i, ok := seen[c.ID]
			switch {
			case !ok:
				seen[c.ID] = len(feats)
				feats = append(feats, Feature{ID: c.ID, Type: c.Type})
			case feats[i].Type.WidensTo(c.Type):
				feats[i].Type = c.Type
			}
		}
	}
	b := newRunBuilder(feats, total)
	b.reserveKeys(keys, keyBytes) // a bound: a key in several runs is kept once
	// src[j][i] is run j's column for the builder's column i, or nil.
	src := make([][]*Column, len(runs))
	for j, r := range runs {
		src[j] = make([]*Column, len(b.r.cols))
		for i, c := range b.r.cols {
			src[j][i] = r.colAs(c.ID, c.Type)
		}
	}
	m := newMerger(runs)
	for {
		j, k, i, end, ok := m.nextRange()
		if !ok {
			break
		}
		if end == i+1 {
			b.addFrom(runs[j], k, i, src[j])
		} else {
			b.addRange(runs[j], k, i, end, src[j])
		}
	}
	return b.finish(runs[0].lo, runs[len(runs)-1].hi)
}

// runOrder compares row i (of key k) of a with row j (of key l) of b in run
// order: key ascending, then (event, available, seq) descending.
func runOrder(a *run, k, i int, b *run, l, j int) int {
	if c := bytes.Compare(a.key(k), b.key(l)); c != 0 {
		return c
	}
	switch {
	case a.event[i] != b.event[j]:
		return cmpDesc(a.event[i], b.event[j])
	case a.avail[i] != b.avail[j]:
		return cmpDesc(a.avail[i], b.avail[j])
	}
	return cmpDesc(int64(a.seq[i]), int64(b.seq[j]))
}

func cmpDesc(x, y int64) int {
	switch {
	case x > y:
		return -1
	case x < y:
		return 1
	}
	return 0
}

// openHistories builds the history of every view: the run files that chain
// from seq 0, then what Badger holds above the chain's end.
func (s *Store) openHistories() error {
	s.hist = map[uint32]*history{}
	for _, v := range s.views {
		runs, end := s.loadRunFiles(v)
		tail, err := s.readTail(v, end)
		if err != nil {
			for _, r := range runs {
				r.file.close()
			}
			for _, h := range s.hist {
				h.close()
			}
			return fmt.Errorf("%w: the versions of view %s above seq %d, which no run file holds yet, cannot be read back from Badger (%v). Restore a backup into a new directory (timefence restore)",
				ErrDataLoss, v.Name, end, err)
		}
		if tail != nil {
			runs = append(runs, tail)
		}
		h := newHistory(runs)
		if last, err := s.lastChunkCommit(v.ID); err == nil {
			h.lastCommit.Store(last)
		}
		// Until the next compaction, the last one is when the newest file
		// was written.
		for _, r := range runs {
			if r.file == nil {
				continue
			}
			if fi, err := os.Stat(r.file.path); err == nil {
				h.lastCompaction.Store(max(h.lastCompaction.Load(), fi.ModTime().UnixNano()))
			}
		}
		s.hist[v.ID] = h
	}
	return nil
}

// loadRunFiles opens the run files of v that chain from seq 0 and returns
// them with the seq the chain ends at. Files outside the chain (left by an
// interrupted compaction) are deleted; a damaged file, or one claiming
// versions Badger has not committed, is renamed aside and its range is left
// to be read from Badger.
func (s *Store) loadRunFiles(v *View) ([]*run, uint64) {
	dir := s.historyDir(v.ID)
	ents, err := os.ReadDir(dir)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			s.opts.Logger.Error("cannot list run files; reading the view from the record", "view", v.Name, "err", err)
		}
		return nil, 0
	}
	type cand struct {
		name   string
		lo, hi uint64
	}
	var cands []cand
	for _, e := range ents {
		name := e.Name()
		if strings.HasSuffix(name, ".tmp") {
			os.Remove(filepath.Join(dir, name))
			continue
		}
		if lo, hi, ok := parseRunFileName(name); ok {
			cands = append(cands, cand{name, lo, hi})
		}
	}
	// For each start, the longest run first.
	slices.SortFunc(cands, func(a, b cand) int { return cmp.Or(cmp.Compare(a.lo, b.lo), cmp.Compare(b.hi, a.hi)) })
	committed := s.clock.committed
	var runs []*run
	used := map[string]bool{}
	end := uint64(0)
	for _, c := range cands {
		if c.lo != end {
			continue
		}
		path := filepath.Join(dir, c.name)
		if c.hi > committed {
			s.opts.Logger.Warn("run file holds versions above the committed watermark; reading them from the record instead",
				"view", v.Name, "file", path, "watermark", committed)
			continue
		}
		r, err := openRunFile(path, v.ID)
		if err != nil {
			s.opts.Logger.Error("damaged run file set aside; its versions are read from the record", "view", v.Name, "err", err)
			os.Rename(path, path+".corrupt")
			continue
		}
		if r.lo != c.lo || r.hi != c.hi {
			r.file.close()
			s.opts.Logger.Error("run file's name and footer disagree; set aside", "view", v.Name, "file", path)
			os.Rename(path, path+".corrupt")
			continue
		}
		runs = append(runs, r)
		used[c.name] = true
		end = c.hi
	}
	for _, c := range cands {
		if !used[c.name] {
			os.Remove(filepath.Join(dir, c.name))
		}
	}
	return runs, end
}

// readTail reads the versions of v with seq above after from Badger into a
// heap run, or returns nil when there are none.
func (s *Store) readTail(v *View, after uint64) (*run, error) {
	committed := s.clock.committed
	last, known, err := s.viewLastSeq(v.ID)
	if err != nil {
		return nil, err
	}
	if after >= committed || (known && last <= after) {
		return nil, nil
	}
	var rows []chunkRow
	err = s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: chunkPrefix(v.ID)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			_, first, last, err := parseChunkKey(item.Key())
			if err != nil {
				return err
			}
			if last <= after || first > committed {
				continue
			}
			val, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			err = decodeChunk(val, first, last, func(r *chunkRow) error {
				if r.seq > after && r.seq <= committed {
					rows = append(rows, *r)
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	return buildRun(v, rows, after, committed)
}

// buildRun sorts the rows of v with seqs in (after, upto] in run order and
// builds their heap run.
func buildRun(v *View, rows []chunkRow, after, upto uint64) (*run, error) {
	slices.SortFunc(rows, func(a, b chunkRow) int {
		if c := bytes.Compare(a.key, b.key); c != 0 {
			return c
		}
		switch {
		case a.event != b.event:
			return cmpDesc(a.event, b.event)
		case a.available != b.available:
			return cmpDesc(a.available, b.available)
		}
		return cmpDesc(int64(a.seq), int64(b.seq))
	})
	b := newRunBuilder(v.Features, len(rows))
	vals := make([]Value, len(b.r.cols))
	for i := range rows {
		r := &rows[i]
		clear(vals)
		flags, err := decodeVersion(r.value, b.pos, vals)
		if err != nil {
			return nil, fmt.Errorf("seq %d: %w", r.seq, err)
		}
		b.add(r.key, r.event, r.available, r.seq, flags, vals)
	}
	return b.finish(after, upto), nil
}

// compactLoop runs compactions until stop is closed: after writes (wake),
// and every CompactInterval.
func (s *Store) compactLoop() {
	defer close(s.compactDone)
	tick := time.NewTicker(s.opts.CompactInterval)
	defer tick.Stop()
	for {
		select {
		case <-s.compactStop:
			return
		case <-s.compactWake:
		case <-tick.C:
		}
		s.compactAll(false)
	}
}

// compactAll compacts every view; with flush, every tail is persisted.
func (s *Store) compactAll(flush bool) {
	s.regMu.RLock()
	views := make([]*View, 0, len(s.views))
	for _, v := range s.views {
		views = append(views, v)
	}
	s.regMu.RUnlock()
	for _, v := range views {
		h := s.historyFor(v.ID)
		failedBefore := h != nil && h.failure.Load() != nil
		if err := s.compactView(v, flush); err != nil {
			// A failure that persists is logged once a minute, not every round.
			now := time.Now().UnixNano()
			if !failedBefore || now-h.failLogged.Load() >= int64(time.Minute) {
				h.failLogged.Store(now)
				s.opts.Logger.Error("compaction failed; the view's runs are unchanged", "view", v.Name, "err", err)
			}
		}
	}
	s.compactedMu.Lock()
	close(s.compacted)
	s.compacted = make(chan struct{})
	s.compactedMu.Unlock()
}

// compactView applies the compaction policy to one view:
//
//   - the in-memory tail is written to a file once it holds FlushVersions
//     versions, once no batch has arrived for FlushIdle, or with flush;
//   - otherwise, past maxTailRuns in-memory runs, the newest are merged,
//     tier by tier as files are;
//   - file runs are merged, newest first, while the newer of the last two
//     holds at least a quarter as many versions as the older, so a view
//     keeps about log4(versions) files.
func (s *Store) compactView(v *View, flush bool) (err error) {
	h := s.historyFor(v.ID)
	if h == nil {
		return nil
	}
	h.compactMu.Lock()
	defer h.compactMu.Unlock()
	h.compacting.Store(true)
	defer h.compacting.Store(false)
	defer func() {
		if err != nil {
			h.failure.Store(&err)
		} else {
			h.failure.Store(nil)
		}
	}()
	snap := h.acquire()
	defer snap.release()
	var files, tail []*run
	for _, r := range snap.runs {
		if r.file != nil {
			files = append(files, r)
		} else {
			tail = append(tail, r)
		}
	}
	tailVersions := 0
	for _, r := range tail {
		tailVersions += r.versions()
	}
	idle := time.Duration(s.opts.Now().UnixNano()-h.lastWrite.Load()) >= s.opts.FlushIdle
	changed := false
	switch {
	case len(tail) > 0 && (flush || idle || tailVersions >= s.opts.FlushVersions):
		fr, err := s.persist(v, tail)
		if err != nil {
			return err
		}
		h.swap(tail, fr)
		files = append(files, fr)
		changed = true
	case len(tail) > maxTailRuns:
		// Merge the newest runs, back to the first one more than four times
		// larger than all newer ones together: the large old run is copied
		// again only once the new versions amount to a quarter of it, so
		// each version is copied O(log n) times, not once per merge.
		k, newer := len(tail)-1, tail[len(tail)-1].versions()
		for k > 0 && tail[k-1].versions() <= 4*newer {
			k--
			newer += tail[k].versions()
		}
		if len(tail)-k >= 2 {
			h.swap(tail[k:], mergeRuns(tail[k:]))
			changed = true
		}
	}
	for n := len(files); n >= 2 && files[n-1].versions()*4 >= files[n-2].versions(); n = len(files) {
		fr, err := s.persist(v, files[n-2:])
		if errors.Is(err, ErrStorageFull) {
			// Unmerged files cost reads a little, nothing else: wait for space.
			break
		} else if err != nil {
			return err
		}
		h.swap(files[n-2:], fr)
		for _, old := range files[n-2:] {
			os.Remove(old.file.path)
		}
		files = append(files[:n-2], fr)
		changed = true
	}
	if changed {
		h.compactions.Add(1)
		h.lastCompaction.Store(s.opts.Now().UnixNano())
	}
	return nil
}

// maxTailRuns is how many in-memory runs a view keeps before merging them.
const maxTailRuns = 8

// persist merges runs into a run file and returns it, mapped.
func (s *Store) persist(v *View, runs []*run) (*run, error) {
	need := int64(0)
	for _, r := range runs {
		need += r.bytes()
	}
	if err := s.checkSpace(need, s.compactKeep()); err != nil {
		return nil, err
	}
	merged := runs[0]
	if len(runs) > 1 || merged.file != nil {
		merged = mergeRuns(runs)
	}
	path, err := writeRunFile(s.historyDir(v.ID), v.ID, merged)
	if err != nil {
		return nil, fmt.Errorf("write run file: %w", err)
	}
	r, err := openRunFile(path, v.ID)
	if err != nil {
		os.Remove(path)
		return nil, err
	}
	return r, nil
}

// swap replaces old, a consecutive stretch of the current snapshot's runs,
// with r. Only the view's compaction changes runs other than appending, so
// old is still there.
func (h *history) swap(old []*run, r *run) {
	h.mu.Lock()
	defer h.mu.Unlock()
	cur := h.snap.runs
	i := slices.Index(cur, old[0])
	if i < 0 || i+len(old) > len(cur) || !slices.Equal(cur[i:i+len(old)], old) {
		panic("storage: compaction lost track of the runs it merged")
	}
	next := slices.Concat(cur[:i], []*run{r}, cur[i+len(old):])
	h.replace(next)
}

// HistoryStatus reports the columnar history of every view, by name.
func (s *Store) HistoryStatus() []HistoryStatus {
	var out []HistoryStatus
	for _, v := range s.Views() {
		if h := s.historyFor(v.ID); h != nil {
			out = append(out, h.status(v.Name))
		}
	}
	return out
}

// Compact persists every view's in-memory runs and merges run files now,
// as the background compactor would; it returns when done.
func (s *Store) Compact() error {
	if s.closed.Load() {
		return ErrClosed
	}
	s.compactAll(true)
	return nil
}

// lastChunkCommit returns the commit time of a view's last chunk, 0 when it
// has none: when its last batch was committed.
func (s *Store) lastChunkCommit(viewID uint32) (int64, error) {
	var last int64
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: chunkPrefix(viewID), Reverse: true, PrefetchValues: false})
		defer it.Close()
		// Reverse iteration starts at the greatest key under the seek key.
		if it.Seek(append(chunkPrefix(viewID), 0xff)); !it.Valid() {
			return nil
		}
		return it.Item().Value(func(v []byte) error { last = chunkCommit(v); return nil })
	})
	return last, err
}

// LastBatch returns the commit time of the last batch of the view named
// name (Unix ns), 0 when it has none.
func (s *Store) LastBatch(name string) int64 {
	v, err := s.View(name)
	if err != nil {
		return 0
	}
	if h := s.historyFor(v.ID); h != nil {
		return h.lastCommit.Load()
	}
	return 0
}
