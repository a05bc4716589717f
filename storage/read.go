package storage

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/timefence/timefence/internal/par"
)

// Status is the outcome of the read rule for one entity key and time.
type Status uint8

const (
	// NotFound: no candidate version, or the winner is a deletion.
	NotFound Status = iota
	// Present: the winner's values are returned.
	Present
	// Stale: the winner is older than the view's ttl at the read time.
	Stale
)

func (s Status) String() string { return [...]string{"not_found", "present", "stale"}[s] }

// Result is the read rule's answer for one entity key and time.
type Result struct {
	Status Status
	// The winner's identity; zero when NotFound with no winner. Seq is set
	// only with Query.WithSeq.
	EventTime   int64
	AvailableAt int64
	Seq         uint64
	Backfilled  bool
	// NaiveDiffers reports that the naive join's winner (see
	// Query.NaiveAvailable) is another version than the winner, or none.
	NaiveDiffers bool
	// NaiveSeq is the seq of the naive join's winner, zero when there is
	// none; set only with Query.WithSeq.
	NaiveSeq uint64
	// Values holds the projected features when Present (null where the
	// version has no value for a feature).
	Values []Value
}

// Projection selects features of one view to read.
type Projection struct {
	View     *View
	Features []Feature
	pos      []int // feature id -> index in Features, -1 if not selected
}

// Project selects the named features of v; no names selects all of them.
func (v *View) Project(names ...string) (*Projection, error) {
	p := &Projection{View: v, pos: make([]int, v.nextFeatureID())}
	for i := range p.pos {
		p.pos[i] = -1
	}
	if len(names) == 0 {
		p.Features = v.Features
	}
	for _, n := range names {
		f, ok := v.Feature(n)
		if !ok {
			return nil, fmt.Errorf("%w %q in feature view %q", ErrUnknownFeature, n, v.Name)
		}
		p.Features = append(p.Features, f)
	}
	for i, f := range p.Features {
		p.pos[f.ID] = i
	}
	return p, nil
}

// Bounds are the time bounds of one read: a candidate version must have
// event_time <= Event and available_at <= Available. The read rule at time t
// is Bounds{t, t}; both bounds are inclusive.
type Bounds struct {
	Event     int64
	Available int64
}

// At returns the bounds of the read rule at time t.
func At(t int64) Bounds { return Bounds{Event: t, Available: t} }

// Query asks for the read rule's winner of each of a view's entity keys.
type Query struct {
	Proj *Projection
	// Keys are encoded entity keys (see View.EncodeKey).
	Keys [][]byte
	// Bounds[i] bounds the read of Keys[i]; a single element bounds every key.
	// The ttl is measured from the event bound.
	Bounds []Bounds
	// Watermark: versions with a greater seq are ignored. A watermark above
	// the store's is lowered to it.
	Watermark uint64
	// NaiveAvailable, when set, also finds for each key the winner of a naive
	// event-time-only join over a snapshot taken at NaiveAvailable: the same
	// rule with the availability bound relaxed to it (Result.NaiveDiffers).
	// It must not be below any Bounds[i].Available.
	NaiveAvailable int64
	// WithSeq also reports the winners' seq numbers. Without it a read whose
	// watermark is above every version of a run never reads its seq column.
	WithSeq bool
	// Order, when set, is Order(Keys, Bounds), computed once for several
	// queries over the same keys.
	Order []int32
	// Sorted says Keys and Bounds are already in the order Order would give
	// them (SortAt puts them so); they are then visited as they are.
	Sorted bool
	// Go, when set, starts the goroutines of a parallel read besides the
	// caller's (the go statement when nil): the server runs historical
	// reads on threads of lower priority than online ones.
	Go func(func())
	// Progress, when set, counts the keys whose winners have been found, a
	// few thousand at a time.
	Progress *Phase
}

// Order returns the indices of keys in the order reads visit them: by key,
// and for one key the latest event bound first, since newer versions are
// stored first. bounds has one element per key, or one for all.
func Order(keys [][]byte, bounds []Bounds) []int32 {
	items, _ := sortKeys(keys, func(i int) int64 {
		if len(bounds) == 1 {
			return bounds[0].Event
		}
		return bounds[i].Event
	})
	order := make([]int32, len(items))
	for i, it := range items {
		order[i] = it.idx
	}
	return order
}

