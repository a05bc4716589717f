package storage

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// history is the read side of one view: the current snapshot of its runs.
type history struct {
	mu   sync.RWMutex
	snap *snapshot

	compactMu      sync.Mutex // one compaction of the view at a time
	compacting     atomic.Bool
	compactions    atomic.Int64 // compactions that changed the runs, since open
	lastCompaction atomic.Int64
	lastWrite      atomic.Int64 // wall time of the last added batch run
	lastCommit     atomic.Int64 // commit time of the view's last batch (Unix ns), 0 if none
	// failure is the error of the view's last compaction, nil if it worked.
	failure atomic.Pointer[error]
	// failLogged is when a compaction failure was last logged (Unix ns).
	failLogged atomic.Int64
}

// snapshot is an immutable list of runs covering (0, hi] in ascending seq
// ranges. A reader acquires it and releases it when done; a file run is
// unmapped when no snapshot holds it any more.
type snapshot struct {
	runs []*run
	refs atomic.Int32
}

func newHistory(runs []*run) *history { return &history{snap: newSnapshot(runs)} }

func newSnapshot(runs []*run) *snapshot {
	s := &snapshot{runs: runs}
	s.refs.Store(1)
	for _, r := range runs {
		r.refs.Add(1)
	}
	return s
}

// acquire returns the current snapshot; release it when done.
func (h *history) acquire() *snapshot {
	h.mu.RLock()
	s := h.snap
	s.refs.Add(1)
	h.mu.RUnlock()
	return s
}

func (s *snapshot) release() {
	if s.refs.Add(-1) != 0 {
		return
	}
	for _, r := range s.runs {
		if r.refs.Add(-1) == 0 && r.file != nil {
			r.file.close()
		}
	}
}

// replace swaps in runs as the new snapshot. Called with h.mu held.
func (h *history) replace(runs []*run) {
	old := h.snap
	h.snap = newSnapshot(runs)
	old.release()
}

// end returns the seq the view's runs cover up to: the last run's hi, 0
// when there is none. A new run starts there, so that the runs chain from 0
// without gaps, however the view's batches interleave with other views'.
func (h *history) end() uint64 {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if n := len(h.snap.runs); n > 0 {
		return h.snap.runs[n-1].hi
	}
	return 0
}

// add appends the run of a committed batch.
func (h *history) add(r *run, now time.Time) {
	h.mu.Lock()
	h.replace(append(slices.Clone(h.snap.runs), r))
	h.mu.Unlock()
	h.lastWrite.Store(now.UnixNano())
}

// close releases the history's own hold on its snapshot.
func (h *history) close() {
	h.mu.Lock()
	h.snap.release()
	h.snap = newSnapshot(nil)
	h.mu.Unlock()
}

// HistoryStatus describes the columnar history of one feature view.
type HistoryStatus struct {
	View string
	// FileRuns and FileVersions count the runs persisted under the data
	// directory and the versions they hold; FileBytes is their size.
	FileRuns     int
	FileVersions int64
	FileBytes    int64
	// TailRuns and TailVersions count the in-memory runs not yet persisted.
	TailRuns     int
	TailVersions int64
	// LastCompaction is when a compaction of the view last finished (Unix
	// nanoseconds, 0 if never).
	LastCompaction int64
	// Compactions counts the compactions that changed the view's runs since
	// the store opened; Compacting is whether one runs now, and
	// CompactionFailing whether the last one failed.
	Compactions       int64
	Compacting        bool
	CompactionFailing bool
	// LastBatch is when the view's last batch was committed (Unix
	// nanoseconds, 0 if none).
	LastBatch int64
}

func (h *history) status(name string) HistoryStatus {
	s := h.acquire()
	defer s.release()
	st := HistoryStatus{View: name, LastCompaction: h.lastCompaction.Load(), Compactions: h.compactions.Load(),
		Compacting: h.compacting.Load(), CompactionFailing: h.failure.Load() != nil, LastBatch: h.lastCommit.Load()}
	for _, r := range s.runs {
		if r.file != nil {
			st.FileRuns++
			st.FileVersions += int64(r.versions())
			st.FileBytes += r.file.size
		} else {
			st.TailRuns++
			st.TailVersions += int64(r.versions())
		}
	}
	return st
}
