package storage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Read replicas. A replica is a store restored from a full backup of its
// primary that then applies the primary's incremental backups, each one
// starting where the one before ended, as they come. The backups copy
// Badger keys as they are, so the replica holds the same chunks (the same
// seqs, commit times and available_at), the same definitions and the same
// manifests as the primary did at the backup's watermark, and every read at
// a watermark it has applied answers as the primary's does.
//
// An increment is applied in this order:
//
//  1. The file is checked whole (its checksum) and must follow the last one
//     applied: the same store, Since equal to the last NextSince and
//     SinceWatermark to the last Watermark.
//  2. Every key but the m/ records is written (in Badger write batches);
//     then the m/ records (the watermark, the clock, the registry
//     generation, each view's last seq) and m/replica, the increment's
//     footer, in one transaction; then Badger syncs. A crash before that
//     transaction leaves versions above the watermark, which no read sees
//     and which the increment, fetched again, writes again unchanged.
//  3. The acknowledged-writes record, then memory: the registry is reread,
//     each view's new versions join its history as a heap run (built from
//     the increment's chunks, not read back from Badger), and only then is
//     the new watermark published.
//
// A replica refuses writes and definition changes (ReadOnly). Manifests of
// the datasets read on it are recorded locally, as in a sandbox; the
// primary's own arrive with its increments. m/replica is never copied into
// a backup, so a backup of a replica restores as an ordinary store.
//
// Promote turns a stopped replica into an ordinary store that takes writes:
// its seqs and commit times continue from the primary's.

var metaReplica = []byte("m/replica")

// InitReplica makes dir, which must not exist or be empty, a replica
// restored from the full backup at path, which is checked whole first. The
// store is restored under a temporary name and renamed into place once it
// is marked as a replica, so a crash leaves either no store or a replica.
func InitReplica(dir, path string) (BackupInfo, error) {
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return BackupInfo{}, fmt.Errorf("%w: %s is not empty; a new replica starts in a new directory", ErrInvalid, dir)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return BackupInfo{}, err
	}
	dir = filepath.Clean(dir)
	tmp := dir + ".restoring"
	if err := os.RemoveAll(tmp); err != nil {
		return BackupInfo{}, err
	}
	info, err := Restore(tmp, []string{path})
	if err != nil {
		return info, err
	}
	db, err := badger.Open(badger.DefaultOptions(tmp).WithLogger(nil))
	if err != nil {
		return info, err
	}
	rec, _ := json.Marshal(info)
	err = db.Update(func(txn *badger.Txn) error { return txn.Set(metaReplica, rec) })
	if err == nil {
		err = db.Sync()
	}
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return info, err
	}
	os.Remove(dir) // an empty directory, if any
	if err := os.Rename(tmp, dir); err != nil {
		return info, err
	}
	return info, syncDir(filepath.Dir(dir))
}

// readReplica reads the m/replica record, if any.
func readReplica(db *badger.DB) (*BackupInfo, error) {
	return readRecord[BackupInfo](db, metaReplica, "replica")
}

// ReplicaInfo returns the footer of the last increment a replica applied;
// ok is false when the store is not a replica.
func (s *Store) ReplicaInfo() (info BackupInfo, ok bool) {
	if r := s.replica.Load(); r != nil {
		return *r, true
	}
	return BackupInfo{}, false
}

