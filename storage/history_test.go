package storage

import (
	"bytes"
	"cmp"
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// historyFixture writes a random history, compacts it into one run file
// and closes the store; reopen opens it again.
type historyFixture struct {
	dir       string
	opts      Options
	clk       *fakeClock
	all       []oracleVersion
	ents      []oracleEntity
	base, end int64
}

func newHistoryFixture(t *testing.T) *historyFixture {
	f := &historyFixture{dir: t.TempDir(), clk: &fakeClock{}}
	f.clk.Set(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	f.opts = DefaultOptions(f.dir).WithNow(f.clk.Now).WithCompactInterval(time.Hour).WithFlushIdle(time.Hour)
	st, err := Open(f.opts)
	require.NoError(t, err)
	view := defineUser(t, st, 0)
	f.ents = oracleEntities(t, view)
	f.base = f.clk.Now().UnixNano()
	f.all = writeRandomHistory(t, st, f.clk, view, f.ents, rand.New(rand.NewPCG(3, 3)), 80, nil)
	f.end = f.clk.Now().UnixNano()
	require.NoError(t, st.Compact())
	require.NoError(t, st.Close())
	return f
}

// runFile returns the path of the view's only run file.
func (f *historyFixture) runFile(t *testing.T) string {
	paths, err := filepath.Glob(filepath.Join(f.dir, "history", "*", "*"+runExt))
	require.NoError(t, err)
	require.Len(t, paths, 1)
	return paths[0]
}

// reopenAndCheck opens the store and checks every read against the oracle.
func (f *historyFixture) reopenAndCheck(t *testing.T) *Store {
	st, err := Open(f.opts)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	view, err := st.View("stats")
	require.NoError(t, err)
	checkOracle(t, st, view, f.ents, f.all, f.base, f.end, rand.New(rand.NewPCG(4, 4)), 5, 500)
	return st
}

// TestDamagedRunFileIsRebuilt flips bytes in and truncates a run file: each
// time the file is set aside at open, the view is read from Badger, every
// read is still right, and the next compaction writes a sound file again.
func TestDamagedRunFileIsRebuilt(t *testing.T) {
	damage := map[string]func(t *testing.T, path string){
		"one flipped byte in the data": func(t *testing.T, path string) {
			b, err := os.ReadFile(path)
			require.NoError(t, err)
			b[len(b)/3] ^= 0x10
			require.NoError(t, os.WriteFile(path, b, 0o644))
		},
		"flipped footer": func(t *testing.T, path string) {
			b, err := os.ReadFile(path)
			require.NoError(t, err)
			b[len(b)-runTrailer-5] ^= 0xff
			require.NoError(t, os.WriteFile(path, b, 0o644))
		},
		"truncated to half": func(t *testing.T, path string) {
			fi, err := os.Stat(path)
			require.NoError(t, err)
			require.NoError(t, os.Truncate(path, fi.Size()/2))
		},
		"empty": func(t *testing.T, path string) { require.NoError(t, os.Truncate(path, 0)) },
	}
	for name, fn := range damage {
		t.Run(name, func(t *testing.T) {
			f := newHistoryFixture(t)
			path := f.runFile(t)
			fn(t, path)
			st := f.reopenAndCheck(t)
			_, err := os.Stat(path + ".corrupt")
			require.NoError(t, err, "the damaged file is kept aside for inspection")
			hs := st.HistoryStatus()[0]
			require.Zero(t, hs.FileRuns)
			require.EqualValues(t, len(f.all), hs.TailVersions, "every version is read back from Badger")
			require.NoError(t, st.Compact())
			require.Equal(t, 1, st.HistoryStatus()[0].FileRuns)
			require.NoError(t, st.Close())
			f.reopenAndCheck(t)
		})
	}
}

// TestRunFileBeyondTheRecordIsIgnored: a run file claiming versions that
// Badger never committed (as after a crash with unsynced writes) is not
// served; the view is read from Badger.
func TestRunFileBeyondTheRecordIsIgnored(t *testing.T) {
	f := newHistoryFixture(t)
	path := f.runFile(t)
	lo, hi, ok := parseRunFileName(filepath.Base(path))
	require.True(t, ok)
	require.NoError(t, os.Rename(path, filepath.Join(filepath.Dir(path), runFileName(lo, hi+100))))
	st := f.reopenAndCheck(t)
	require.Zero(t, st.HistoryStatus()[0].FileRuns)
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "*"))
	require.Empty(t, left, "the file beyond the record is removed")
}

