package storage

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// VerifyReport is what Verify found.
type VerifyReport struct {
	Keys      int64 // Badger keys read
	Versions  int64 // committed versions
	Views     int
	Manifests int
	RunFiles  int
	// Problems lists every inconsistency found, one sentence each. A store
	// with none is sound.
	Problems []string
}

// maxProblems bounds the report: past it, problems are counted, not listed.
const maxProblems = 100

func (r *VerifyReport) problem(format string, args ...any) {
	if len(r.Problems) == maxProblems {
		r.Problems = append(r.Problems, "more problems follow; fix these first")
	}
	if len(r.Problems) <= maxProblems {
		r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
	}
}

// Verify reads the whole store and checks that it is consistent. Open has
// already checked every table's checksums, the write-ahead log against the
// acknowledged-writes record, and every run file's checksums; Verify adds:
//
//   - every key decodes: chunks (checksum, rows, entity keys and values) against their view's
//     definition, registry entries, batch records, manifests, serving log
//     records and validation events (their checksums);
//   - every chunk belongs to a known view, and none is above the watermark;
//   - each view's history holds exactly the versions Badger holds, and its
//     last-seq record matches;
//   - each manifest names known views and splits, at a watermark the store
//     has reached.
func (s *Store) Verify(ctx context.Context) (VerifyReport, error) {
	var rep VerifyReport
	committed := s.clock.watermark()
	byID := map[uint32]*View{}
	pos := map[uint32][]int{}
	for _, v := range s.Views() {
		byID[v.ID] = v
		pos[v.ID] = newRunBuilder(v.Features, 0).pos
	}
	rep.Views = len(byID)
	counts := map[uint32]int64{}
	lastSeq := map[uint32]uint64{}
	var manifests []Manifest
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: false})
		defer it.Close()
		vals := make([]Value, 0, 64)
		for it.Rewind(); it.Valid(); it.Next() {
			if rep.Keys%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			rep.Keys++
			item := it.Item()
			k := item.Key()
			err := item.Value(func(val []byte) error {
				switch k[0] {
				case prefixChunk:
					s.verifyChunk(&rep, k, val, byID, pos, committed, counts, lastSeq, &vals)
				case prefixDataset:
					var m Manifest
					if err := json.Unmarshal(val, &m); err != nil {
						rep.problem("manifest %q does not decode: %v", k, err)
					} else {
						manifests = append(manifests, m)
					}
				case prefixBatch:
					var r WriteResult
					if err := json.Unmarshal(val, &r); err != nil {
						rep.problem("batch record %q does not decode: %v", k, err)
					} else if r.LastSeq > committed {
						rep.problem("batch record %q ends at seq %d, above the watermark %d", k, r.LastSeq, committed)
					}
				case prefixRegistry:
					if !json.Valid(val) {
						rep.problem("registry entry %q is not valid JSON", k)
					}
				case prefixServingLog:
					if len(k) <= 9 || len(k) > 9+MaxRequestIDBytes {
						rep.problem("serving log key %q is malformed", k)
					} else if _, err := checkLogValue(k, val); err != nil {
						rep.problem("%v", err)
					}
				case prefixValidation:
					if ev, err := decodeEvent(k, val); err != nil {
						rep.problem("%v", err)
					} else if ev.LastSeq > committed {
						rep.problem("validation event of seqs %d-%d is above the watermark %d", ev.FirstSeq, ev.LastSeq, committed)
					}
				case prefixMeta:
				default:
					rep.problem("key %q has an unknown prefix", k)
				}
				return nil
			})
			if err != nil {
				rep.problem("the value of key %q cannot be read: %v", k, err)
			}
		}
		return nil
	})
	if err != nil {
		return rep, err
	}
	for id, v := range byID {
		rep.Versions += counts[id]
		st := s.historyFor(id).status(v.Name)
		if held := st.FileVersions + st.TailVersions; held != counts[id] {
			rep.problem("view %s: its history holds %d versions, Badger %d", v.Name, held, counts[id])
		}
		rep.RunFiles += st.FileRuns
		rec, known, err := s.viewLastSeq(id)
		if err != nil {
			return rep, err
		}
		if known && rec != lastSeq[id] {
			rep.problem("view %s: its last-seq record says %d, its newest committed version has seq %d", v.Name, rec, lastSeq[id])
		}
	}
	rep.Manifests = len(manifests)
	for _, m := range manifests {
		if m.Watermark > committed {
			rep.problem("dataset %s is pinned to watermark %d, above the store's %d", m.DatasetID, m.Watermark, committed)
		}
		if m.Split.Name != "" {
			if _, err := s.Split(m.Split.Name); err != nil {
				rep.problem("dataset %s was read under split %s, which does not exist", m.DatasetID, m.Split.Name)
			}
		}
		for _, f := range m.Features {
			if _, err := s.ViewVersion(f.View, f.ViewVersion); err != nil {
				rep.problem("dataset %s reads %s version %d, which does not exist", m.DatasetID, f.View, f.ViewVersion)
			}
		}
	}
	return rep, nil
}

// verifyChunk checks one chunk: its key, checksum, rows, entity keys and
// values.
func (s *Store) verifyChunk(rep *VerifyReport, k, val []byte, byID map[uint32]*View, pos map[uint32][]int, committed uint64, counts map[uint32]int64, lastSeq map[uint32]uint64, vals *[]Value) {
	id, first, last, err := parseChunkKey(k)
	if err != nil {
		rep.problem("%v", err)
		return
	}
	v := byID[id]
	if v == nil {
		rep.problem("chunk key %x belongs to view id %d, which is not defined", k, id)
		return
	}
	if cap(*vals) < len(v.Features) {
		*vals = make([]Value, len(v.Features))
	}
	*vals = (*vals)[:len(v.Features)]
	err = decodeChunk(val, first, last, func(r *chunkRow) error {
		if _, err := v.DecodeKey(r.key); err != nil {
			rep.problem("view %s: the entity key of seq %d does not decode: %v", v.Name, r.seq, err)
		}
		clear(*vals)
		if _, err := decodeVersion(r.value, pos[id], *vals); err != nil {
			rep.problem("view %s: the value of seq %d does not decode: %v", v.Name, r.seq, err)
		}
		return nil
	})
	if err != nil {
		rep.problem("view %s: %v", v.Name, err)
		return
	}
	if last > committed {
		rep.problem("view %s: the chunk of seqs %d-%d is above the watermark %d", v.Name, first, last, committed)
		return
	}
	counts[id] += int64(last - first + 1)
	lastSeq[id] = max(lastSeq[id], last)
}
