package storage

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/stretchr/testify/require"
)

// backupTo writes a backup of st to a file in dir.
func backupTo(t *testing.T, st *Store, dir, name string, after *BackupInfo) (string, BackupInfo) {
	path := filepath.Join(dir, name)
	f, err := os.Create(path)
	require.NoError(t, err)
	info, err := st.Backup(context.Background(), f, after)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	read, err := ReadBackupInfo(path)
	require.NoError(t, err)
	require.Equal(t, info, read)
	return path, info
}

// upTo returns the versions of all with seq <= w.
func upTo(all []oracleVersion, w uint64) []oracleVersion {
	var out []oracleVersion
	for _, v := range all {
		if v.seq <= w {
			out = append(out, v)
		}
	}
	return out
}

// restoreAndCheck restores paths into a new directory, opens it, verifies it
// and checks every read against the oracle's versions up to the last
// backup's watermark.
func restoreAndCheck(t *testing.T, f *historyFixture, paths []string, want BackupInfo) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "restored")
	info, err := Restore(dir, paths)
	require.NoError(t, err)
	require.Equal(t, want, info)
	st, err := Open(f.opts.WithSyncWrites(false).withDir(dir))
	require.NoError(t, err)
	defer st.Close()
	require.Equal(t, want.Watermark, st.Watermark())
	require.Equal(t, want.StoreID, st.ID())
	rep, err := st.Verify(context.Background())
	require.NoError(t, err)
	require.Empty(t, rep.Problems)
	view, err := st.View("stats")
	require.NoError(t, err)
	all := upTo(f.all, want.Watermark)
	require.EqualValues(t, len(all), rep.Versions)
	checkOracle(t, st, view, f.ents, all, f.base, f.end, rand.New(rand.NewPCG(6, 6)), 5, 300)
}

func (o Options) withDir(dir string) Options { o.Dir = dir; return o }