// ApplyIncrement applies the incremental backup at path to a replica, which
// keeps serving while it does; see the top of this file for the order of
// the steps. A file that is damaged, of another store, or that does not
// follow the last one applied is refused and nothing of it is written.
func (s *Store) ApplyIncrement(ctx context.Context, path string) (BackupInfo, error) {
	info, err := ReadBackupInfo(path)
	if err != nil {
		return info, err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if s.closed.Load() {
		return info, ErrClosed
	}
	last := s.replica.Load()
	switch {
	case last == nil:
		return info, fmt.Errorf("%w: store %s is not a replica", ErrInvalid, s.ID())
	case info.StoreID != last.StoreID:
		return info, fmt.Errorf("%w: the increment is of store %s, but this replica follows store %s", ErrInvalid, info.StoreID, last.StoreID)
	case info.Since != last.NextSince || info.SinceWatermark != last.Watermark:
		return info, fmt.Errorf("%w: the increment does not follow the last one applied: it starts at version %d (watermark %d), but the last one ended at version %d (watermark %d)",
			ErrInvalid, info.Since, info.SinceWatermark, last.NextSince, last.Watermark)
	}
	if info.Keys+info.Deletes == 0 {
		// Nothing changed: only the position moves, in memory. After a
		// restart the same empty range is asked for again.
		s.replica.Store(&info)
		return info, nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		return info, err
	}
	// Badger's log and tables hold the keys about twice; a run file, once.
	if err := s.checkSpace(3*fi.Size(), s.writeKeep()); err != nil {
		return info, err
	}
	chunks, reg, err := s.writeIncrement(ctx, path, info)
	if err != nil {
		return info, err
	}
	if err := s.ack.record(info.Watermark); err != nil {
		return info, err
	}
	if reg {
		if err := s.reloadRegistry(); err != nil {
			return info, err
		}
	}
	if err := s.addChunks(chunks, info.Watermark); err != nil {
		return info, fmt.Errorf("%w: applying versions %d to %d: %v", ErrCorrupt, last.Watermark+1, info.Watermark, err)
	}
	s.replica.Store(&info)
	s.clock.publish(info.Watermark)
	s.notify()
	return info, nil
}

// incChunk is a chunk read from an increment.
type incChunk struct {
	view        uint32
	first, last uint64
	value       []byte
}

// writeIncrement writes an increment's records to Badger, the m/ records
// last and in one transaction with m/replica, and syncs. It returns the
// chunks, and whether the registry changed.
func (s *Store) writeIncrement(ctx context.Context, path string, info BackupInfo) (chunks []incChunk, reg bool, err error) {
	var meta [][2][]byte // m/ records, set last; a nil value deletes
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	n := 0
	err = readBackupRecords(path, func(key, value []byte, del bool) error {
		if n++; n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		switch {
		case key[0] == prefixMeta:
			if bytes.Equal(key, metaID) || bytes.Equal(key, metaReplica) || bytes.Equal(key, metaSandbox) {
				return nil // the replica's own
			}
			if bytes.Equal(key, metaRegistry) {
				reg = true
			}
			meta = append(meta, [2][]byte{key, value})
			return nil
		case key[0] == prefixChunk && !del:
			view, first, last, err := parseChunkKey(key)
			if err != nil {
				return err
			}
			if first <= info.SinceWatermark || last > info.Watermark {
				return fmt.Errorf("%w: the increment holds a chunk of seqs %d-%d outside its range %d-%d", ErrCorrupt, first, last, info.SinceWatermark+1, info.Watermark)
			}
			chunks = append(chunks, incChunk{view, first, last, value})
		case key[0] == prefixRegistry:
			reg = true
		}
		if del {
			return wb.Delete(key)
		}
		return wb.Set(key, value)
	})
	if err != nil {
		return nil, false, err
	}
	if err := wb.Flush(); err != nil {
		return nil, false, err
	}
	rec, err := json.Marshal(info)
	if err != nil {
		return nil, false, err
	}
	err = s.db.Update(func(txn *badger.Txn) error {
		for _, m := range meta {
			var err error
			if m[1] == nil {
				err = txn.Delete(m[0])
			} else {
				err = txn.Set(m[0], m[1])
			}
			if err != nil {
				return err
			}
		}
		return txn.Set(metaReplica, rec)
	})
	if err == nil && !s.opts.SyncWrites {
		err = s.db.Sync()
	}
	return chunks, reg, err
}

// reloadRegistry rereads the definitions after an increment changed them,
// and gives each new view an empty history.
func (s *Store) reloadRegistry() error {
	s.regWrite.Lock()
	defer s.regWrite.Unlock()
	s.regMu.Lock()
	err := s.loadRegistry()
	var ids []uint32
	for _, v := range s.views {
		ids = append(ids, v.ID)
	}
	s.regMu.Unlock()
	if err != nil {
		return err
	}
	if err := s.db.View(func(txn *badger.Txn) error {
		s.regGen, err = getUint(txn, metaRegistry)
		return err
	}); err != nil {
		return err
	}
	if err := s.ack.recordRegistry(s.regGen); err != nil {
		return err
	}
	s.histMu.Lock()
	for _, id := range ids {
		if s.hist[id] == nil {
			s.hist[id] = newHistory(nil)
		}
	}
	s.histMu.Unlock()
	return nil
}

// addChunks decodes the chunks of an increment, whose seqs end at upto, and
// adds each view's versions to its history as one run.
func (s *Store) addChunks(chunks []incChunk, upto uint64) error {
	byView := map[uint32][]chunkRow{}
	commits := map[uint32]int64{}
	for _, c := range chunks {
		commits[c.view] = max(commits[c.view], chunkCommit(c.value))
		err := decodeChunk(c.value, c.first, c.last, func(r *chunkRow) error {
			byView[c.view] = append(byView[c.view], *r)
			return nil
		})
		if err != nil {
			return err
		}
	}
	now := s.opts.Now()
	for id, rows := range byView {
		v := s.viewByID(id)
		h := s.historyFor(id)
		if v == nil || h == nil {
			return fmt.Errorf("versions of view id %d, which the registry does not define", id)
		}
		r, err := buildRun(v, rows, h.end(), upto)
		if err != nil {
			return err
		}
		h.add(r, now)
		h.lastCommit.Store(max(h.lastCommit.Load(), commits[id]))
	}
	select {
	case s.compactWake <- struct{}{}:
	default:
	}
	return nil
}

// viewByID returns the current definition of the view with id, or nil.
func (s *Store) viewByID(id uint32) *View {
	s.regMu.RLock()
	defer s.regMu.RUnlock()
	for _, v := range s.views {
		if v.ID == id {
			return v
		}
	}
	return nil
}

// Promote makes the replica in dir, which no server may have open, an
// ordinary store that takes writes. Its seqs and commit times continue from
// the last increment it applied.
func Promote(dir string) (BackupInfo, error) {
	if _, err := os.Stat(filepath.Join(dir, ackFileName)); err != nil {
		return BackupInfo{}, fmt.Errorf("%w: %s holds no timefence store", ErrInvalid, dir)
	}
	db, err := badger.Open(badger.DefaultOptions(dir).WithLogger(nil))
	if err != nil {
		return BackupInfo{}, fmt.Errorf("storage: open %s: %w (is a server still running on it?)", dir, err)
	}
	defer db.Close()
	info, err := readReplica(db)
	if err != nil {
		return BackupInfo{}, err
	}
	if info == nil {
		return BackupInfo{}, fmt.Errorf("%w: %s is not a replica", ErrInvalid, dir)
	}
	if err := db.Update(func(txn *badger.Txn) error { return txn.Delete(metaReplica) }); err != nil {
		return *info, err
	}
	return *info, db.Sync()
}

// Changes returns a channel that is closed at the next change of the store:
// a committed batch, a definition change, a manifest, a serving log record
// or an applied increment.
func (s *Store) Changes() <-chan struct{} {
	s.changeMu.Lock()
	defer s.changeMu.Unlock()
	return s.changes
}

// notify closes the channel of Changes and starts a new one.
func (s *Store) notify() {
	s.changeMu.Lock()
	close(s.changes)
	s.changes = make(chan struct{})
	s.changeMu.Unlock()
}

// WaitWatermark waits until the store's watermark reaches w, ctx is done or
// wait has passed, and returns the watermark then.
func (s *Store) WaitWatermark(ctx context.Context, w uint64, wait time.Duration) uint64 {
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		ch := s.Changes()
		if got := s.Watermark(); got >= w {
			return got
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return s.Watermark()
		case <-t.C:
			return s.Watermark()
		}
	}
}
