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
	// NaiveSeq is the seq of the naive join's winner (see Query.NaiveAvailable);
	// zero when there is none.
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
	// rule with the availability bound relaxed to it (Result.NaiveSeq). It
	// must not be below any Bounds[i].Available.
	NaiveAvailable int64
}

// Lookup evaluates the read rule for every key of q. No version with
// event_time or available_at past the key's bounds, or seq past the
// watermark, is read.
func (s *Store) Lookup(ctx context.Context, q Query) ([]Result, error) {
	if len(q.Bounds) != 1 && len(q.Bounds) != len(q.Keys) {
		return nil, fmt.Errorf("%w: %d bounds for %d keys", ErrInvalid, len(q.Bounds), len(q.Keys))
	}
	if s.closed.Load() {
		return nil, ErrClosed
	}
	w := min(q.Watermark, s.clock.watermark())
	p := q.Proj
	out := make([]Result, len(q.Keys))
	vals := make([]Value, len(q.Keys)*len(p.Features))
	err := s.db.View(func(txn *badger.Txn) error {
		r := newReader(txn, p.View.ID)
		defer r.close()
		for i, key := range q.Keys {
			if i&1023 == 1023 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			b := q.Bounds[0]
			if len(q.Bounds) > 1 {
				b = q.Bounds[i]
			}
			if q.NaiveAvailable != 0 && q.NaiveAvailable < b.Available {
				return fmt.Errorf("%w: naive bound %d below the availability bound %d", ErrInvalid, q.NaiveAvailable, b.Available)
			}
			out[i].Values = vals[i*len(p.Features) : (i+1)*len(p.Features) : (i+1)*len(p.Features)]
			if err := r.read(p, key, b, w, q.NaiveAvailable, &out[i]); err != nil {
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
// This is the only implementation of the rule. With naive > 0 it also
// returns the seq of the winner under the availability bound naive, which
// the scan meets first because naive >= b.Available.
func (r *reader) winner(key []byte, b Bounds, w uint64, naive int64) (item *badger.Item, event, available int64, seq, naiveSeq uint64) {
	r.seek = appendSeekSuffix(append(append(r.seek[:0], r.prefix...), key...), b.Event)
	entity := r.seek[:len(r.prefix)+len(key)]
	for r.it.Seek(r.seek); r.it.ValidForPrefix(entity); r.it.Next() {
		it := r.it.Item()
		event, available, seq = versionSuffix(it.Key())
		if seq > w {
			continue
		}
		if naiveSeq == 0 && available <= naive {
			naiveSeq = seq
		}
		if available <= b.Available {
			return it, event, available, seq, naiveSeq
		}
	}
	return nil, 0, 0, 0, naiveSeq
}

// read applies the rule and decodes the winner into res.
func (r *reader) read(p *Projection, key []byte, b Bounds, w uint64, naive int64, res *Result) error {
	item, event, available, seq, naiveSeq := r.winner(key, b, w, naive)
	res.NaiveSeq = naiveSeq
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
