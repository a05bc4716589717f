package storage

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/dgraph-io/badger/v4"
)

// A sandbox is a store of its own cut from another at a split: production's
// data and production's rule, up to the split's cutoff, on a laptop.
//
// Store.Sandbox writes it as a full backup file of one snapshot, from which
// Restore builds the store; what is after the cutoff is left out on the way,
// so it is never written anywhere in the sandbox:
//
//   - the definitions, whole (entities and every version of every view);
//   - the split and every split that ends no later than it;
//   - the versions whose event time and available-at time are both no later
//     than the cutoff, with their seqs, times and flags, so that a read
//     under those splits, at any watermark up to the snapshot's, has the same
//     winners as in the source: joins and exports are byte for byte the same,
//     re-reads by dataset id too;
//   - the manifests of the datasets recorded under the kept splits;
//   - the serving log's lookups read no later than the cutoff.
//
// Batch ids are left out (nothing is written to a sandbox), and so is the
// store id: the sandbox gets its own when it is first opened. A key
// m/sandbox records where it was cut; a store that has it refuses writes
// and changes to its definitions with ErrReadOnly, and records only the
// manifests of the datasets read from it.

var metaSandbox = []byte("m/sandbox")

// SandboxInfo describes where a sandbox was cut.
type SandboxInfo struct {
	// Split is the split it was cut at; its End is the cutoff.
	Split Split `json:"split"`
	// Splits names every split kept: Split and those that end no later.
	Splits []string `json:"splits"`
	// SourceID is the store it was cut from, and Watermark the source's
	// watermark in the snapshot it was cut from.
	SourceID  string `json:"source_store_id"`
	Watermark uint64 `json:"watermark"`
	// Versions were kept; LeftOut were after the cutoff.
	Versions  int64 `json:"versions"`
	LeftOut   int64 `json:"left_out"`
	Manifests int64 `json:"manifests"`
	Created   int64 `json:"created"` // Unix ns

	lastSeq map[uint32]uint64 // per view id, the last seq kept
}

// Sandbox writes to w a backup file of a new store cut at the split named
// split (see the top of this file); Restore it into a new directory. The
// store keeps serving while it is written. When allowed is set, only the
// splits it allows, and their manifests, are kept (a caller scoped to
// some splits gets no other's).
func (s *Store) Sandbox(ctx context.Context, w io.Writer, split string, allowed func(split string) bool) (SandboxInfo, error) {
	if s.closed.Load() {
		return SandboxInfo{}, ErrClosed
	}
	sp, err := s.Split(split)
	if err != nil {
		return SandboxInfo{}, err
	}
	cutoff := sp.End
	sb := SandboxInfo{Split: sp, SourceID: s.ID(), Created: s.opts.Now().UnixNano(), lastSeq: map[uint32]uint64{}}
	// The splits kept, read before the snapshot: splits are never removed,
	// so each is in it. The manifests follow them.
	kept := map[string]bool{}
	for _, other := range s.Splits() {
		if other.End <= cutoff && (allowed == nil || allowed(other.Name)) {
			kept[other.Name] = true
			sb.Splits = append(sb.Splits, other.Name)
		}
	}
	sort.Strings(sb.Splits)
	bk, err := newBackupWriter(w)
	if err != nil {
		return sb, err
	}
	txn := s.db.NewTransaction(false)
	defer txn.Discard()
	info := BackupInfo{Format: 1, Created: sb.Created, NextSince: txn.ReadTs() + 1}
	if info.Watermark, err = getUint(txn, metaSeq); err != nil {
		return sb, err
	}
	sb.Watermark = info.Watermark

	it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, PrefetchSize: 256})
	defer it.Close()
	n := 0
	for it.Rewind(); it.Valid(); it.Next() {
		if n++; n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return sb, err
			}
		}
		item := it.Item()
		key := item.KeyCopy(nil)
		err := item.Value(func(v []byte) error {
			switch {
			case key[0] == prefixChunk:
				return sb.cutChunk(bk, &info, key, v, cutoff, s.chunkBytes())
			case key[0] == prefixBatch, string(key) == string(metaID), string(key) == string(metaSandbox), string(key) == string(metaReplica):
				return nil
			case strings.HasPrefix(string(key), viewSeqPrefix) && len(key) == len(viewSeqPrefix)+4:
				// A view's last seq: its last kept (chunks come first in key order).
				last, ok := sb.lastSeq[binary.BigEndian.Uint32(key[len(key)-4:])]
				if !ok {
					return nil
				}
				v = uintBytes(last)
			case string(key) == string(metaClock) && len(v) == 8:
				// The last commit time, but no later than the cutoff.
				v = uintBytes(uint64(min(int64(binary.BigEndian.Uint64(v)), cutoff)))
			case strings.HasPrefix(string(key), "r/split/"):
				if !kept[strings.TrimPrefix(string(key), "r/split/")] {
					return nil
				}
			case key[0] == prefixServingLog:
				// Lookups served by the cutoff read only what was
				// available by then.
				if at, ok := logReadTime(key); !ok || at > cutoff {
					return nil
				}
			case key[0] == prefixValidation:
				// Events of batches committed after the cutoff are after it.
				if at, ok := eventTime(key); !ok || at > cutoff {
					return nil
				}
			case key[0] == prefixDataset:
				var m Manifest
				if err := json.Unmarshal(v, &m); err != nil {
					return fmt.Errorf("%w: manifest %s: %v", ErrCorrupt, key, err)
				}
				if !kept[m.Split.Name] || m.Split.End > cutoff {
					return nil
				}
				sb.Manifests++
			}
			info.Keys++
			return bk.set(key, v)
		})
		if err != nil {
			return sb, err
		}
	}
	rec, err := json.Marshal(sb)
	if err != nil {
		return sb, err
	}
	if err := bk.set(metaSandbox, rec); err != nil {
		return sb, err
	}
	info.Keys++
	return sb, bk.finish(info)
}