// TestLeftoversOfInterruptedCompaction: the files a crash can leave behind
// (a temporary file, the inputs of a merge next to its output) are cleaned
// up at open and the merged file is the one used.
func TestLeftoversOfInterruptedCompaction(t *testing.T) {
	f := newHistoryFixture(t)
	path := f.runFile(t)
	dir := filepath.Dir(path)
	lo, hi, _ := parseRunFileName(filepath.Base(path))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	// A merge's inputs: real files with the same versions split at mid.
	st, err := Open(f.opts)
	require.NoError(t, err)
	view, _ := st.View("stats")
	r, err := openRunFile(path, view.ID)
	require.NoError(t, err)
	mid := (lo + hi) / 2
	for _, part := range [][2]uint64{{lo, mid}, {mid, hi}} {
		pb := newRunBuilder(view.Features, 0)
		cols := make([]*Column, len(pb.r.cols))
		for i, c := range pb.r.cols {
			cols[i] = r.colFor(c.ID)
		}
		vals := make([]Value, len(cols))
		for k := range r.keys() {
			for i := int(r.start[k]); i < int(r.start[k+1]); i++ {
				if r.seq[i] <= part[0] || r.seq[i] > part[1] {
					continue
				}
				for c, col := range cols {
					vals[c] = col.value(i)
				}
				pb.add(r.key(k), r.event[i], r.avail[i], r.seq[i], r.flags[i], vals)
			}
		}
		_, err := writeRunFile(dir, view.ID, pb.finish(part[0], part[1]))
		require.NoError(t, err)
	}
	r.file.close()
	require.NoError(t, st.Close())
	require.NoError(t, os.WriteFile(path+".tmp", b[:len(b)/2], 0o644))

	st = f.reopenAndCheck(t)
	require.Equal(t, 1, st.HistoryStatus()[0].FileRuns, "the merged file wins")
	left, _ := filepath.Glob(filepath.Join(dir, "*"))
	require.Equal(t, []string{path}, left, "inputs and temporary files are removed")
	for _, p := range left {
		require.False(t, strings.HasSuffix(p, ".tmp"))
	}
}

// TestMergeKeepsEveryColumn: runs written before and after a feature was
// added merge into a run with every column, whatever the view's definition
// says at the time of the merge.
func TestMergeKeepsEveryColumn(t *testing.T) {
	old := []Feature{{Name: "a", Type: TypeInt64, ID: 0}}
	grown := append(slices.Clone(old), Feature{Name: "b", Type: TypeString, ID: 1})
	ba := newRunBuilder(old, 1)
	ba.add([]byte("k1"), 10, 10, 1, 0, []Value{Int64(1)})
	ra := ba.finish(0, 1)
	bb := newRunBuilder(grown, 1)
	bb.add([]byte("k1"), 20, 20, 2, 0, []Value{Int64(2), String("new")})
	rb := bb.finish(1, 2)

	m := mergeRuns([]*run{ra, rb})
	require.Len(t, m.cols, 2)
	require.NoError(t, m.check())
	require.Equal(t, []int64{20, 10}, m.event, "newest first")
	require.Equal(t, String("new"), m.colFor(1).value(0))
	require.True(t, m.colFor(1).value(1).IsNull(), "the older version has no value for the new feature")
	require.Equal(t, Int64(1), m.colFor(0).value(1))
}