// SortAt puts the reads of keys[i] at times[i] (the read rule's bounds
// At(times[i])) in visiting order, ready for a Query with Sorted set:
// sorted[n] and at[n] are the key and bounds of position n, which is input
// order[n]. The sorted keys share one buffer.
func SortAt(keys [][]byte, times []int64) (order []int32, sorted [][]byte, at []Bounds) {
	items, short := sortKeys(keys, func(i int) int64 { return times[i] })
	order, sorted, at = make([]int32, len(items)), make([][]byte, len(items)), make([]Bounds, len(items))
	if short {
		// Every key is its 8-byte head: rebuild them from the sorted items
		// instead of visiting the input in random order.
		buf := make([]byte, 8*len(items))
		for n, it := range items {
			k := buf[8*n : 8*n+8 : 8*n+8]
			binary.BigEndian.PutUint64(k, it.head)
			order[n], sorted[n], at[n] = it.idx, k, At(int64(^it.event^1<<63))
		}
		return order, sorted, at
	}
	var buf []byte
	ends := make([]int, len(items))
	for n, it := range items {
		buf = append(buf, keys[it.idx]...)
		ends[n] = len(buf)
		order[n], at[n] = it.idx, At(int64(^it.event^1<<63))
	}
	start := 0
	for n, end := range ends {
		sorted[n] = buf[start:end:end]
		start = end
	}
	return order, sorted, at
}

// sortKeys sorts keys by key ascending, then event descending, ties in
// input order. short reports that every key is exactly 8 bytes.
func sortKeys(keys [][]byte, event func(i int) int64) (items []orderItem, short bool) {
	items = make([]orderItem, len(keys))
	long, short := false, true // some key is longer than its head; every key is its head
	for i, k := range keys {
		// ^ of the order-preserving bits: a later event sorts first.
		items[i] = orderItem{head: keyHead(k), event: ^(uint64(event(i)) ^ 1<<63), idx: int32(i)}
		long = long || len(k) > 8
		short = short && len(k) == 8
	}
	radixSort(items)
	if long {
		// Keys that share a head are put in full key order; the radix sort
		// left them ordered by event, and a stable sort keeps that.
		for lo := 0; lo < len(items); {
			hi := lo + 1
			for hi < len(items) && items[hi].head == items[lo].head {
				hi++
			}
			if hi-lo > 1 {
				slices.SortStableFunc(items[lo:hi], func(a, b orderItem) int { return bytes.Compare(keys[a.idx], keys[b.idx]) })
			}
			lo = hi
		}
	}
	return items, short
}

// smallSort is the size below which radixSort compares.
const smallSort = 256

// orderItem is a key's place in the visiting order: its 8-byte head, then
// its event bound, descending (stored inverted).
type orderItem struct {
	head, event uint64
	idx         int32
}

// radixSort sorts items by (head, event) ascending, stably, one byte at a
// time from the least significant; bytes that are the same in every item
// are skipped. Fewer than smallSort items (a write batch, an online
// lookup) are sorted by comparison, which costs less than the passes.
func radixSort(items []orderItem) {
	if len(items) < 2 {
		return
	}
	if len(items) < smallSort {
		slices.SortStableFunc(items, func(a, b orderItem) int {
			return cmp.Or(cmp.Compare(a.head, b.head), cmp.Compare(a.event, b.event))
		})
		return
	}
	radixPasses(items)
}

// radixPasses is radixSort's passes, in a function of its own: their
// counts take 2 KiB of stack, which a small sort need not grow its
// goroutine's stack for.
func radixPasses(items []orderItem) {
	src, dst := items, make([]orderItem, len(items))
	digit := func(it *orderItem, pass int) byte {
		if pass >= 8 {
			return byte(it.head >> (8 * (pass - 8)))
		}
		return byte(it.event >> (8 * pass))
	}
	for pass := range 16 {
		var count [256]int
		for i := range src {
			count[digit(&src[i], pass)]++
		}
		if count[digit(&src[0], pass)] == len(src) {
			continue // this byte is the same everywhere
		}
		pos := 0
		for b, c := range count {
			count[b] = pos
			pos += c
		}
		for i := range src {
			b := digit(&src[i], pass)
			dst[count[b]] = src[i]
			count[b]++
		}
		src, dst = dst, src
	}
	if &src[0] != &items[0] {
		copy(items, src)
	}
}