// TestBackupRestoreChain takes a full backup and two incremental ones while
// the store is being written, and restores each prefix of the chain: every
// restored store holds exactly the versions up to its last backup's
// watermark, with every read right.
func TestBackupRestoreChain(t *testing.T) {
	f := &historyFixture{dir: t.TempDir(), clk: &fakeClock{}}
	f.clk.Set(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	f.opts = DefaultOptions(f.dir).WithNow(f.clk.Now).WithSyncWrites(false).WithFlushVersions(50).WithCompactInterval(time.Millisecond)
	st, err := Open(f.opts)
	require.NoError(t, err)
	defer st.Close()
	view := defineUser(t, st, 0)
	f.ents = oracleEntities(t, view)
	f.base = f.clk.Now().UnixNano()
	rng := rand.New(rand.NewPCG(8, 8))
	bdir := t.TempDir()

	f.all = writeRandomHistory(t, st, f.clk, view, f.ents, rng, 60, nil)
	full, fullInfo := backupTo(t, st, bdir, "full", nil)
	require.Zero(t, fullInfo.Since)

	more := writeRandomHistory(t, st, f.clk, view, f.ents, rng, 60, nil)
	f.all = append(f.all, more...)
	inc1, inc1Info := backupTo(t, st, bdir, "inc1", &fullInfo)
	require.Equal(t, fullInfo.NextSince, inc1Info.Since)
	require.Less(t, inc1Info.Keys, fullInfo.Keys+int64(len(more))+10, "an incremental backup holds what changed")

	_, _, err = st.CreateSplit(Split{Name: "late", Start: 0, End: f.clk.Now().UnixNano()})
	require.NoError(t, err)
	more = writeRandomHistory(t, st, f.clk, view, f.ents, rng, 60, nil)
	f.all = append(f.all, more...)
	inc2, inc2Info := backupTo(t, st, bdir, "inc2", &inc1Info)
	f.end = f.clk.Now().UnixNano()
	require.Equal(t, st.Watermark(), inc2Info.Watermark)

	restoreAndCheck(t, f, []string{full}, fullInfo)
	restoreAndCheck(t, f, []string{full, inc1}, inc1Info)
	restoreAndCheck(t, f, []string{full, inc1, inc2}, inc2Info)

	// Broken chains are refused before anything is written.
	for _, chain := range [][]string{{inc1}, {full, inc2}, {full, inc2, inc1}} {
		dir := filepath.Join(t.TempDir(), "r")
		_, err := Restore(dir, chain)
		require.ErrorIs(t, err, ErrInvalid)
		_, statErr := os.Stat(dir)
		require.ErrorIs(t, statErr, os.ErrNotExist)
	}
	// A backup of another store does not continue this chain.
	other, err := Open(DefaultOptions(t.TempDir()).WithSyncWrites(false))
	require.NoError(t, err)
	defer other.Close()
	_, err = other.Backup(context.Background(), new(discard), &fullInfo)
	require.ErrorIs(t, err, ErrInvalid)
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// TestDamagedBackupRefused: a backup with a flipped byte or cut short is
// refused whole, and nothing is restored.
func TestDamagedBackupRefused(t *testing.T) {
	f := faultImage(t, false)
	st, err := Open(f.opts)
	require.NoError(t, err)
	path, _ := backupTo(t, st, t.TempDir(), "full", nil)
	require.NoError(t, st.Close())
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	for name, damage := range map[string]func([]byte) []byte{
		"flipped body":   func(b []byte) []byte { b[len(b)/2] ^= 1; return b },
		"flipped footer": func(b []byte) []byte { b[len(b)-backupTail-5] ^= 1; return b },
		"cut short":      func(b []byte) []byte { return b[:len(b)*2/3] },
		"empty":          func(b []byte) []byte { return nil },
	} {
		t.Run(name, func(t *testing.T) {
			bad := filepath.Join(t.TempDir(), "bad")
			require.NoError(t, os.WriteFile(bad, damage(append([]byte(nil), b...)), 0o644))
			dir := filepath.Join(t.TempDir(), "r")
			_, err := Restore(dir, []string{bad})
			require.ErrorIs(t, err, ErrDataLoss)
			require.Contains(t, err.Error(), "damaged or incomplete")
			_, statErr := os.Stat(dir)
			require.ErrorIs(t, statErr, os.ErrNotExist)
		})
	}
}

// TestRestoreAfterDamage: the recovery path for a store refused at open
// (here its MANIFEST is gone, and in the other case its log lost
// acknowledged writes) is a restore of the latest backup into a new
// directory; the restored store serves every version the backup holds.
func TestRestoreAfterDamage(t *testing.T) {
	for _, crash := range []bool{false, true} {
		f := faultImage(t, crash)
		// The backup is taken of the same store, as it ran.
		st, err := Open(f.clone(t).opts)
		require.NoError(t, err)
		path, info := backupTo(t, st, t.TempDir(), "full", nil)
		require.NoError(t, st.Close())
		if crash {
			wal := only(t, f.dir, "*.mem")
			require.NoError(t, os.Truncate(wal, walExtent(t, wal)/2))
		} else {
			require.NoError(t, os.Remove(filepath.Join(f.dir, badger.ManifestFilename)))
		}
		f.refused(t, "timefence restore")
		restoreAndCheck(t, f, []string{path}, info)
	}
}

// TestVerifyFindsInconsistencies: Verify reports a version of an unknown
// view, one above the watermark, and a history that disagrees with Badger.
func TestVerifyFindsInconsistencies(t *testing.T) {
	f := faultImage(t, false)
	st, err := Open(f.opts)
	require.NoError(t, err)
	defer st.Close()
	rep, err := st.Verify(context.Background())
	require.NoError(t, err)
	require.Empty(t, rep.Problems)
	require.EqualValues(t, len(f.all), rep.Versions)

	view, err := st.View("stats")
	require.NoError(t, err)
	key, err := view.EncodeKey(f.ents[0].vals)
	require.NoError(t, err)
	chunk := func(viewID uint32, seq uint64) (k, v []byte) {
		require.NoError(t, writeChunks(viewID, 1, 1, []encodedRow{{key: key, event: 1, value: []byte{0}}}, seq, func(key, value []byte) error {
			k, v = key, value
			return nil
		}))
		return k, v
	}
	require.NoError(t, st.db.Update(func(txn *badger.Txn) error {
		if err := txn.Set(chunk(99, 1)); err != nil {
			return err
		}
		return txn.Set(chunk(view.ID, st.Watermark()+5))
	}))
	rep, err = st.Verify(context.Background())
	require.NoError(t, err)
	require.Len(t, rep.Problems, 2, "%q", rep.Problems)
	require.Contains(t, rep.Problems[0], "above the watermark")
	require.Contains(t, rep.Problems[1], "view id 99, which is not defined")

	// A committed version Badger holds but the history does not.
	require.NoError(t, st.db.Update(func(txn *badger.Txn) error {
		return txn.Set(chunk(view.ID, 1))
	}))
	rep, err = st.Verify(context.Background())
	require.NoError(t, err)
	require.Contains(t, rep.Problems[len(rep.Problems)-1], "history holds")

	// A flipped byte in a chunk whose versions the run files hold.
	require.NoError(t, st.db.Update(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: chunkPrefix(view.ID)})
		defer it.Close()
		it.Seek(chunkKey(view.ID, 2, 0))
		val, err := it.Item().ValueCopy(nil)
		if err != nil {
			return err
		}
		val[len(val)/2] ^= 0x5a
		return txn.Set(it.Item().KeyCopy(nil), val)
	}))
	rep, err = st.Verify(context.Background())
	require.NoError(t, err)
	require.True(t, slices.ContainsFunc(rep.Problems, func(p string) bool { return strings.Contains(p, "fails its checksum") }), "%q", rep.Problems)
}
