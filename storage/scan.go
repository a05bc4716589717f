package storage

import (
	"context"
	"fmt"

	"github.com/dgraph-io/badger/v4"
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
	watermark = min(watermark, s.clock.watermark())
	return s.db.View(func(txn *badger.Txn) error {
		prefix := viewPrefix(p.View.ID)
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 256})
		defer it.Close()
		v := &Version{Values: make([]Value, len(p.Features))}
		n := 0
		for it.Rewind(); it.Valid(); it.Next() {
			if n++; n&4095 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			item := it.Item()
			k := item.Key()
			event, available, seq := versionSuffix(k)
			if event < w.Start || event > w.End || available < w.Start || available > w.End || seq > watermark {
				continue
			}
			clear(v.Values)
			var flags byte
			err := item.Value(func(b []byte) error {
				var err error
				flags, err = decodeVersion(b, p.pos, v.Values)
				return err
			})
			if err != nil {
				return err
			}
			v.Key = k[len(prefix) : len(k)-versionSuffixLen]
			v.EventTime, v.AvailableAt, v.Seq = event, available, seq
			v.Deleted, v.Backfilled = flags&flagDeleted != 0, flags&flagBackfilled != 0
			if err := fn(v); err != nil {
				return err
			}
		}
		return nil
	})
}
