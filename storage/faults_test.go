package storage

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/timefence/timefence/internal/filescan"

	"github.com/dgraph-io/badger/v4"
	"github.com/stretchr/testify/require"

	"github.com/timefence/timefence/internal/tmpfs"
)

// Each test here damages a copy of a real store the way a disk, a kill or an
// operator would, and checks that Open refuses it with ErrDataLoss, recovers
// it with every read right, or, for a full disk, refuses writes cleanly.
// Nothing here may end in a wrong read, a crash, or a silently smaller store.

// faultImage writes a random history and leaves the store as a clean close
// does (crash false: Badger's data in table files) or as a kill -9 does
// (crash true: a copy taken while the store is open, with the last batches
// only in Badger's write-ahead log). The run files are removed, so every read
// after reopening comes from Badger's files alone.
func faultImage(t *testing.T, crash bool) *historyFixture {
	f := &historyFixture{dir: t.TempDir(), clk: &fakeClock{}}
	f.clk.Set(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	// Small memtables keep the preallocated log files small to copy. Without
	// fsync, a copy still sees every write, as a kill -9 leaves them.
	f.opts = DefaultOptions(f.dir).WithNow(f.clk.Now).WithCompactInterval(time.Hour).WithFlushIdle(time.Hour).
		WithMemTableBytes(4 << 20).WithSyncWrites(false)
	st, err := Open(f.opts)
	require.NoError(t, err)
	view := defineUser(t, st, 0)
	f.ents = oracleEntities(t, view)
	f.base = f.clk.Now().UnixNano()
	f.all = writeRandomHistory(t, st, f.clk, view, f.ents, rand.New(rand.NewPCG(5, 5)), 300, nil)
	f.end = f.clk.Now().UnixNano()
	if crash {
		img := t.TempDir()
		require.NoError(t, os.CopyFS(img, os.DirFS(f.dir)))
		require.NoError(t, st.close(false))
		f.dir, f.opts.Dir = img, img
	} else {
		require.NoError(t, st.Close())
	}
	require.NoError(t, os.RemoveAll(filepath.Join(f.dir, "history")))
	return f
}

// clone copies the image into a new directory, for one fault.
func (f *historyFixture) clone(t *testing.T) *historyFixture {
	g := *f
	g.dir = t.TempDir()
	g.opts.Dir = g.dir
	require.NoError(t, os.CopyFS(g.dir, os.DirFS(f.dir)))
	return &g
}

// only returns the one file of dir matching pattern.
func only(t *testing.T, dir, pattern string) string {
	m, err := filepath.Glob(filepath.Join(dir, pattern))
	require.NoError(t, err)
	require.Len(t, m, 1, "files matching %s", pattern)
	return m[0]
}

func flipByte(t *testing.T, path string, off int64) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	require.NoError(t, err)
	defer f.Close()
	b := []byte{0}
	_, err = f.ReadAt(b, off)
	require.NoError(t, err)
	b[0] ^= 0x5a
	_, err = f.WriteAt(b, off)
	require.NoError(t, err)
}

// refused opens the store and requires a refusal wrapping ErrDataLoss whose
// message contains each of want.
func (f *historyFixture) refused(t *testing.T, want ...string) error {
	t.Helper()
	st, err := Open(f.opts)
	if err == nil {
		st.Close()
	}
	require.ErrorIs(t, err, ErrDataLoss)
	for _, w := range want {
		require.Contains(t, err.Error(), w)
	}
	return err
}

func TestIntactImagesOpen(t *testing.T) {
	for _, crash := range []bool{false, true} {
		f := faultImage(t, crash)
		f.reopenAndCheck(t)
	}
}