// Lookup evaluates the read rule for every key of q and returns the results
// in key order. No version with event_time or available_at past the key's
// bounds, or seq past the watermark, is read.
func (s *Store) Lookup(ctx context.Context, q Query) ([]Result, error) {
	out := make([]Result, len(q.Keys))
	nf := len(q.Proj.Features)
	vals := make([]Value, len(q.Keys)*nf)
	err := s.LookupEach(ctx, q, 1, func(_, i int, r *Result) {
		v := vals[i*nf : (i+1)*nf : (i+1)*nf]
		copy(v, r.Values)
		out[i] = *r
		out[i].Values = v
	})
	return out, err
}

// LookupEach evaluates the read rule like Lookup but hands each result to
// fn instead of collecting them: fn(part, i, r) is called once per key i,
// with r valid only during the call. Keys are visited sorted, by up to
// parallel goroutines over disjoint key ranges (part numbers them), so that
// each run is walked forward like one side of a sort-merge join; fn is
// called concurrently for different parts.
func (s *Store) LookupEach(ctx context.Context, q Query, parallel int, fn func(part, i int, r *Result)) error {
	snap, w, err := s.prepare(&q)
	if err != nil {
		return err
	}
	defer snap.release()
	parallel = max(1, parallel)
	results := make([]Result, parallel)
	// Each part finds the projected columns of a run when a winner is
	// first read from it: a lookup of a few keys reads few of the runs.
	cols := make([][][]*Column, parallel)
	for p := range results {
		results[p].Values = make([]Value, len(q.Proj.Features))
		cols[p] = make([][]*Column, len(snap.runs))
	}
	return snap.visit(ctx, &q, w, parallel, func(part, i int, b Bounds, win, nv hit) {
		res := &results[part]
		snap.result(&q, cols[part], b, win, nv, res)
		fn(part, i, res)
	})
}

// ResultColumns holds the read rule's results for many keys, in columns.
type ResultColumns struct {
	Status       []Status
	EventTime    []int64 // the winner's; 0 without one
	AvailableAt  []int64
	Backfilled   []bool
	NaiveDiffers []bool
	// Features holds one column per projected feature: the winner's values
	// where Status is Present, null elsewhere.
	Features []Column
}

// LookupColumns evaluates the read rule for every key of q, as LookupEach
// does, and returns the results as columns in the order of q.Keys. Winners
// are found first; then each feature is gathered on its own, reading each
// run's column in ascending rows when q is Sorted.
func (s *Store) LookupColumns(ctx context.Context, q Query, parallel int) (*ResultColumns, error) {
	snap, w, err := s.prepare(&q)
	if err != nil {
		return nil, err
	}
	defer snap.release()
	n := len(q.Keys)
	rc := &ResultColumns{Status: make([]Status, n), EventTime: make([]int64, n), AvailableAt: make([]int64, n),
		Backfilled: make([]bool, n), NaiveDiffers: make([]bool, n), Features: make([]Column, len(q.Proj.Features))}
	present := make([]pick, n)
	err = snap.visit(ctx, &q, w, parallel, func(_, i int, b Bounds, win, nv hit) {
		rc.NaiveDiffers[i] = q.NaiveAvailable != 0 && nv != win
		present[i] = pick{run: -1}
		if win.run < 0 {
			return // NotFound
		}
		r, row := snap.runs[win.run], int(win.row)
		rc.EventTime[i], rc.AvailableAt[i] = r.event[row], r.avail[row]
		rc.Backfilled[i] = r.flags[row]&flagBackfilled != 0
		rc.Status[i] = snap.status(&q, b, win)
		if rc.Status[i] == Present {
			present[i] = pick{run: win.run, row: win.row}
		}
	})
	if err != nil {
		return nil, err
	}
	cols := snap.columns(q.Proj)
	par.Each(parallel, len(q.Proj.Features), q.Go, func(f int) {
		srcs := make([]*Column, len(snap.runs))
		for j := range snap.runs {
			srcs[j] = cols[j][f]
		}
		rc.Features[f] = gather(q.Proj.Features[f], srcs, present)
	})
	return rc, nil
}

