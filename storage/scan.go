package storage

import (
	"context"
	"fmt"
)

// Window is a closed time interval [Start, End] in Unix nanoseconds.
type Window struct {
	Start, End int64
}

// Version is one stored version, as Scan returns it.
type Version struct {
	// Key is the encoded entity key; decode it with View.DecodeKey.
	Key         []byte
	EventTime   int64
	AvailableAt int64
	Seq         uint64
	Deleted     bool
	Backfilled  bool
	// Values holds the projected features (null where the version has none).
	Values []Value
}

// Scan calls fn for every version of the projection's view whose event
// time and available-at time both lie in w and whose seq is at most
// watermark, in entity key order and, per entity, newest first. w.End is the
// upper bound of the read: nothing later is read. fn must not keep the
// Version's slices past its return.
func (s *Store) Scan(ctx context.Context, p *Projection, w Window, watermark uint64, fn func(*Version) error) error {
	if w.End < w.Start {
		return fmt.Errorf("%w: scan window ends before it starts", ErrInvalid)
	}
	if s.closed.Load() {
		return ErrClosed
	}
	h := s.historyFor(p.View.ID)
	if h == nil {
		return fmt.Errorf("%w %q", ErrUnknownView, p.View.Name)
	}
	snap := h.acquire()
	defer snap.release()
	watermark = min(watermark, s.clock.watermark())
	cols := snap.columns(p)
	v := &Version{Values: make([]Value, len(p.Features))}
	m := newMerger(snap.runs)
	for n := 0; ; n++ {
		if n&4095 == 4095 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		j, k, i, ok := m.next()
		if !ok {
			return nil
		}
		r := snap.runs[j]
		event, avail, seq := r.event[i], r.avail[i], r.seq[i]
		if event < w.Start || event > w.End || avail < w.Start || avail > w.End || seq > watermark {
			continue
		}
		for f, c := range cols[j] {
			v.Values[f] = Value{}
			if c != nil {
				v.Values[f] = c.value(i)
			}
		}
		v.Key = r.key(k)
		v.EventTime, v.AvailableAt, v.Seq = event, avail, seq
		v.Deleted, v.Backfilled = r.flags[i]&flagDeleted != 0, r.flags[i]&flagBackfilled != 0
		if err := fn(v); err != nil {
			return err
		}
	}
}

// merger visits the versions of several runs of one view in run order: key
// ascending, then (event, available, seq) descending.
type merger struct {
	runs     []*run
	row, key []int
}

func newMerger(runs []*run) *merger {
	return &merger{runs: runs, row: make([]int, len(runs)), key: make([]int, len(runs))}
}

// next returns the next version: its run, key index and row.
func (m *merger) next() (j, k, i int, ok bool) {
	best := -1
	for j, r := range m.runs {
		if m.row[j] == r.versions() {
			continue
		}
		for int64(m.row[j]) >= r.start[m.key[j]+1] {
			m.key[j]++
		}
		if best < 0 || runOrder(r, m.key[j], m.row[j], m.runs[best], m.key[best], m.row[best]) < 0 {
			best = j
		}
	}
	if best < 0 {
		return 0, 0, 0, false
	}
	k, i = m.key[best], m.row[best]
	m.row[best]++
	return best, k, i, true
}