// TestMergeCopiesRangesAsRowByRow: mergeRuns, which copies stretches of
// rows in bulk, builds the same run as sorting every row and copying them
// one at a time, over random runs: big ones and small ones, up to hundreds
// of runs, keys shared or not, nulls, every column type, and runs missing a
// column.
func TestMergeCopiesRangesAsRowByRow(t *testing.T) {
	feats := []Feature{{ID: 0, Type: TypeInt64}, {ID: 1, Type: TypeFloat64}, {ID: 2, Type: TypeString},
		{ID: 3, Type: TypeFloatList}, {ID: 4, Type: TypeBool}, {ID: 5, Type: TypeFloat32}, {ID: 6, Type: TypeBytes}}
	value := func(rng *rand.Rand, t Type) Value {
		if rng.IntN(5) == 0 {
			return Value{}
		}
		switch t {
		case TypeInt64:
			return Int64(rng.Int64())
		case TypeFloat64:
			return Float64(rng.Float64())
		case TypeFloat32:
			return Float32(rng.Float32())
		case TypeBool:
			return Bool(rng.IntN(2) == 0)
		case TypeFloatList:
			return FloatList(make([]float32, rng.IntN(4)))
		case TypeBytes:
			return Value{Type: TypeBytes, Str: strings.Repeat("b", rng.IntN(5))}
		}
		return String(strings.Repeat("s", rng.IntN(5)))
	}
	rng := rand.New(rand.NewPCG(4, 4))
	for round := range 200 {
		type version struct {
			key          []byte
			event, avail int64
			seq          uint64
			vals         []Value
		}
		nruns := 2 + rng.IntN(5)
		if round%10 == 0 {
			nruns = 300
		}
		runs := make([]*run, nruns)
		seq := uint64(0)
		for j := range runs {
			cols := feats
			if rng.IntN(3) == 0 {
				cols = feats[:3+rng.IntN(3)]
			}
			n := rng.IntN(5)
			if j == 0 || (nruns < 10 && rng.IntN(3) == 0) {
				n = rng.IntN(2000)
			}
			vs := make([]version, n)
			for i := range vs {
				seq++
				key := []byte{byte(rng.IntN(40)), byte(rng.IntN(256))}[:1+rng.IntN(2)]
				vals := make([]Value, len(cols))
				for c := range vals {
					vals[c] = value(rng, cols[c].Type)
				}
				vs[i] = version{key, rng.Int64N(50), rng.Int64N(50), seq, vals}
			}
			slices.SortFunc(vs, func(a, b version) int {
				if c := bytes.Compare(a.key, b.key); c != 0 {
					return c
				}
				return cmp.Or(cmp.Compare(b.event, a.event), cmp.Compare(b.avail, a.avail), cmp.Compare(b.seq, a.seq))
			})
			rb := newRunBuilder(cols, n)
			for _, v := range vs {
				rb.add(v.key, v.event, v.avail, v.seq, 0, v.vals)
			}
			runs[j] = rb.finish(uint64(j), uint64(j+1))
		}
		got := mergeRuns(runs)

		// One row at a time, into the same columns.
		var merged []Feature
		for _, c := range got.cols {
			merged = append(merged, Feature{ID: c.ID, Type: c.Type})
		}
		want := newRunBuilder(merged, 0)
		src := make([][]*Column, len(runs))
		for j, r := range runs {
			src[j] = make([]*Column, len(want.r.cols))
			for i, c := range want.r.cols {
				src[j][i] = r.colFor(c.ID)
			}
		}
		type at struct{ j, k, i int }
		var rows []at
		for j, r := range runs {
			for k := range r.keys() {
				for i := r.start[k]; i < r.start[k+1]; i++ {
					rows = append(rows, at{j, k, int(i)})
				}
			}
		}
		slices.SortFunc(rows, func(a, b at) int { return runOrder(runs[a.j], a.k, a.i, runs[b.j], b.k, b.i) })
		for _, r := range rows {
			want.addFrom(runs[r.j], r.k, r.i, src[r.j])
		}
		w := want.finish(0, uint64(nruns))
		require.NoError(t, got.check(), "round %d", round)
		require.Equal(t, w.keyData, got.keyData, "round %d", round)
		require.Equal(t, w.keyOff, got.keyOff, "round %d", round)
		require.Equal(t, w.keyHead, got.keyHead, "round %d", round)
		require.Equal(t, w.start, got.start, "round %d", round)
		require.Equal(t, w.event, got.event, "round %d", round)
		require.Equal(t, w.avail, got.avail, "round %d", round)
		require.Equal(t, w.seq, got.seq, "round %d", round)
		require.Len(t, got.cols, len(w.cols))
		for c := range w.cols {
			require.Equal(t, w.cols[c].Valid, got.cols[c].Valid, "round %d column %d", round, c)
			require.Equal(t, w.cols[c].Offsets, got.cols[c].Offsets, "round %d column %d", round, c)
			for i := range w.event {
				require.True(t, w.cols[c].value(i).Equal(got.cols[c].value(i)), "round %d column %d row %d", round, c, i)
			}
		}
	}
}

// TestFailingCompactionRefusesWrites: when run files cannot be written,
// writes go on until the view's in-memory bound, then are refused with the
// compaction's error; reads stay right all along, and once the cause is
// gone the store catches up and takes writes again. Causes: the view's
// history directory is a file, and it is a full tmpfs.
func TestFailingCompactionRefusesWrites(t *testing.T) {
	t.Run("not a directory", func(t *testing.T) {
		checkFailingCompaction(t, "not a directory", func(dir string) func() {
			require.NoError(t, os.MkdirAll(filepath.Dir(dir), 0o755))
			require.NoError(t, os.WriteFile(dir, []byte("not a directory"), 0o644))
			return func() { require.NoError(t, os.Remove(dir)) }
		})
	})
	t.Run("full disk", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("mounting a tmpfs needs root")
		}
		checkFailingCompaction(t, "no space left on device", func(dir string) func() {
			require.NoError(t, os.MkdirAll(dir, 0o755))
			if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", dir).CombinedOutput(); err != nil {
				t.Skipf("cannot mount a tmpfs here: %v: %s", err, out)
			}
			t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
			return func() { // space comes back
				out, err := exec.Command("mount", "-o", "remount,size=64m", dir).CombinedOutput()
				require.NoError(t, err, "%s", out)
			}
		})
	})
}