// TestDamagedTableRefused flips one byte at a time across a table file: each
// flip is refused at open, naming the file. Badger's own reads treat a block
// that fails its checksum as the end of the data, so without the check a
// flip reads as missing versions or an empty store.
func TestDamagedTableRefused(t *testing.T) {
	img := faultImage(t, false)
	sst := filepath.Base(only(t, img.dir, "*.sst"))
	info, err := os.Stat(filepath.Join(img.dir, sst))
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(7, 7))
	offsets := []int64{0, info.Size() / 2, info.Size() - 1}
	for range 12 {
		offsets = append(offsets, rng.Int64N(info.Size()))
	}
	for _, off := range offsets {
		f := img.clone(t)
		flipByte(t, filepath.Join(f.dir, sst), off)
		f.refused(t, sst)
	}
}

// TestTruncatedTableRefused: Badger panics in a background goroutine on a
// truncated table; the store refuses it first, naming the file.
func TestTruncatedTableRefused(t *testing.T) {
	img := faultImage(t, false)
	for _, frac := range []float64{0, 0.5, 0.99} {
		f := img.clone(t)
		path := only(t, f.dir, "*.sst")
		info, err := os.Stat(path)
		require.NoError(t, err)
		require.NoError(t, os.Truncate(path, int64(frac*float64(info.Size()))))
		f.refused(t, filepath.Base(path))
	}
}

// TestDamagedManifestRefused: with its MANIFEST gone or cut short, Badger
// opens an empty store and deletes the table files it no longer lists. The
// store refuses instead, and the table file is still on disk afterwards.
func TestDamagedManifestRefused(t *testing.T) {
	img := faultImage(t, false)
	sst := filepath.Base(only(t, img.dir, "*.sst"))
	stillThere := func(t *testing.T, dir string) {
		_, err1 := os.Stat(filepath.Join(dir, sst))
		_, err2 := os.Stat(filepath.Join(dir, orphanDir, sst))
		require.True(t, err1 == nil || err2 == nil, "the table file must survive the refused open")
	}
	manifest := func(dir string) string { return filepath.Join(dir, badger.ManifestFilename) }

	t.Run("deleted", func(t *testing.T) {
		f := img.clone(t)
		require.NoError(t, os.Remove(manifest(f.dir)))
		f.refused(t, "no MANIFEST")
		f.refused(t, "no MANIFEST") // and again: nothing was changed
		stillThere(t, f.dir)
	})
	t.Run("cut to its header", func(t *testing.T) {
		f := img.clone(t)
		require.NoError(t, os.Truncate(manifest(f.dir), 8))
		f.refused(t, "acknowledged writes")
		f.refused(t, "acknowledged writes")
		stillThere(t, f.dir)
	})
	t.Run("cut short", func(t *testing.T) {
		f := img.clone(t)
		info, err := os.Stat(manifest(f.dir))
		require.NoError(t, err)
		require.NoError(t, os.Truncate(manifest(f.dir), info.Size()/2))
		f.refused(t)
		stillThere(t, f.dir)
	})
	t.Run("flipped", func(t *testing.T) {
		f := img.clone(t)
		info, err := os.Stat(manifest(f.dir))
		require.NoError(t, err)
		flipByte(t, manifest(f.dir), info.Size()-3)
		f.refused(t)
		stillThere(t, f.dir)
	})
}

// walExtent returns the length of the written part of a preallocated,
// zero-filled write-ahead log file.
func walExtent(t *testing.T, path string) int64 {
	n, err := filescan.WrittenLen(path)
	require.NoError(t, err)
	require.Positive(t, n)
	return n
}

// TestDamagedLogRefused: Badger ends its write-ahead log at the first entry
// that fails its checksum and drops everything after it, acknowledged or
// not, without an error. The acknowledged-writes record turns that into a
// refusal that says which writes are missing.
func TestDamagedLogRefused(t *testing.T) {
	img := faultImage(t, true)
	wal := filepath.Base(only(t, img.dir, "*.mem"))
	n := walExtent(t, filepath.Join(img.dir, wal))

	for _, off := range []int64{n / 3, n / 2, n - 40} {
		f := img.clone(t)
		flipByte(t, filepath.Join(f.dir, wal), off)
		err := f.refused(t, "were acknowledged", "are lost")
		f.refused(t, err.Error()) // the next open refuses the same way
	}
	t.Run("truncated", func(t *testing.T) {
		f := img.clone(t)
		require.NoError(t, os.Truncate(filepath.Join(f.dir, wal), n/2))
		f.refused(t, "are lost")
	})
}

