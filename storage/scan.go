package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"sort"
)

// Window is a closed time interval [Start, End] in Unix nanoseconds.
type Window struct {
	Start, End int64
}

// ColumnBatch is a batch of versions in column form, in ScanColumns' order.
type ColumnBatch struct {
	// Keys holds each row's encoded entity key (decode with View.DecodeKey).
	Keys [][]byte
	// KeyColumns holds the decoded join keys, one column per join key
	// (int64 or string; never null, so without Valid).
	KeyColumns  []Column
	EventTime   []int64
	AvailableAt []int64
	Seq         []uint64
	Deleted     []bool
	Backfilled  []bool
	// Features holds one column per projected feature, in projection order.
	Features []Column
}

// Len returns the number of versions in the batch.
func (b *ColumnBatch) Len() int { return len(b.Keys) }

// ScanColumns calls fn with every version of the projection's view whose
// event time and available-at time both lie in w and whose seq is at most
// watermark, in entity key order and, per entity, newest first, in batches
// of batchRows (more when versions that tie, below, would straddle two).
// Versions of one entity with the same event and available-at times, which
// only their seqs order, come oldest first: written back in one batch, in
// row order, they keep their order. w.End is the upper bound of the read:
// nothing later is read. The batch's slices are its own, but its keys point
// into the store and are valid only during fn.
func (s *Store) ScanColumns(ctx context.Context, p *Projection, w Window, watermark uint64, batchRows int, fn func(*ColumnBatch) error) error {
	if w.End < w.Start {
		return fmt.Errorf("%w: scan window ends before it starts", ErrInvalid)
	}
	if batchRows <= 0 {
		return fmt.Errorf("%w: batch of %d rows", ErrInvalid, batchRows)
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
	// byFeature[f][j] is run j's column of projected feature f.
	byFeature := make([][]*Column, len(p.Features))
	for f := range byFeature {
		byFeature[f] = make([]*Column, len(snap.runs))
		for j := range snap.runs {
			byFeature[f][j] = cols[j][f]
		}
	}
	sel := make([]pick, 0, batchRows)
	// ties holds the places in sel of the versions that tie with the one
	// before them: same entity, event and available-at times.
	var ties []int
	flush := func() error {
		if len(sel) == 0 {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		for n := 0; n < len(ties); { // ties oldest first: reverse each run of them
			lo, hi := ties[n]-1, ties[n]+1
			for n++; n < len(ties) && ties[n] == hi; n++ {
				hi++
			}
			slices.Reverse(sel[lo:hi])
		}
		ties = ties[:0]
		b := &ColumnBatch{Keys: make([][]byte, len(sel)), EventTime: make([]int64, len(sel)), AvailableAt: make([]int64, len(sel)),
			Seq: make([]uint64, len(sel)), Deleted: make([]bool, len(sel)), Backfilled: make([]bool, len(sel)), Features: make([]Column, len(p.Features))}
		for o, pk := range sel {
			r, i := snap.runs[pk.run], int(pk.row)
			b.Keys[o] = r.key(int(pk.key))
			b.EventTime[o], b.AvailableAt[o], b.Seq[o] = r.event[i], r.avail[i], r.seq[i]
			b.Deleted[o], b.Backfilled[o] = r.flags[i]&flagDeleted != 0, r.flags[i]&flagBackfilled != 0
		}
		for f, feat := range p.Features {
			b.Features[f] = gather(feat, byFeature[f], sel)
		}
		var err error
		if b.KeyColumns, err = keyColumns(p.View.JoinKeys, b.Keys); err != nil {
			return err
		}
		sel = sel[:0]
		return fn(b)
	}
	var prevEvent, prevAvail int64
	m := newMerger(snap.runs)
	for {
		j, k, i, ok := m.next()
		if !ok {
			return flush()
		}
		r := snap.runs[j]
		event, avail := r.event[i], r.avail[i]
		if event < w.Start || event > w.End || avail < w.Start || avail > w.End || r.seq[i] > watermark {
			continue
		}
		p := pick{int32(j), int32(i), int32(k)}
		tied := len(sel) > 0 && event == prevEvent && avail == prevAvail &&
			bytes.Equal(r.key(k), snap.runs[sel[len(sel)-1].run].key(int(sel[len(sel)-1].key)))
		if len(sel) >= batchRows && !tied {
			if err := flush(); err != nil {
				return err
			}
		}
		if tied {
			ties = append(ties, len(sel))
		}
		sel = append(sel, p)
		prevEvent, prevAvail = event, avail
	}
}

// keyColumns decodes encoded entity keys into one column per join key. A
// key repeated on consecutive rows is decoded once.
func keyColumns(jks []JoinKey, keys [][]byte) ([]Column, error) {
	n := len(keys)
	cols := make([]Column, len(jks))
	for j, jk := range jks {
		cols[j] = Column{Type: jk.Type}
		if jk.Type == TypeInt64 {
			cols[j].Int64 = make([]int64, n)
		} else {
			cols[j].Offsets = make([]int64, 1, n+1)
		}
	}
	if len(jks) == 1 && jks[0].Type == TypeInt64 {
		out := cols[0].Int64
		for i, k := range keys {
			if len(k) != 8 {
				return nil, fmt.Errorf("%w: int64 key of %d bytes", ErrCorrupt, len(k))
			}
			out[i] = int64(binary.BigEndian.Uint64(k) ^ 1<<63)
		}
		return cols, nil
	}
	var last []byte
	var vals []Value
	for i, k := range keys {
		if vals == nil || !bytes.Equal(k, last) {
			var err error
			if vals, err = decodeKeyValues(k, jks); err != nil {
				return nil, err
			}
			last = k
		}
		for j, v := range vals {
			c := &cols[j]
			if c.Type == TypeInt64 {
				c.Int64[i] = v.Int
			} else {
				c.Data = append(c.Data, v.Str...)
				c.Offsets = append(c.Offsets, int64(len(c.Data)))
			}
		}
	}
	return cols, nil
}

// pick is one selected version: its run, row and key index.
type pick struct{ run, row, key int32 }

// gather copies the selected rows of one feature into a new column; srcs
// holds the feature's column in each run (nil: no values there). A pick of
// run -1 is null.
func gather(f Feature, srcs []*Column, sel []pick) Column {
	n := len(sel)
	dst := Column{ID: f.ID, Type: f.Type, Valid: make([]byte, (n+7)/8)}
	switch f.Type.layout() {
	case layoutInt64:
		dst.Int64 = gatherFixed(dst.Valid, srcs, sel, func(c *Column) []int64 { return c.Int64 })
	case layoutFloat64:
		dst.Float64 = gatherFixed(dst.Valid, srcs, sel, func(c *Column) []float64 { return c.Float64 })
	case layoutFloat32:
		dst.Float32 = gatherFixed(dst.Valid, srcs, sel, func(c *Column) []float32 { return c.Float32 })
	case layoutBool:
		dst.Bool = gatherFixed(dst.Valid, srcs, sel, func(c *Column) []uint8 { return c.Bool })
	default:
		dst.Offsets = make([]int64, 1, n+1)
		for o, pk := range sel {
			if pk.run < 0 {
				dst.Offsets = append(dst.Offsets, dst.Offsets[len(dst.Offsets)-1])
				continue
			}
			if c := srcs[pk.run]; c != nil && c.isValid(int(pk.row)) {
				dst.Valid[o>>3] |= 1 << (o & 7)
				lo, hi := c.Offsets[pk.row], c.Offsets[pk.row+1]
				if f.Type == TypeFloatList {
					dst.Float32 = append(dst.Float32, c.Float32[lo:hi]...)
				} else {
					dst.Data = append(dst.Data, c.Data[lo:hi]...)
				}
			}
			end := len(dst.Data)
			if f.Type == TypeFloatList {
				end = len(dst.Float32)
			}
			dst.Offsets = append(dst.Offsets, int64(end))
		}
	}
	return dst
}

func gatherFixed[T any](valid []byte, srcs []*Column, sel []pick, vals func(*Column) []T) []T {
	out := make([]T, len(sel))
	last, lastRun := []T(nil), int32(-1)
	var c *Column
	for o, pk := range sel {
		if pk.run < 0 {
			continue
		}
		if pk.run != lastRun {
			lastRun, c = pk.run, srcs[pk.run]
			if c != nil {
				last = vals(c)
			}
		}
		if c != nil && c.isValid(int(pk.row)) {
			valid[o>>3] |= 1 << (o & 7)
			out[o] = last[pk.row]
		}
	}
	return out
}

// merger visits the versions of several runs of one view in run order: key
// ascending, then (event, available, seq) descending. The runs with rows
// left form a binary heap ordered by their next rows, so a merge of k runs
// costs O(log k) per row: a view's tail may hold thousands of runs when
// batches outpace the compactor.
type merger struct {
	runs     []*run
	row, key []int    // per run: the next row and its key index
	head     []uint64 // per run: the key's keyHead, compared first
	heap     []int    // run indices
}

func newMerger(runs []*run) *merger {
	m := &merger{runs: runs, row: make([]int, len(runs)), key: make([]int, len(runs)), head: make([]uint64, len(runs))}
	for j, r := range runs {
		if r.versions() > 0 {
			m.heap = append(m.heap, j)
			m.head[j] = r.keyHead[0]
		}
	}
	for i := len(m.heap)/2 - 1; i >= 0; i-- {
		m.down(i)
	}
	return m
}

// before tells whether the next row of run a comes before that of run b.
func (m *merger) before(a, b int) bool {
	if ha, hb := m.head[a], m.head[b]; ha != hb {
		return ha < hb
	}
	return runOrder(m.runs[a], m.key[a], m.row[a], m.runs[b], m.key[b], m.row[b]) < 0
}

func (m *merger) down(i int) {
	h := m.heap
	for {
		c := 2*i + 1
		if c >= len(h) {
			return
		}
		if c+1 < len(h) && m.before(h[c+1], h[c]) {
			c++
		}
		if !m.before(h[c], h[i]) {
			return
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
}

// advance moves the run at the top of the heap to row, of key index k, and
// restores the heap.
func (m *merger) advance(row, k int) {
	j := m.heap[0]
	m.row[j], m.key[j] = row, k
	if row == m.runs[j].versions() {
		last := len(m.heap) - 1
		m.heap[0] = m.heap[last]
		m.heap = m.heap[:last]
	} else {
		m.head[j] = m.runs[j].keyHead[k]
	}
	m.down(0)
}

// nextRange returns the next versions: rows i to end-1 of run j, the first
// of them of key index k. They are the rows from i on whose keys sort before
// the next version of every other run, so they can be copied as they are;
// when the next key is in another run too, it is one row.
func (m *merger) nextRange() (j, k, i, end int, ok bool) {
	if len(m.heap) == 0 {
		return 0, 0, 0, 0, false
	}
	j = m.heap[0]
	r, k, i := m.runs[j], m.key[j], m.row[j]
	var other []byte // the smallest key at the head of another run
	for _, c := range m.heap[1:min(3, len(m.heap))] {
		if key := m.runs[c].key(m.key[c]); other == nil || bytes.Compare(key, other) < 0 {
			other = key
		}
	}
	if other != nil && bytes.Equal(r.key(k), other) {
		j, k, i, ok = m.next()
		return j, k, i, i + 1, ok
	}
	// Keys k+1.. of run j below other follow key k's remaining rows.
	k2 := r.keys()
	if other != nil {
		k2 = k + 1 + sort.Search(r.keys()-k-1, func(x int) bool { return bytes.Compare(r.key(k+1+x), other) >= 0 })
	}
	end = int(r.start[k2])
	m.advance(end, min(k2, r.keys()-1))
	return j, k, i, end, true
}

// next returns the next version: its run, key index and row.
func (m *merger) next() (j, k, i int, ok bool) {
	if len(m.heap) == 0 {
		return 0, 0, 0, false
	}
	j = m.heap[0]
	r, k, i := m.runs[j], m.key[j], m.row[j]
	nk := k
	if i+1 < r.versions() && int64(i+1) >= r.start[k+1] {
		nk++
	}
	m.advance(i+1, nk)
	return j, k, i, true
}