// checkFailingCompaction breaks run file writes with breakDir(history dir of
// the view), which returns the repair, and checks the behaviour above.
func checkFailingCompaction(t *testing.T, cause string, breakDir func(dir string) (repair func())) {
	clk := &fakeClock{}
	clk.Set(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	opts := DefaultOptions(t.TempDir()).WithNow(clk.Now).WithSyncWrites(false).WithFlushVersions(4).WithCompactInterval(time.Millisecond)
	st, err := Open(opts)
	require.NoError(t, err)
	defer st.Close()
	view := defineUser(t, st, 0)
	repair := breakDir(st.historyDir(view.ID))

	ents := oracleEntities(t, view)
	rng := rand.New(rand.NewPCG(9, 9))
	base := clk.Now().UnixNano()
	pad := String(strings.Repeat("x", 8<<10)) // fills a small disk in a few files
	var all []oracleVersion
	var refused error
	for b := 0; b < 500 && refused == nil; b++ {
		clk.Advance(time.Second)
		ev := clk.Now().UnixNano()
		e := ents[b%len(ents)]
		vals := []Value{Int64(int64(b)), {}, pad}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		res, err := st.Write(ctx, Batch{View: "stats", Rows: []Row{{Key: e.vals, EventTime: ev, Values: vals}}})
		cancel()
		if err != nil {
			refused = err
			break
		}
		all = append(all, oracleVersion{key: e.enc, event: ev, available: res.CommitTime, seq: res.FirstSeq, values: vals})
	}
	require.Error(t, refused, "writes must stop once memory is over its bound")
	require.Contains(t, refused.Error(), "cannot write them to run files")
	require.Contains(t, refused.Error(), cause)
	require.LessOrEqual(t, st.HistoryStatus()[0].TailVersions, int64(4*4+1), "memory stays bounded")
	checkOracle(t, st, view, ents, all, base, clk.Now().UnixNano(), rng, 3, 200)

	repair()
	require.Eventually(t, func() bool { return st.HistoryStatus()[0].TailVersions == 0 }, 10*time.Second, 5*time.Millisecond)
	clk.Advance(time.Second)
	_, err = st.Write(context.Background(), Batch{View: "stats", Rows: []Row{{Key: ents[0].vals, EventTime: clk.Now().UnixNano(), Values: []Value{Int64(1), {}, {}}}}})
	require.NoError(t, err, "writes resume once run files can be written")
	checkOracle(t, st, view, ents, all, base, clk.Now().UnixNano()-int64(time.Second), rng, 3, 200)
}

// TestInterleavedViewsKeepTheirRunFiles: batches of two views interleave,
// so neither view's versions start at seq 1 or follow each other; each
// view's runs still chain from 0, and a restart uses its run files instead
// of reading the versions back from Badger.
func TestInterleavedViewsKeepTheirRunFiles(t *testing.T) {
	opts := DefaultOptions(t.TempDir()).WithSyncWrites(false).WithCompactInterval(time.Hour).WithFlushIdle(time.Hour)
	st, err := Open(opts)
	require.NoError(t, err)
	defineUser(t, st, 0)
	_, _, err = st.ApplyView(View{Name: "other", Entity: "user", Features: []Feature{{Name: "n", Type: TypeInt64}}})
	require.NoError(t, err)
	ctx, key := context.Background(), []Value{Int64(1), String("a")}
	for i := range 6 {
		_, err = st.Write(ctx, Batch{View: "other", Rows: []Row{{Key: key, EventTime: int64(i + 1), Values: []Value{Int64(1)}}}})
		require.NoError(t, err)
		_, err = st.Write(ctx, Batch{View: "stats", Rows: []Row{{Key: key, EventTime: int64(i + 1), Values: []Value{Int64(1), Float64(1), String("x")}}}})
		require.NoError(t, err)
		if i%2 == 1 {
			require.NoError(t, st.Compact()) // one run file per two batches of each view
		}
	}
	before := st.HistoryStatus()
	require.NoError(t, st.Close())
	st, err = Open(opts)
	require.NoError(t, err)
	defer st.Close()
	for i, h := range st.HistoryStatus() {
		require.Zero(t, h.TailVersions, "view %s: versions read back from Badger at open", h.View)
		require.EqualValues(t, 6, h.FileVersions)
		require.Equal(t, before[i].View, h.View)
	}
}