// TestEmptyLogFileFromInterruptedStart: a kill while Badger creates a new
// memtable leaves a 0-byte log file, which Badger refuses to open past. It
// holds nothing, so the store removes it and opens with every read right.
func TestEmptyLogFileFromInterruptedStart(t *testing.T) {
	f := faultImage(t, true).clone(t)
	require.NoError(t, os.WriteFile(filepath.Join(f.dir, "00099.mem"), nil, 0o644))
	f.reopenAndCheck(t)
	_, err := os.Stat(filepath.Join(f.dir, "00099.mem"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

// TestAckRecord covers the record itself: a torn slot is survived, a record
// damaged whole or belonging to another store is refused, and a missing one
// is written again.
func TestAckRecord(t *testing.T) {
	img := faultImage(t, false)
	ack := func(dir string) string { return filepath.Join(dir, ackFileName) }

	t.Run("one slot torn", func(t *testing.T) {
		for slot := int64(0); slot < 2; slot++ {
			f := img.clone(t)
			flipByte(t, ack(f.dir), slot*ackSlot+30)
			f.reopenAndCheck(t)
		}
	})
	t.Run("both slots damaged", func(t *testing.T) {
		f := img.clone(t)
		flipByte(t, ack(f.dir), 30)
		flipByte(t, ack(f.dir), ackSlot+30)
		f.refused(t, "is damaged", "remove "+ackFileName)
		require.NoError(t, os.Remove(ack(f.dir)))
		f.reopenAndCheck(t)
	})
	t.Run("another store's record", func(t *testing.T) {
		f := img.clone(t)
		other, err := Open(DefaultOptions(t.TempDir()))
		require.NoError(t, err)
		otherDir := other.opts.Dir
		require.NoError(t, other.Close())
		b, err := os.ReadFile(ack(otherDir))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(ack(f.dir), b, 0o644))
		f.refused(t, "two stores are mixed")
	})
	t.Run("missing", func(t *testing.T) {
		f := img.clone(t)
		require.NoError(t, os.Remove(ack(f.dir)))
		st := f.reopenAndCheck(t)
		id, seq, reg, ok, err := readAckFile(f.dir)
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, st.ID(), id.String())
		require.Equal(t, st.Watermark(), seq)
		require.Equal(t, uint64(2), reg, "defineUser applied an entity and a view")
	})
}

// TestRolledBackRegistryRefused: Badger's files rolled back to before an
// acknowledged registry change, with no write since (so the seqs agree),
// are refused at open, naming the lost generation; an intact store opens.
func TestRolledBackRegistryRefused(t *testing.T) {
	dir := t.TempDir()
	opts := DefaultOptions(dir).WithCompactInterval(time.Hour)
	st, err := Open(opts)
	require.NoError(t, err)
	defineUser(t, st, 0)
	require.NoError(t, st.Close())
	before := t.TempDir()
	require.NoError(t, os.CopyFS(before, os.DirFS(dir)))

	st, err = Open(opts)
	require.NoError(t, err)
	_, _, err = st.CreateSplit(Split{Name: "train", Start: 0, End: 100})
	require.NoError(t, err)
	_, _, err = st.CreateSplit(Split{Name: "train", Start: 0, End: 100})
	require.NoError(t, err, "an unchanged split changes nothing")
	require.NoError(t, st.Close())
	_, _, reg, _, err := readAckFile(dir)
	require.NoError(t, err)
	require.Equal(t, uint64(3), reg)

	// The data directory as it was before the split, with today's record.
	rolled := t.TempDir()
	require.NoError(t, os.CopyFS(rolled, os.DirFS(before)))
	ack, err := os.ReadFile(filepath.Join(dir, ackFileName))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(rolled, ackFileName), ack, 0o644))
	_, err = Open(DefaultOptions(rolled))
	require.ErrorIs(t, err, ErrDataLoss)
	require.ErrorContains(t, err, "holds registry generation 2, but changes to the definitions up to generation 3 were acknowledged")

	st, err = Open(opts)
	require.NoError(t, err)
	_, err = st.Split("train")
	require.NoError(t, err)
	require.NoError(t, st.Close())
}