// prepare checks q and returns the snapshot to read (release it) and the
// watermark of the read.
func (s *Store) prepare(q *Query) (*snapshot, uint64, error) {
	if len(q.Bounds) != 1 && len(q.Bounds) != len(q.Keys) {
		return nil, 0, fmt.Errorf("%w: %d bounds for %d keys", ErrInvalid, len(q.Bounds), len(q.Keys))
	}
	for i := range q.Bounds {
		if q.NaiveAvailable != 0 && q.NaiveAvailable < q.Bounds[i].Available {
			return nil, 0, fmt.Errorf("%w: naive bound %d below the availability bound %d", ErrInvalid, q.NaiveAvailable, q.Bounds[i].Available)
		}
	}
	if !q.Sorted && q.Order != nil && len(q.Order) != len(q.Keys) {
		return nil, 0, fmt.Errorf("%w: an order of %d keys for %d keys", ErrInvalid, len(q.Order), len(q.Keys))
	}
	if s.closed.Load() {
		return nil, 0, ErrClosed
	}
	h := s.historyFor(q.Proj.View.ID)
	if h == nil {
		return nil, 0, fmt.Errorf("%w %q", ErrUnknownView, q.Proj.View.Name)
	}
	return h.acquire(), min(q.Watermark, s.clock.watermark()), nil
}

// visit finds the winner and the naive winner of every key of q, in
// visiting order, split over up to parallel goroutines, and calls fn with
// each (concurrently for different parts).
func (s *snapshot) visit(ctx context.Context, q *Query, w uint64, parallel int, fn func(part, i int, b Bounds, win, nv hit)) error {
	order := q.Order
	if q.Sorted {
		order = nil
	} else if order == nil {
		order = Order(q.Keys, q.Bounds)
	}
	parallel = max(1, min(parallel, len(q.Keys)/1024+1))
	part := func(part int) error {
		lo, hi := part*len(q.Keys)/parallel, (part+1)*len(q.Keys)/parallel
		hints := make([]int, len(s.runs))
		counted := lo
		for n := lo; n < hi; n++ {
			if n&4095 == 4095 {
				if err := ctx.Err(); err != nil {
					return err
				}
				q.Progress.Add(int64(n - counted))
				counted = n
			}
			i := n
			if order != nil {
				i = int(order[n])
			}
			b := q.Bounds[0]
			if len(q.Bounds) > 1 {
				b = q.Bounds[i]
			}
			win, nv := s.winner(q.Keys[i], b, w, q.NaiveAvailable, hints)
			fn(part, i, b, win, nv)
		}
		q.Progress.Add(int64(hi - counted))
		return nil
	}
	// The first part runs on the caller's goroutine: a small read (every
	// online lookup) never waits for another goroutine to be scheduled.
	errs := make([]error, parallel)
	par.Each(parallel, parallel, q.Go, func(p int) { errs[p] = part(p) })
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// columns returns, per run of s, the run's column of each projected feature
// (nil where the run has none: versions written before the feature existed).
func (s *snapshot) columns(p *Projection) [][]*Column {
	out := make([][]*Column, len(s.runs))
	for j := range s.runs {
		out[j] = s.runColumns(j, p)
	}
	return out
}

// runColumns returns run j's column of each projected feature.
func (s *snapshot) runColumns(j int, p *Projection) []*Column {
	out := make([]*Column, len(p.Features))
	for i, f := range p.Features {
		out[i] = s.runs[j].colAs(f.ID, f.Type)
	}
	return out
}

// status applies the deletion and ttl parts of the rule to a winner.
func (s *snapshot) status(q *Query, b Bounds, win hit) Status {
	r, i := s.runs[win.run], int(win.row)
	switch {
	case r.flags[i]&flagDeleted != 0:
		return NotFound
	case q.Proj.View.TTL > 0 && b.Event-r.event[i] > int64(q.Proj.View.TTL):
		return Stale
	}
	return Present
}

// result fills res with a key's winner, its status and projected values.
func (s *snapshot) result(q *Query, cols [][]*Column, b Bounds, win, nv hit, res *Result) {
	*res = Result{Values: res.Values, NaiveDiffers: q.NaiveAvailable != 0 && nv != win}
	clear(res.Values)
	if q.WithSeq && nv.run >= 0 {
		res.NaiveSeq = s.runs[nv.run].seq[nv.row]
	}
	if win.run < 0 {
		res.Status = NotFound
		return
	}
	r, i := s.runs[win.run], int(win.row)
	res.EventTime, res.AvailableAt = r.event[i], r.avail[i]
	if q.WithSeq {
		res.Seq = r.seq[i]
	}
	res.Backfilled = r.flags[i]&flagBackfilled != 0
	res.Status = s.status(q, b, win)
	if res.Status == Present {
		if cols[win.run] == nil {
			cols[win.run] = s.runColumns(int(win.run), q.Proj)
		}
		for j, c := range cols[win.run] {
			if c != nil {
				res.Values[j] = c.value(i)
			}
		}
	}
}
