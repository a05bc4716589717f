package storage

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/timefence/timefence/internal/tmpfs"
)

// replicaFixture is a primary store and a replica of it.
type replicaFixture struct {
	f       *historyFixture
	primary *Store
	rdir    string
	ropts   Options
	bdir    string
	n       int
}

// newReplicaFixture opens a primary and makes a replica from a full backup
// taken before any definition, so that the view arrives with an increment.
func newReplicaFixture(t *testing.T) (*replicaFixture, *Store) {
	f := &historyFixture{dir: t.TempDir(), clk: &fakeClock{}}
	f.clk.Set(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	f.opts = DefaultOptions(f.dir).WithNow(f.clk.Now).WithSyncWrites(false).WithFlushVersions(50).WithCompactInterval(time.Millisecond)
	primary, err := Open(f.opts)
	require.NoError(t, err)
	t.Cleanup(func() { primary.Close() })
	rf := &replicaFixture{f: f, primary: primary, rdir: filepath.Join(t.TempDir(), "replica"), bdir: t.TempDir()}
	rf.ropts = f.opts.withDir(rf.rdir)
	rf.ropts.ReplicaOf = "primary.example:7070"
	full, info := backupTo(t, primary, rf.bdir, "full", nil)
	got, err := InitReplica(rf.rdir, full)
	require.NoError(t, err)
	require.Equal(t, info, got)
	replica, err := Open(rf.ropts)
	require.NoError(t, err)
	t.Cleanup(func() { replica.Close() })
	last, ok := replica.ReplicaInfo()
	require.True(t, ok)
	require.Equal(t, info, last)
	require.Equal(t, primary.ID(), replica.ID())
	return rf, replica
}

// increment takes the next incremental backup of the primary after the
// replica's last one and returns its path.
func (rf *replicaFixture) increment(t *testing.T, replica *Store) (string, BackupInfo) {
	last, ok := replica.ReplicaInfo()
	require.True(t, ok)
	rf.n++
	return backupTo(t, rf.primary, rf.bdir, "inc"+string(rune('a'+rf.n)), &last)
}

// TestReplicaMatchesOracle follows a primary through random histories
// (late data, ties, backfills, tombstones), a new view, a split and a
// manifest: after each increment, every read on the replica at its
// watermark is the oracle's, also after a restart.
func TestReplicaMatchesOracle(t *testing.T) {
	rf, replica := newReplicaFixture(t)
	f, ctx := rf.f, context.Background()
	view := defineUser(t, rf.primary, 0)
	f.ents = oracleEntities(t, view)
	f.base = f.clk.Now().UnixNano()
	rng := rand.New(rand.NewPCG(11, 11))

	check := func(replica *Store) {
		t.Helper()
		w := replica.Watermark()
		rep, err := replica.Verify(ctx)
		require.NoError(t, err)
		require.Empty(t, rep.Problems)
		rview, err := replica.View("stats")
		require.NoError(t, err)
		checkOracle(t, replica, rview, f.ents, upTo(f.all, w), f.base, f.end, rand.New(rand.NewPCG(w, 1)), 4, 200)
	}
	for round := range 4 {
		f.all = append(f.all, writeRandomHistory(t, rf.primary, f.clk, view, f.ents, rng, 40, nil)...)
		f.end = f.clk.Now().UnixNano()
		if round == 1 {
			_, _, err := rf.primary.CreateSplit(Split{Name: "train", Start: f.base, End: f.end})
			require.NoError(t, err)
			_, err = rf.primary.PutManifest(Manifest{DatasetID: "ds1", Split: Split{Name: "train"}, Watermark: rf.primary.Watermark()})
			require.NoError(t, err)
		}
		path, info := rf.increment(t, replica)
		changes := replica.Changes()
		got, err := replica.ApplyIncrement(ctx, path)
		require.NoError(t, err)
		require.Equal(t, info, got)
		require.Equal(t, rf.primary.Watermark(), replica.Watermark())
		select {
		case <-changes:
		default:
			t.Fatal("an applied increment is a change")
		}
		check(replica)
		if round == 2 {
			// A restart keeps what was applied and where to go on from.
			require.NoError(t, replica.Close())
			replica, err = Open(rf.ropts)
			require.NoError(t, err)
			t.Cleanup(func() { replica.Close() })
			last, ok := replica.ReplicaInfo()
			require.True(t, ok)
			require.Equal(t, info, last)
			check(replica)
		}
	}
	sp, err := replica.Split("train")
	require.NoError(t, err)
	require.Equal(t, f.base, sp.Start)
	m, err := replica.Manifest("ds1")
	require.NoError(t, err)
	require.Equal(t, "train", m.Split.Name)

	// An increment with nothing in it moves the position only.
	path, info := rf.increment(t, replica)
	require.Zero(t, info.Keys)
	_, err = replica.ApplyIncrement(ctx, path)
	require.NoError(t, err)
	last, _ := replica.ReplicaInfo()
	require.Equal(t, info.NextSince, last.NextSince)
}

// TestReplicaRefusals: writes and definition changes are refused naming the
// primary; increments that are damaged, out of order or of another store
// are refused whole.
func TestReplicaRefusals(t *testing.T) {
	rf, replica := newReplicaFixture(t)
	ctx := context.Background()
	view := defineUser(t, rf.primary, 0)
	ents := oracleEntities(t, view)
	rf.f.all = writeRandomHistory(t, rf.primary, rf.f.clk, view, ents, rand.New(rand.NewPCG(2, 2)), 10, nil)
	inc1, _ := rf.increment(t, replica)
	_, err := replica.ApplyIncrement(ctx, inc1)
	require.NoError(t, err)

	_, err = replica.Write(ctx, Batch{View: "stats", Rows: []Row{{Key: ents[0].vals, EventTime: 1, Values: []Value{Int64(1), Float64(1), String("x")}}}})
	require.ErrorIs(t, err, ErrReadOnly)
	require.ErrorContains(t, err, "read replica")
	require.ErrorContains(t, err, "primary.example:7070")
	_, _, err = replica.CreateSplit(Split{Name: "s", Start: 0, End: 1})
	require.ErrorIs(t, err, ErrReadOnly)
	require.ErrorIs(t, replica.AppendLog([]LogRecord{{ReadTime: 1, RequestID: "r", Data: []byte("x")}}), ErrReadOnly)

	writeRandomHistory(t, rf.primary, rf.f.clk, view, ents, rand.New(rand.NewPCG(3, 3)), 10, nil)
	inc2, _ := rf.increment(t, replica)
	w := replica.Watermark()

	// Applied twice: the second no longer follows.
	_, err = replica.ApplyIncrement(ctx, inc1)
	require.ErrorIs(t, err, ErrInvalid)
	require.ErrorContains(t, err, "does not follow")

	// A flipped byte, a cut file.
	b, err := os.ReadFile(inc2)
	require.NoError(t, err)
	flipped := filepath.Join(t.TempDir(), "flipped")
	b[len(b)/2] ^= 0x40
	require.NoError(t, os.WriteFile(flipped, b, 0o644))
	_, err = replica.ApplyIncrement(ctx, flipped)
	require.ErrorIs(t, err, ErrDataLoss)
	b[len(b)/2] ^= 0x40
	cut := filepath.Join(t.TempDir(), "cut")
	require.NoError(t, os.WriteFile(cut, b[:len(b)-3], 0o644))
	_, err = replica.ApplyIncrement(ctx, cut)
	require.ErrorIs(t, err, ErrDataLoss)

	// Of another store.
	other, err := Open(DefaultOptions(t.TempDir()).WithSyncWrites(false))
	require.NoError(t, err)
	defer other.Close()
	foreign, _ := backupTo(t, other, t.TempDir(), "foreign", nil)
	_, err = replica.ApplyIncrement(ctx, foreign)
	require.ErrorIs(t, err, ErrInvalid)
	require.Equal(t, w, replica.Watermark(), "nothing of a refused increment is applied")

	_, err = replica.ApplyIncrement(ctx, inc2)
	require.NoError(t, err)
	require.Equal(t, rf.primary.Watermark(), replica.Watermark())

	// A non-empty directory does not become a replica; the primary is not one.
	_, err = InitReplica(rf.f.dir, inc1)
	require.ErrorIs(t, err, ErrInvalid)
	_, err = rf.primary.ApplyIncrement(ctx, inc2)
	require.ErrorIs(t, err, ErrInvalid)
}

// TestPromote: a promoted replica takes writes, its seqs and commit times
// going on from the primary's, and a backup of a replica restores as an
// ordinary store.
func TestPromote(t *testing.T) {
	rf, replica := newReplicaFixture(t)
	ctx := context.Background()
	view := defineUser(t, rf.primary, 0)
	ents := oracleEntities(t, view)
	rf.f.all = writeRandomHistory(t, rf.primary, rf.f.clk, view, ents, rand.New(rand.NewPCG(4, 4)), 20, nil)
	inc, info := rf.increment(t, replica)
	_, err := replica.ApplyIncrement(ctx, inc)
	require.NoError(t, err)

	fromReplica, _ := backupTo(t, replica, t.TempDir(), "of-replica", nil)
	rdir := filepath.Join(t.TempDir(), "restored")
	_, err = Restore(rdir, []string{fromReplica})
	require.NoError(t, err)
	restored, err := Open(DefaultOptions(rdir).WithSyncWrites(false))
	require.NoError(t, err)
	_, isReplica := restored.ReplicaInfo()
	require.False(t, isReplica)
	require.NoError(t, restored.Close())

	_, err = Promote(rf.rdir)
	require.Error(t, err, "a store in use is not promoted")
	require.NoError(t, replica.Close())
	got, err := Promote(rf.rdir)
	require.NoError(t, err)
	require.Equal(t, info.Watermark, got.Watermark)
	_, err = Promote(rf.rdir)
	require.ErrorIs(t, err, ErrInvalid, "promoted once")

	promoted, err := Open(rf.ropts)
	require.NoError(t, err)
	defer promoted.Close()
	last := rf.f.all[len(rf.f.all)-1]
	res, err := promoted.Write(ctx, Batch{View: "stats", Rows: []Row{{Key: ents[0].vals, EventTime: last.event, Values: []Value{Int64(1), Float64(1), String("x")}}}})
	require.NoError(t, err)
	require.Equal(t, info.Watermark+1, res.FirstSeq)
	require.GreaterOrEqual(t, res.CommitTime, last.available)
}

// TestReplicaOnFullDisk fills a small tmpfs holding the replica: an
// increment is refused with ErrStorageFull, nothing of it applied, reads go
// on at the old watermark, and once space returns the same increment
// applies.
func TestReplicaOnFullDisk(t *testing.T) {
	mnt := tmpfs.Mount(t, "96m")
	f := &historyFixture{dir: t.TempDir(), clk: &fakeClock{}}
	f.clk.Set(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	f.opts = DefaultOptions(f.dir).WithNow(f.clk.Now).WithSyncWrites(false)
	primary, err := Open(f.opts)
	require.NoError(t, err)
	defer primary.Close()
	view := defineUser(t, primary, 0)
	f.ents = oracleEntities(t, view)
	f.base = f.clk.Now().UnixNano()
	rng := rand.New(rand.NewPCG(21, 21))
	f.all = writeRandomHistory(t, primary, f.clk, view, f.ents, rng, 30, nil)
	bdir := t.TempDir()
	full, _ := backupTo(t, primary, bdir, "full", nil)
	rdir := filepath.Join(mnt, "replica")
	_, err = InitReplica(rdir, full)
	require.NoError(t, err)
	replica, err := Open(DefaultOptions(rdir).WithNow(f.clk.Now).WithMemTableBytes(2 << 20).WithReserveBytes(16 << 20))
	require.NoError(t, err)
	defer replica.Close()
	w := replica.Watermark()

	f.all = append(f.all, writeRandomHistory(t, primary, f.clk, view, f.ents, rng, 30, nil)...)
	f.end = f.clk.Now().UnixNano()
	last, _ := replica.ReplicaInfo()
	inc, info := backupTo(t, primary, bdir, "inc", &last)

	filler := tmpfs.Fill(t, mnt, 4<<20)
	_, err = replica.ApplyIncrement(context.Background(), inc)
	require.ErrorIs(t, err, ErrStorageFull)
	require.Equal(t, w, replica.Watermark())
	rview, err := replica.View("stats")
	require.NoError(t, err)
	checkOracle(t, replica, rview, f.ents, upTo(f.all, w), f.base, f.end, rand.New(rand.NewPCG(1, 2)), 2, 100)

	require.NoError(t, os.Remove(filler))
	_, err = replica.ApplyIncrement(context.Background(), inc)
	require.NoError(t, err)
	require.Equal(t, info.Watermark, replica.Watermark())
	checkOracle(t, replica, rview, f.ents, f.all, f.base, f.end, rand.New(rand.NewPCG(1, 3)), 2, 100)
}

// TestReplicaManifestRace: a join on a replica records the manifest of a
// dataset while the primary's manifest of the same dataset id arrives with
// an increment. Both writes succeed, whatever their order.
func TestReplicaManifestRace(t *testing.T) {
	rf, replica := newReplicaFixture(t)
	ctx := context.Background()
	for i := range 40 {
		m := Manifest{DatasetID: fmt.Sprintf("ds%d", i), Kind: "historical", Watermark: rf.primary.Watermark()}
		_, err := rf.primary.PutManifest(m)
		require.NoError(t, err)
		inc, _ := rf.increment(t, replica)
		var wg sync.WaitGroup
		var applyErr, putErr error
		wg.Add(2)
		go func() { defer wg.Done(); _, applyErr = replica.ApplyIncrement(ctx, inc) }()
		go func() { defer wg.Done(); _, putErr = replica.PutManifest(m) }()
		wg.Wait()
		require.NoError(t, applyErr)
		require.NoError(t, putErr, "round %d", i)
	}
}