// TestFullDiskRefusesWrites fills a small tmpfs holding the whole data
// directory. Writes are refused with ErrStorageFull while Badger still has
// room to flush; no write is half done, every read stays right, the store
// closes and reopens, and writes resume once space returns. Without the
// reserve, Badger dies with SIGBUS writing its memory-mapped log.
func TestFullDiskRefusesWrites(t *testing.T) {
	dir := tmpfs.Mount(t, "48m")

	clk := &fakeClock{}
	clk.Set(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	opts := DefaultOptions(dir).WithNow(clk.Now).WithMemTableBytes(2 << 20).WithReserveBytes(16 << 20).
		WithFlushVersions(64).WithCompactInterval(time.Millisecond)
	st, err := Open(opts)
	require.NoError(t, err)
	view := defineUser(t, st, 0)
	ents := oracleEntities(t, view)
	base := clk.Now().UnixNano()
	pad := String(strings.Repeat("x", 16<<10))
	var all []oracleVersion
	write := func(b int) error {
		clk.Advance(time.Second)
		e := ents[b%len(ents)]
		vals := []Value{Int64(int64(b)), {}, pad}
		res, err := st.Write(context.Background(), Batch{View: "stats", Rows: []Row{{Key: e.vals, EventTime: clk.Now().UnixNano(), Values: vals}}})
		if err == nil {
			all = append(all, oracleVersion{key: e.enc, event: clk.Now().UnixNano(), available: res.CommitTime, seq: res.FirstSeq, values: vals})
		}
		return err
	}
	var refused error
	for b := 0; b < 20000 && refused == nil; b++ {
		refused = write(b)
	}
	require.ErrorIs(t, refused, ErrStorageFull)
	require.Contains(t, refused.Error(), dir)
	require.Contains(t, refused.Error(), "reserve")
	require.Greater(t, len(all), 100, "the disk filled only after many writes")
	require.ErrorIs(t, write(0), ErrStorageFull, "writes stay refused while the disk is full")
	rng := rand.New(rand.NewPCG(1, 1))
	checkOracle(t, st, view, ents, all, base, clk.Now().UnixNano(), rng, 3, 100)

	// Restart on the full disk: Badger flushes and the store opens.
	require.NoError(t, st.Close())
	st, err = Open(opts)
	require.NoError(t, err)
	defer st.Close()
	view, err = st.View("stats")
	require.NoError(t, err)
	checkOracle(t, st, view, ents, all, base, clk.Now().UnixNano(), rng, 3, 100)

	out, err := exec.Command("mount", "-o", "remount,size=256m", dir).CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.NoError(t, write(1), "writes resume once space returns")
	checkOracle(t, st, view, ents, all, base, clk.Now().UnixNano(), rng, 3, 100)
}

// TestReserveLevels: batches are refused while the whole reserve is free,
// but the small registry records joins need may use half of it.
func TestReserveLevels(t *testing.T) {
	dir := t.TempDir()
	free, err := freeBytes(dir)
	require.NoError(t, err)
	st, err := Open(DefaultOptions(dir).WithSyncWrites(false).WithReserveBytes(free + free/2))
	require.NoError(t, err)
	defer st.Close()
	defineUser(t, st, 0)
	_, err = st.Write(context.Background(), Batch{View: "stats", Rows: []Row{{Key: []Value{Int64(1), String("a")}, EventTime: 1, Values: []Value{{}, {}, {}}}}})
	require.True(t, errors.Is(err, ErrStorageFull), "%v", err)
	require.Contains(t, err.Error(), dir+" has ")
	require.Contains(t, err.Error(), "reserve")
	_, _, err = st.CreateSplit(Split{Name: "train", Start: 0, End: 10})
	require.NoError(t, err)
}
