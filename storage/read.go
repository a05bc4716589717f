package storage

import (
	"context"
	"fmt"

	"github.com/dgraph-io/badger/v4"
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
	// The winner's identity; zero when NotFound with no winner.
	EventTime   int64
	AvailableAt int64
	Seq         uint64
	Backfilled  bool
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

// Lookup evaluates the read rule for each encoded entity key (see
// View.EncodeKey) among versions with seq <= watermark: the winner for keys[i]
// is bounded by bounds[i], or by bounds[0] for every key when len(bounds) is 1.
// A watermark above the store's is lowered to it. The ttl is measured from
// the event bound.
func (s *Store) Lookup(ctx context.Context, p *Projection, keys [][]byte, bounds []Bounds, watermark uint64) ([]Result, error) {
	if len(bounds) != 1 && len(bounds) != len(keys) {
		return nil, fmt.Errorf("%w: %d bounds for %d keys", ErrInvalid, len(bounds), len(keys))
	}
	if s.closed.Load() {
		return nil, ErrClosed
	}
	watermark = min(watermark, s.clock.watermark())
	out := make([]Result, len(keys))
	vals := make([]Value, len(keys)*len(p.Features))
	err := s.db.View(func(txn *badger.Txn) error {
		r := newReader(txn, p.View.ID)
		defer r.close()
		for i, key := range keys {
			if i&1023 == 1023 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			b := bounds[0]
			if len(bounds) > 1 {
				b = bounds[i]
			}
			out[i].Values = vals[i*len(p.Features) : (i+1)*len(p.Features) : (i+1)*len(p.Features)]
			if err := r.read(p, key, b, watermark, &out[i]); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// reader evaluates the read rule over one view in one read transaction.
type reader struct {
	it     *badger.Iterator
	prefix []byte // view prefix; the entity key is appended per read
	seek   []byte
}

func newReader(txn *badger.Txn, viewID uint32) *reader {
	prefix := viewPrefix(viewID)
	return &reader{
		it:     txn.NewIterator(badger.IteratorOptions{Prefix: prefix}),
		prefix: prefix,
	}
}

func (r *reader) close() { r.it.Close() }

// winner positions the iterator on the winner of the read rule for the
// encoded entity key under bounds b and watermark w:
//
//	candidates: event_time <= b.Event, available_at <= b.Available, seq <= w
//	winner:     the greatest (event_time, available_at, seq)
//
// Versions are stored newest first in exactly that order, so the winner is
// the first candidate at or after the first key with event_time <= b.Event.
// This is the only implementation of the rule.
func (r *reader) winner(key []byte, b Bounds, w uint64) (item *badger.Item, event, available int64, seq uint64) {
	r.seek = appendSeekSuffix(append(append(r.seek[:0], r.prefix...), key...), b.Event)
	entity := r.seek[:len(r.prefix)+len(key)]
	for r.it.Seek(r.seek); r.it.ValidForPrefix(entity); r.it.Next() {
		it := r.it.Item()
		k := it.Key()
		if len(k) != len(entity)+versionSuffixLen {
			continue // a longer entity key sharing this prefix cannot occur, but never misread one
		}
		event, available, seq = versionSuffix(k)
		if available <= b.Available && seq <= w {
			return it, event, available, seq
		}
	}
	return nil, 0, 0, 0
}

// read applies the rule and decodes the winner into res.
func (r *reader) read(p *Projection, key []byte, b Bounds, w uint64, res *Result) error {
	item, event, available, seq := r.winner(key, b, w)
	if item == nil {
		res.Status = NotFound
		return nil
	}
	res.EventTime, res.AvailableAt, res.Seq = event, available, seq
	var flags byte
	err := item.Value(func(v []byte) error {
		var err error
		flags, err = decodeVersion(v, p.pos, res.Values)
		return err
	})
	if err != nil {
		return err
	}
	res.Backfilled = flags&flagBackfilled != 0
	switch {
	case flags&flagDeleted != 0:
		res.Status = NotFound
	case p.View.TTL > 0 && b.Event-event > int64(p.View.TTL):
		res.Status = Stale
		clear(res.Values)
	default:
		res.Status = Present
	}
	return nil
}