// cutChunk writes the versions of chunk key (value v) that are no later
// than cutoff, as chunks of consecutive seqs of at most size bytes.
func (sb *SandboxInfo) cutChunk(bk *backupWriter, info *BackupInfo, key, v []byte, cutoff int64, size int) error {
	viewID, first, last, err := parseChunkKey(key)
	if err != nil {
		return err
	}
	if last > info.Watermark {
		return nil // committed after the snapshot's watermark was read
	}
	// A chunk wholly before the cutoff is kept as it is (its bytes are
	// checked by decodeChunk); only one that straddles it is re-cut.
	kept, late := int64(0), false
	var lastKept uint64
	err = decodeChunk(v, first, last, func(r *chunkRow) error {
		if r.event > cutoff || r.available > cutoff {
			late = true
		} else {
			kept, lastKept = kept+1, r.seq
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !late {
		sb.Versions += kept
		sb.lastSeq[viewID] = lastKept
		info.Keys++
		return bk.set(key, v)
	}
	commit := chunkCommit(v)
	var run []encodedRow
	var runFirst uint64
	flush := func() error {
		if len(run) == 0 {
			return nil
		}
		err := writeChunks(viewID, commit, size, run, runFirst, func(k, val []byte) error {
			info.Keys++
			return bk.set(k, val)
		})
		run = run[:0]
		return err
	}
	err = decodeChunk(v, first, last, func(r *chunkRow) error {
		if r.event > cutoff || r.available > cutoff {
			sb.LeftOut++
			return flush()
		}
		sb.Versions++
		sb.lastSeq[viewID] = r.seq
		if len(run) == 0 {
			runFirst = r.seq
		}
		avail := r.available
		if avail == commit {
			avail = 0 // as written: the commit time
		}
		run = append(run, encodedRow{key: r.key, event: r.event, available: avail, value: r.value})
		return nil
	})
	if err != nil {
		return err
	}
	return flush()
}

// chunkCommit returns the commit time of a chunk's value.
func chunkCommit(v []byte) int64 {
	if len(v) < 9 {
		return 0 // decodeChunk refuses it
	}
	return int64(binary.BigEndian.Uint64(v[1:9]))
}

// SandboxInfo returns where the store was cut, when it is a sandbox.
func (s *Store) SandboxInfo() (SandboxInfo, bool) {
	if s.sandbox == nil {
		return SandboxInfo{}, false
	}
	return *s.sandbox, true
}

// readSandbox reads the m/sandbox record, if any.
func readSandbox(db *badger.DB) (*SandboxInfo, error) {
	return readRecord[SandboxInfo](db, metaSandbox, "sandbox")
}

// readRecord reads the JSON record under key, nil when there is none.
func readRecord[T any](db *badger.DB, key []byte, what string) (*T, error) {
	var rec *T
	err := db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(key)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		return item.Value(func(v []byte) error {
			rec = new(T)
			if err := json.Unmarshal(v, rec); err != nil {
				return fmt.Errorf("%w: %s record: %v", ErrCorrupt, what, err)
			}
			return nil
		})
	})
	return rec, err
}

// ReadOnly returns an error wrapping ErrReadOnly, saying why, when the
// store is a sandbox: what (e.g. "write to user_stats") is refused.
func (s *Store) ReadOnly(what string) error {
	if s.replica.Load() != nil {
		where := "its primary"
		if s.opts.ReplicaOf != "" {
			where = "its primary at " + s.opts.ReplicaOf
		}
		return fmt.Errorf("%w: %s: this store is a read replica of store %s; it serves reads only, so write to %s",
			ErrReadOnly, what, s.ID(), where)
	}
	if s.sandbox == nil {
		return nil
	}
	return fmt.Errorf("%w: %s: this store is a sandbox cut from store %s at split %q (cutoff %s); it serves reads only, so write to the store it was cut from",
		ErrReadOnly, what, s.sandbox.SourceID, s.sandbox.Split.Name, FormatTime(s.sandbox.Split.End))
}
