package storage

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/stretchr/testify/require"
)

// fakeClock is a settable wall clock for tests.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Set(ns int64)            { c.ns.Store(ns) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// runStoreTest runs fn on a fresh store in a temporary directory.
func runStoreTest(t *testing.T, fn func(*Store, *fakeClock)) {
	t.Helper()
	clk := &fakeClock{}
	clk.Set(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	opts := DefaultOptions(t.TempDir()).WithNow(clk.Now).WithSyncWrites(false)
	st, err := Open(opts)
	require.NoError(t, err)
	defer func() { require.NoError(t, st.Close()) }()
	fn(st, clk)
}

// defineUser registers entity "user" (user_id int64, region string) and a
// view "stats" with the given ttl.
func defineUser(t *testing.T, st *Store, ttl time.Duration) *View {
	t.Helper()
	_, _, err := st.ApplyEntity(Entity{Name: "user", JoinKeys: []JoinKey{{"user_id", TypeInt64}, {"region", TypeString}}})
	require.NoError(t, err)
	v, _, err := st.ApplyView(View{Name: "stats", Entity: "user", TTL: ttl, Features: []Feature{
		{Name: "clicks", Type: TypeInt64},
		{Name: "score", Type: TypeFloat64},
		{Name: "label", Type: TypeString},
	}})
	require.NoError(t, err)
	return v
}

// oracleVersion is a version as the oracle remembers it.
type oracleVersion struct {
	key               string
	event, available  int64
	seq               uint64
	deleted, backfill bool
	values            []Value
}

// oracleRead is the read rule written the slow, obvious way.
func oracleRead(all []oracleVersion, key string, t, avail int64, w uint64, ttl time.Duration) (Result, bool) {
	var best *oracleVersion
	for i := range all {
		v := &all[i]
		if v.key != key || v.event > t || v.available > avail || v.seq > w {
			continue
		}
		if best == nil || v.event > best.event ||
			(v.event == best.event && (v.available > best.available || (v.available == best.available && v.seq > best.seq))) {
			best = v
		}
	}
	if best == nil {
		return Result{Status: NotFound}, false
	}
	r := Result{EventTime: best.event, AvailableAt: best.available, Seq: best.seq, Backfilled: best.backfill}
	switch {
	case best.deleted:
		r.Status = NotFound
	case ttl > 0 && t-best.event > int64(ttl):
		r.Status = Stale
	default:
		r.Status = Present
		r.Values = best.values
	}
	return r, true
}

func randValue(rng *rand.Rand, t Type) Value {
	if rng.IntN(8) == 0 {
		return Value{}
	}
	n := rng.IntN(4) // list length; 0 is an empty list, not null
	switch t {
	case TypeInt64:
		return Int64(rng.Int64N(1000) - 500)
	case TypeInt32:
		return Int32([]int32{math.MinInt32, math.MaxInt32, -1, 0, 7}[rng.IntN(5)])
	case TypeTimestamp:
		return Timestamp(rng.Int64() - rng.Int64())
	case TypeFloat64:
		return Float64(rng.NormFloat64())
	case TypeFloat32:
		return Float32(float32(rng.NormFloat64()))
	case TypeBool:
		return Bool(rng.IntN(2) == 0)
	case TypeBytes:
		return Bytes([]byte{0, byte(rng.IntN(256)), 0xff}[:rng.IntN(4)])
	case TypeJSON:
		return JSON([]string{`null`, `[1, "a", {"b": 2.5}]`, `"x"`, `{"a": {"b": [true]}}`}[rng.IntN(4)])
	case TypeMap:
		return Map([]string{`{}`, `{"a": 1}`, `{"k": "v", "n": null}`}[rng.IntN(3)])
	case TypeInt64List, TypeTimestampList:
		l := make([]int64, n)
		for i := range l {
			l[i] = rng.Int64() - rng.Int64()
		}
		return Value{Type: t, Str: Int64List(l).Str}
	case TypeInt32List:
		l := make([]int32, n)
		for i := range l {
			l[i] = rng.Int32() - rng.Int32()
		}
		return Int32List(l)
	case TypeFloat64List:
		l := make([]float64, n)
		for i := range l {
			l[i] = rng.NormFloat64()
		}
		return Float64List(l)
	case TypeFloatList:
		l := make([]float32, n)
		for i := range l {
			l[i] = float32(rng.NormFloat64())
		}
		return FloatList(l)
	case TypeBoolList:
		l := make([]bool, n)
		for i := range l {
			l[i] = rng.IntN(2) == 0
		}
		return BoolList(l)
	case TypeStringList:
		l := make([]string, n)
		for i := range l {
			l[i] = fmt.Sprintf("é%d", rng.IntN(300))
		}
		return StringList(l)
	case TypeBytesList:
		l := make([][]byte, n)
		for i := range l {
			l[i] = make([]byte, rng.IntN(200)) // some lengths need two varint bytes
		}
		return BytesList(l)
	default:
		return String(fmt.Sprintf("s%d", rng.IntN(50)))
	}
}

// oracleEntity is an entity key of the oracle tests.
type oracleEntity struct {
	vals []Value
	enc  string
}

func oracleEntities(t *testing.T, view *View) []oracleEntity {
	var ents []oracleEntity
	for i := range 12 {
		vals := []Value{Int64(int64(i % 5)), String(fmt.Sprintf("r%d", i/5))}
		enc, err := view.EncodeKey(vals)
		require.NoError(t, err)
		ents = append(ents, oracleEntity{vals, string(enc)})
	}
	return ents
}

// writeRandomHistory writes n random batches (out-of-order and late event
// times, equal event times, backfills, tombstones) and returns what the
// oracle must know of them. after, when set, runs after each batch.
func writeRandomHistory(t *testing.T, st *Store, clk *fakeClock, view *View, ents []oracleEntity, rng *rand.Rand, n int, after func(all []oracleVersion)) []oracleVersion {
	ctx := context.Background()
	var all []oracleVersion
	for b := range n {
		clk.Advance(time.Duration(rng.IntN(3)) * time.Second) // commit times may repeat
		now := clk.Now().UnixNano()
		backfill := rng.IntN(6) == 0
		batch := Batch{View: view.Name, Backfill: backfill}
		for range 1 + rng.IntN(6) {
			e := ents[rng.IntN(len(ents))]
			// Event times cluster on whole seconds, so ties are common;
			// some are far in the past (late data).
			ev := now - int64(rng.IntN(120))*int64(time.Second)
			row := Row{Key: e.vals, EventTime: ev}
			if n := len(batch.Rows); n > 0 && rng.IntN(4) == 0 {
				// Another version of a key and time of this batch: a correction.
				prev := batch.Rows[rng.IntN(n)]
				row.Key, row.EventTime, ev = prev.Key, prev.EventTime, prev.EventTime
			}
			if rng.IntN(10) == 0 {
				row.Delete = true
			} else {
				for _, f := range view.Features {
					row.Values = append(row.Values, randValue(rng, f.Type))
				}
			}
			if backfill {
				row.AvailableAt = ev + int64(rng.IntN(int(now-ev)+1))
			}
			batch.Rows = append(batch.Rows, row)
		}
		batch.ID = fmt.Sprintf("b%d-%d", b, now)
		res, err := st.Write(ctx, batch)
		require.NoError(t, err)
		require.Equal(t, res.LastSeq-res.FirstSeq+1, uint64(len(batch.Rows)))
		for i, r := range batch.Rows {
			av := res.CommitTime
			if backfill {
				av = r.AvailableAt
			}
			enc, _ := view.EncodeKey(r.Key)
			all = append(all, oracleVersion{key: string(enc), event: r.EventTime, available: av,
				seq: res.FirstSeq + uint64(i), deleted: r.Delete, backfill: backfill, values: r.Values})
		}
		if after != nil {
			after(all)
		}
	}
	return all
}

// checkOracle reads random keys at random times and watermarks, batched and
// one at a time, and compares every result with the oracle's. Times range
// over [base, end] and a little beyond.
func checkOracle(t *testing.T, st *Store, view *View, ents []oracleEntity, all []oracleVersion, base, end int64, rng *rand.Rand, rounds, singles int) {
	t.Helper()
	ctx := context.Background()
	ttl := view.TTL
	proj, err := view.Project()
	require.NoError(t, err)
	top := all[len(all)-1].seq
	// Batched: many keys and times at once, visited sorted by two
	// goroutines, so the runs are walked forward between neighbours.
	for round := range rounds {
		n := 50 + rng.IntN(2000)
		keys := make([][]byte, n)
		bounds := make([]Bounds, n)
		for i := range keys {
			keys[i] = []byte(ents[rng.IntN(len(ents))].enc)
			bounds[i] = At(base - int64(10*time.Second) + rng.Int64N(end-base+int64(20*time.Second)))
			if i%3 == 0 {
				v := all[rng.IntN(len(all))]
				bounds[i] = At(v.available)
			}
		}
		w := top - uint64(round%3)
		seen := make([]bool, n)
		err := st.LookupEach(ctx, Query{Proj: proj, Keys: keys, Bounds: bounds, Watermark: w, NaiveAvailable: end + int64(time.Minute), WithSeq: round%2 == 0}, 2, func(_, i int, g *Result) {
			want, _ := oracleRead(all, string(keys[i]), bounds[i].Event, bounds[i].Available, w, ttl)
			wantNaive, _ := oracleRead(all, string(keys[i]), bounds[i].Event, end+int64(time.Minute), w, ttl)
			differs := wantNaive.Seq != want.Seq
			if round%2 == 1 { // without WithSeq, no seq is reported
				want.Seq, wantNaive.Seq = 0, 0
			}
			if seen[i] || want.Status != g.Status || want.Seq != g.Seq || wantNaive.Seq != g.NaiveSeq || want.EventTime != g.EventTime ||
				want.AvailableAt != g.AvailableAt || differs != g.NaiveDiffers {
				t.Errorf("batched read %d (seen %v): want %+v (naive %d), got %+v", i, seen[i], want, wantNaive.Seq, *g)
			}
			for j := range want.Values {
				if !want.Values[j].Equal(g.Values[j]) {
					t.Errorf("batched read %d feature %d: want %v got %v", i, j, want.Values[j], g.Values[j])
				}
			}
			seen[i] = true
		})
		require.NoError(t, err)
		require.NotContains(t, seen, false)

		// The same reads in columns.
		rc, err := st.LookupColumns(ctx, Query{Proj: proj, Keys: keys, Bounds: bounds, Watermark: w, NaiveAvailable: end + int64(time.Minute)}, 2)
		require.NoError(t, err)
		for i := range keys {
			want, _ := oracleRead(all, string(keys[i]), bounds[i].Event, bounds[i].Available, w, ttl)
			wantNaive, _ := oracleRead(all, string(keys[i]), bounds[i].Event, end+int64(time.Minute), w, ttl)
			if want.Status != rc.Status[i] || want.EventTime != rc.EventTime[i] || want.AvailableAt != rc.AvailableAt[i] ||
				(wantNaive.Seq != want.Seq) != rc.NaiveDiffers[i] || want.Backfilled != rc.Backfilled[i] {
				t.Fatalf("columns read %d: want %+v (naive %d), got status %v event %d available %d naive differs %v backfilled %v",
					i, want, wantNaive.Seq, rc.Status[i], rc.EventTime[i], rc.AvailableAt[i], rc.NaiveDiffers[i], rc.Backfilled[i])
			}
			for f := range proj.Features {
				got := rc.Features[f].value(i)
				var wantV Value
				if want.Status == Present {
					wantV = want.Values[f]
				}
				if !wantV.Equal(got) {
					t.Fatalf("columns read %d feature %d: want %v got %v", i, f, wantV, got)
				}
			}
		}
	}
	for q := range singles {
		e := ents[rng.IntN(len(ents))]
		at := base - int64(10*time.Second) + rng.Int64N(end-base+int64(20*time.Second))
		if q%4 == 0 { // on a version boundary exactly
			v := all[rng.IntN(len(all))]
			at = []int64{v.event, v.available}[rng.IntN(2)]
		}
		w := top
		if q%3 == 0 {
			w = uint64(rng.Int64N(int64(top) + 1))
		}
		naive := at + rng.Int64N(int64(time.Minute))
		got, err := st.Lookup(ctx, Query{Proj: proj, Keys: [][]byte{[]byte(e.enc)}, Bounds: []Bounds{At(at)}, Watermark: w, NaiveAvailable: naive, WithSeq: true})
		require.NoError(t, err)
		want, _ := oracleRead(all, e.enc, at, at, w, ttl)
		wantNaive, _ := oracleRead(all, e.enc, at, naive, w, ttl)
		g := got[0]
		require.Equal(t, wantNaive.Seq, g.NaiveSeq, "naive winner")
		require.Equal(t, wantNaive.Seq != want.Seq, g.NaiveDiffers)
		require.Equal(t, want.Status, g.Status, "key %v at %d w %d", e.vals, at, w)
		require.Equal(t, want.EventTime, g.EventTime)
		require.Equal(t, want.AvailableAt, g.AvailableAt)
		require.Equal(t, want.Seq, g.Seq)
		if want.Status == Present {
			require.Equal(t, want.Backfilled, g.Backfilled)
			for j := range want.Values {
				require.True(t, want.Values[j].Equal(g.Values[j]), "feature %d: want %v got %v", j, want.Values[j], g.Values[j])
			}
		}
	}
}

// TestReadRuleMatchesOracle writes random histories (out-of-order and late
// event times, equal event times, backfills, tombstones, ttl) and checks
// every read against the oracle at random times and watermarks: with every
// version in in-memory runs, after compaction into run files, and after a
// restart. With a ttl, Badger's chunks are cut at 100 bytes, so batches span
// several and the restart reads them back across chunks.
func TestReadRuleMatchesOracle(t *testing.T) {
	for _, ttl := range []time.Duration{0, 30 * time.Second} {
		t.Run(fmt.Sprintf("ttl=%s", ttl), func(t *testing.T) { checkOracleStages(t, ttl, defineUser) })
	}
}

// TestEveryTypeMatchesOracle runs the oracle's stages over a view with a
// feature of every type, so that each type's values go through every tier
// (in-memory runs, run files, Badger's chunks after a restart) unchanged.
func TestEveryTypeMatchesOracle(t *testing.T) {
	checkOracleStages(t, 30*time.Second, defineEveryType)
}

// defineEveryType registers entity "user" and a view "stats" with one
// feature of every type.
func defineEveryType(t *testing.T, st *Store, ttl time.Duration) *View {
	t.Helper()
	_, _, err := st.ApplyEntity(Entity{Name: "user", JoinKeys: []JoinKey{{"user_id", TypeInt64}, {"region", TypeString}}})
	require.NoError(t, err)
	var feats []Feature
	for ty := TypeInt64; ty < typeEnd; ty++ {
		feats = append(feats, Feature{Name: "f_" + ty.String(), Type: ty})
	}
	v, _, err := st.ApplyView(View{Name: "stats", Entity: "user", TTL: ttl, Features: feats})
	require.NoError(t, err)
	return v
}

// checkOracleStages checks the read rule against the oracle at each stage
// of a view's history (see TestReadRuleMatchesOracle); define makes the view.
func checkOracleStages(t *testing.T, ttl time.Duration, define func(*testing.T, *Store, time.Duration) *View) {
	dir := t.TempDir()
	clk := &fakeClock{}
	clk.Set(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	// Compaction only when asked, so each stage is what it says.
	opts := DefaultOptions(dir).WithNow(clk.Now).WithSyncWrites(false).WithCompactInterval(time.Hour).WithFlushIdle(time.Hour)
	if ttl > 0 {
		opts.chunkBytes = 100
	}
	st, err := Open(opts)
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(1, uint64(ttl)))
	view := define(t, st, ttl)
	ents := oracleEntities(t, view)
	base := clk.Now().UnixNano()
	all := writeRandomHistory(t, st, clk, view, ents, rng, 150, nil)
	end := clk.Now().UnixNano()

	require.Zero(t, st.HistoryStatus()[0].FileRuns)
	checkOracle(t, st, view, ents, all, base, end, rng, 20, 3000)

	require.NoError(t, st.Compact())
	hs := st.HistoryStatus()[0]
	require.Equal(t, 1, hs.FileRuns, "one file after a full compaction")
	require.Zero(t, hs.TailVersions)
	require.Positive(t, hs.Compactions)
	require.False(t, hs.CompactionFailing)
	checkOracle(t, st, view, ents, all, base, end, rng, 20, 3000)

	// More writes: a file and an in-memory tail together.
	all = append(all, writeRandomHistory(t, st, clk, view, ents, rng, 40, nil)...)
	end = clk.Now().UnixNano()
	checkOracle(t, st, view, ents, all, base, end, rng, 10, 1000)

	// Restart after a crash: the file is mapped again, and the
	// versions that were only in memory are read back from Badger.
	require.NoError(t, st.close(false))
	st, err = Open(opts)
	require.NoError(t, err)
	defer func() { require.NoError(t, st.Close()) }()
	hs = st.HistoryStatus()[0]
	require.Equal(t, 1, hs.FileRuns)
	require.NotZero(t, hs.TailVersions, "the versions written after the compaction come back from Badger")
	if ttl > 0 {
		chunks := 0
		require.NoError(t, st.db.View(func(txn *badger.Txn) error {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: chunkPrefix(view.ID)})
			defer it.Close()
			for it.Rewind(); it.Valid(); it.Next() {
				chunks++
			}
			return nil
		}))
		require.Greater(t, chunks, 190+50, "batches span several chunks")
	}
	view, err = st.View(view.Name)
	require.NoError(t, err)
	checkOracle(t, st, view, ents, all, base, end, rng, 10, 1000)

	// A clean close persists what was in memory.
	require.NoError(t, st.Close())
	st, err = Open(opts)
	require.NoError(t, err)
	require.Zero(t, st.HistoryStatus()[0].TailVersions)
	checkOracle(t, st, view, ents, all, base, end, rng, 5, 500)
}

// TestReadRuleWhileCompacting checks reads against the oracle while
// batches arrive and the compactor, set to flush and merge constantly,
// rewrites the runs under them.
func TestReadRuleWhileCompacting(t *testing.T) {
	clk := &fakeClock{}
	clk.Set(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	opts := DefaultOptions(t.TempDir()).WithNow(clk.Now).WithSyncWrites(false).
		WithCompactInterval(time.Millisecond).WithFlushVersions(16).WithFlushIdle(time.Hour)
	st, err := Open(opts)
	require.NoError(t, err)
	defer func() { require.NoError(t, st.Close()) }()
	rng := rand.New(rand.NewPCG(7, 7))
	view := defineUser(t, st, 0)
	ents := oracleEntities(t, view)
	base := clk.Now().UnixNano()
	checks := rand.New(rand.NewPCG(8, 8))
	all := writeRandomHistory(t, st, clk, view, ents, rng, 300, func(all []oracleVersion) {
		if len(all)%5 == 0 {
			checkOracle(t, st, view, ents, all, base, clk.Now().UnixNano(), checks, 1, 30)
		}
	})
	require.NoError(t, st.Compact())
	hs := st.HistoryStatus()[0]
	require.Zero(t, hs.TailVersions)
	require.EqualValues(t, len(all), hs.FileVersions)
	require.Less(t, hs.FileRuns, 8, "file runs are merged as they accumulate")
	checkOracle(t, st, view, ents, all, base, clk.Now().UnixNano(), checks, 10, 1000)
}

// TestLateDataInvisibleBeforeArrival is the leakage case itself: a value
// about the past written now cannot be read at any earlier time.
func TestLateDataInvisibleBeforeArrival(t *testing.T) {
	runStoreTest(t, func(st *Store, clk *fakeClock) {
		ctx := context.Background()
		view := defineUser(t, st, 0)
		key := []Value{Int64(7), String("eu")}
		t0 := clk.Now().UnixNano()
		_, err := st.Write(ctx, Batch{View: "stats", Rows: []Row{{Key: key, EventTime: t0, Values: []Value{Int64(1), Float64(1), String("a")}}}})
		require.NoError(t, err)
		clk.Advance(time.Hour)
		late, err := st.Write(ctx, Batch{View: "stats", Rows: []Row{{Key: key, EventTime: t0 + int64(time.Minute), Values: []Value{Int64(2), Float64(2), String("b")}}}})
		require.NoError(t, err)
		enc, _ := view.EncodeKey(key)
		proj, _ := view.Project("clicks")
		read := func(at int64) Result {
			res, err := st.Lookup(ctx, Query{Proj: proj, Keys: [][]byte{enc}, Bounds: []Bounds{At(at)}, Watermark: st.Watermark()})
			require.NoError(t, err)
			return res[0]
		}
		require.Equal(t, int64(1), read(t0 + int64(30*time.Minute)).Values[0].Int, "late value leaked before it arrived")
		require.Equal(t, int64(1), read(late.CommitTime - 1).Values[0].Int)
		require.Equal(t, int64(2), read(late.CommitTime).Values[0].Int, "boundary is inclusive")
		require.Equal(t, NotFound, read(t0-1).Status)
	})
}

func TestDuplicateBatchID(t *testing.T) {
	runStoreTest(t, func(st *Store, clk *fakeClock) {
		ctx := context.Background()
		defineUser(t, st, 0)
		now := clk.Now().UnixNano()
		b := Batch{ID: "once", View: "stats", Rows: []Row{{Key: []Value{Int64(1), String("x")}, EventTime: now, Values: []Value{Int64(1), {}, {}}}}}
		first, err := st.Write(ctx, b)
		require.NoError(t, err)
		again, err := st.Write(ctx, b)
		require.NoError(t, err)
		require.True(t, again.Duplicate)
		require.Equal(t, first.FirstSeq, again.FirstSeq)
		require.Equal(t, first.LastSeq, st.Watermark(), "nothing written twice")
		b.Rows[0].Values[0] = Int64(2)
		_, err = st.Write(ctx, b)
		require.ErrorIs(t, err, ErrConflict)
	})
}

func TestRejectedBatchWritesNothing(t *testing.T) {
	runStoreTest(t, func(st *Store, clk *fakeClock) {
		ctx := context.Background()
		defineUser(t, st, 0)
		now := clk.Now().UnixNano()
		good := func() Row {
			return Row{Key: []Value{Int64(1), String("x")}, EventTime: now, Values: []Value{Int64(1), Float64(2), String("s")}}
		}
		cases := []struct {
			name  string
			batch func() Batch
			want  string
		}{
			{"empty", func() Batch { return Batch{View: "stats"} }, "rows: the batch is empty"},
			{"wrong type", func() Batch {
				r := good()
				r.Values[1] = String("x")
				return Batch{View: "stats", Rows: []Row{good(), r}}
			}, `row 1: feature "score": expected double, got string`},
			{"missing key", func() Batch {
				r := good()
				r.Key = r.Key[:1]
				return Batch{View: "stats", Rows: []Row{r}}
			}, "row 0: storage: invalid argument: 1 join key values, want 2 (user_id, region)"},
			{"key type", func() Batch {
				r := good()
				r.Key[1] = Int64(3)
				return Batch{View: "stats", Rows: []Row{r}}
			}, `join key "region": expected string, got int64`},
			{"before 1970", func() Batch {
				r := good()
				r.EventTime = -5
				return Batch{View: "stats", Rows: []Row{r}}
			}, "row 0: event_time 1969-12-31T23:59:59.999999995Z"},
			{"far future", func() Batch {
				r := good()
				r.EventTime = now + int64(48*time.Hour)
				return Batch{View: "stats", Rows: []Row{r}}
			}, "expected between 1970-01-01 and"},
			{"nan", func() Batch {
				r := good()
				r.Values[1] = Float64(nan())
				return Batch{View: "stats", Rows: []Row{r}}
			}, "NaN is not a value"},
			{"available_at in live write", func() Batch {
				r := good()
				r.AvailableAt = now
				return Batch{View: "stats", Rows: []Row{r}}
			}, "only backfill writes may set it"},
			{"backfill without available_at", func() Batch { return Batch{View: "stats", Backfill: true, Rows: []Row{good()}} }, "needs an explicit available_at"},
			{"values count", func() Batch {
				r := good()
				r.Values = r.Values[:2]
				return Batch{View: "stats", Rows: []Row{r}}
			}, "2 values, want 3"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				_, err := st.Write(ctx, c.batch())
				require.ErrorIs(t, err, ErrInvalid)
				require.ErrorContains(t, err, c.want)
				require.Zero(t, st.Watermark())
			})
		}
		_, err := st.Write(ctx, Batch{View: "nope", Rows: []Row{good()}})
		require.ErrorIs(t, err, ErrUnknownView)
		_, err = st.Write(ctx, Batch{View: "stats", Features: []string{"nope"}, Rows: []Row{good()}})
		require.ErrorIs(t, err, ErrUnknownFeature)
		require.ErrorContains(t, err, `feature_names[0]: storage: unknown feature "nope" in feature view "stats"`)
		require.Zero(t, st.Watermark())
	})
}

// TestLargeBatchAtomic writes a batch too big for one Badger transaction.
func TestLargeBatchAtomic(t *testing.T) {
	runStoreTest(t, func(st *Store, clk *fakeClock) {
		ctx := context.Background()
		view := defineUser(t, st, 0)
		now := clk.Now().UnixNano()
		const n = 200_000
		rows := make([]Row, n)
		pad := string(make([]byte, 100))
		for i := range rows {
			rows[i] = Row{Key: []Value{Int64(int64(i)), String("r")}, EventTime: now, Values: []Value{Int64(int64(i)), Float64(1), String(pad)}}
		}
		res, err := st.Write(ctx, Batch{View: "stats", Rows: rows})
		require.NoError(t, err)
		require.Equal(t, uint64(n), res.LastSeq)
		keys := make([][]byte, n)
		for i := range keys {
			keys[i], _ = view.EncodeKey(rows[i].Key)
		}
		proj, _ := view.Project("clicks")
		got, err := st.Lookup(ctx, Query{Proj: proj, Keys: keys, Bounds: []Bounds{At(now)}, Watermark: st.Watermark()})
		require.NoError(t, err)
		for i := range got {
			require.Equal(t, int64(i), got[i].Values[0].Int)
		}
	})
}

// TestBatchTooLargeIsRefusedWhole: a batch whose chunks outgrow one Badger
// transaction (here with memtables of 64 KiB) is refused, and nothing of it
// is visible, then or after a restart.
func TestBatchTooLargeIsRefusedWhole(t *testing.T) {
	dir := t.TempDir()
	clk := &fakeClock{}
	clk.Set(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	opts := DefaultOptions(dir).WithNow(clk.Now).WithSyncWrites(false).WithMemTableBytes(64 << 10)
	st, err := Open(opts)
	require.NoError(t, err)
	view := defineUser(t, st, 0)
	now := clk.Now().UnixNano()
	pad := String(strings.Repeat("p", 200))
	rows := make([]Row, 5000)
	for i := range rows {
		rows[i] = Row{Key: []Value{Int64(int64(i)), String("x")}, EventTime: now, Values: []Value{Int64(1), {}, pad}}
	}
	_, err = st.Write(context.Background(), Batch{View: "stats", Rows: rows})
	require.ErrorIs(t, err, ErrInvalid)
	require.ErrorContains(t, err, "a batch of 5000 rows (about")
	require.ErrorContains(t, err, "is too large to commit at once")
	require.Zero(t, st.Watermark())
	res, err := st.Write(context.Background(), Batch{View: "stats", Rows: rows[:100]})
	require.NoError(t, err, "the store goes on")
	require.Equal(t, uint64(1), res.FirstSeq, "the refused batch took no sequence numbers")
	require.NoError(t, st.Close())

	st, err = Open(opts)
	require.NoError(t, err)
	defer st.Close()
	rep, err := st.Verify(context.Background())
	require.NoError(t, err)
	require.Empty(t, rep.Problems)
	require.EqualValues(t, 100, rep.Versions)
	enc, err := view.EncodeKey(rows[4000].Key)
	require.NoError(t, err)
	proj, _ := view.Project("clicks")
	clk.Advance(time.Second)
	got, err := st.Lookup(context.Background(), Query{Proj: proj, Keys: [][]byte{enc}, Bounds: []Bounds{At(clk.Now().UnixNano())}, Watermark: st.Watermark()})
	require.NoError(t, err)
	require.Equal(t, NotFound, got[0].Status, "a version of the refused batch is visible")
}

func nan() float64 { var z float64; return z / z }

func TestSchemaEvolution(t *testing.T) {
	runStoreTest(t, func(st *Store, clk *fakeClock) {
		view := defineUser(t, st, 0)
		now := clk.Now().UnixNano()
		key := []Value{Int64(1), String("x")}
		_, err := st.Write(context.Background(), Batch{View: "stats", Rows: []Row{{Key: key, EventTime: now, Values: []Value{Int64(1), Float64(2), {}}}}})
		require.NoError(t, err)

		added := *view
		added.Features = append(append([]Feature{}, view.Features...), Feature{Name: "embedding", Type: TypeFloatList})
		v2, changed, err := st.ApplyView(added)
		require.NoError(t, err)
		require.True(t, changed)
		require.Equal(t, int64(2), v2.Version)
		_, changed, err = st.ApplyView(added)
		require.NoError(t, err)
		require.False(t, changed, "re-applying the same definition is a no-op")

		retyped := added
		retyped.Features = append([]Feature{}, added.Features...)
		retyped.Features[0].Type = TypeString
		_, _, err = st.ApplyView(retyped)
		require.ErrorIs(t, err, ErrSchemaMismatch)
		require.ErrorContains(t, err, `feature "clicks" cannot change type from int64 to string`)

		removed := added
		removed.Features = added.Features[1:]
		_, _, err = st.ApplyView(removed)
		require.ErrorIs(t, err, ErrSchemaMismatch)

		// Old versions read under the new definition: the new feature is null.
		enc, _ := v2.EncodeKey(key)
		proj, err := v2.Project("clicks", "embedding")
		require.NoError(t, err)
		got, err := st.Lookup(context.Background(), Query{Proj: proj, Keys: [][]byte{enc}, Bounds: []Bounds{At(now)}, Watermark: st.Watermark()})
		require.NoError(t, err)
		require.Equal(t, Present, got[0].Status)
		require.Equal(t, int64(1), got[0].Values[0].Int)
		require.True(t, got[0].Values[1].IsNull())

		old, err := st.ViewVersion("stats", 1)
		require.NoError(t, err)
		require.Len(t, old.Features, 3)
	})
}

func TestSplitsImmutable(t *testing.T) {
	runStoreTest(t, func(st *Store, clk *fakeClock) {
		sp, created, err := st.CreateSplit(Split{Name: "train", Start: 0, End: 100})
		require.NoError(t, err)
		require.True(t, created)
		_, created, err = st.CreateSplit(Split{Name: "train", Start: 0, End: 100})
		require.NoError(t, err)
		require.False(t, created)
		_, _, err = st.CreateSplit(Split{Name: "train", Start: 0, End: 101})
		require.ErrorIs(t, err, ErrAlreadyExists)
		got, err := st.Split("train")
		require.NoError(t, err)
		require.Equal(t, sp, got)
		_, _, err = st.CreateSplit(Split{Name: "bad", Start: 10, End: 5})
		require.ErrorIs(t, err, ErrInvalid)
	})
}

// TestOrder checks the visiting order against a comparison sort: keys
// ascending (short, 8-byte and long keys sharing heads), then the event
// bound descending, ties in input order.
func TestOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{0, 1, 2, 100, 70_000} {
		keys := make([][]byte, n)
		bounds := make([]Bounds, n)
		for i := range keys {
			switch rng.IntN(3) {
			case 0:
				keys[i] = appendKeyValue(nil, TypeInt64, Int64(rng.Int64N(50)-25))
			case 1:
				keys[i] = []byte(fmt.Sprintf("k%d", rng.IntN(20)))
			default:
				keys[i] = []byte(fmt.Sprintf("shared-head-%d", rng.IntN(20)))
			}
			bounds[i] = At(rng.Int64N(40) - 20)
		}
		want := make([]int32, n)
		for i := range want {
			want[i] = int32(i)
		}
		slices.SortStableFunc(want, func(a, b int32) int {
			if c := bytes.Compare(keys[a], keys[b]); c != 0 {
				return c
			}
			return cmp.Compare(bounds[b].Event, bounds[a].Event)
		})
		got := Order(keys, bounds)
		require.Equal(t, want, got, "n=%d", n)
	}
}

// TestSortAt: SortAt's order is Order's, and its keys and bounds are the
// inputs in that order, for 8-byte keys and for keys of other lengths.
func TestSortAt(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, short := range []bool{true, false} {
		n := 5000
		keys := make([][]byte, n)
		times := make([]int64, n)
		bounds := make([]Bounds, n)
		for i := range keys {
			keys[i] = appendKeyValue(nil, TypeInt64, Int64(rng.Int64N(300)-150))
			if !short && i%3 == 0 {
				keys[i] = []byte(fmt.Sprintf("key-%d", rng.IntN(40)))
			}
			times[i] = rng.Int64N(1000) - 500
			bounds[i] = At(times[i])
		}
		order, sorted, at := SortAt(keys, times)
		require.Equal(t, Order(keys, bounds), order)
		for n, i := range order {
			require.Equal(t, keys[i], sorted[n])
			require.Equal(t, bounds[i], at[n])
		}
	}
}

// TestOpenRefusesTheFirstFormat: a store that kept one key per version is
// refused with a reason, never read as empty.
func TestOpenRefusesTheFirstFormat(t *testing.T) {
	dir := t.TempDir()
	opts := DefaultOptions(dir).WithSyncWrites(false)
	st, err := Open(opts)
	require.NoError(t, err)
	require.NoError(t, st.db.Update(func(txn *badger.Txn) error {
		return txn.Set([]byte{prefixVersionV0, 0, 0, 0, 1, 7}, []byte{0})
	}))
	require.NoError(t, st.Close())
	_, err = Open(opts)
	require.ErrorContains(t, err, "written by an earlier development release of timefence, which kept one key per version")
}

// TestWidening widens int32, float and their lists: versions written before
// are read as the new types, through every tier, and a projection of the
// old definition (a dataset recorded before) still reads the old types.
func TestWidening(t *testing.T) {
	dir := t.TempDir()
	clk := &fakeClock{}
	clk.Set(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	opts := DefaultOptions(dir).WithNow(clk.Now).WithSyncWrites(false).WithCompactInterval(time.Hour).WithFlushIdle(time.Hour)
	st, err := Open(opts)
	require.NoError(t, err)
	defer func() { require.NoError(t, st.Close()) }()
	ctx := context.Background()
	_, _, err = st.ApplyEntity(Entity{Name: "user", JoinKeys: []JoinKey{{"user_id", TypeInt64}}})
	require.NoError(t, err)
	narrow := []Type{TypeInt32, TypeFloat32, TypeInt32List, TypeFloatList}
	wide := []Type{TypeInt64, TypeFloat64, TypeInt64List, TypeFloat64List}
	def := func(types []Type) *View {
		v := View{Name: "w", Entity: "user"}
		for i, ty := range types {
			v.Features = append(v.Features, Feature{Name: fmt.Sprintf("f%d", i), Type: ty})
		}
		got, _, err := st.ApplyView(v)
		require.NoError(t, err)
		return got
	}
	v1 := def(narrow)
	write := func(key int64, vals ...Value) {
		clk.Advance(time.Second)
		_, err := st.Write(ctx, Batch{View: "w", Rows: []Row{{Key: []Value{Int64(key)}, EventTime: clk.Now().UnixNano(), Values: vals}}})
		require.NoError(t, err)
	}
	write(1, Int32(-7), Float32(0.25), Int32List([]int32{math.MinInt32, 3}), FloatList([]float32{1.5, -2}))
	oldNarrow := []Value{Int32(-7), Float32(0.25), Int32List([]int32{math.MinInt32, 3}), FloatList([]float32{1.5, -2})}
	oldWide := []Value{Int64(-7), Float64(0.25), Int64List([]int64{math.MinInt32, 3}), Float64List([]float64{1.5, -2})}
	// Key 1 lives in a run file of the narrow types, key 2 in the tail.
	require.NoError(t, st.Compact())
	write(2, Int32(5), Float32(1), Int32List(nil), FloatList([]float32{3}))

	// A narrowing, or any other change, is refused.
	bad := *v1
	bad.Features = append([]Feature{}, v1.Features...)
	bad.Features[0].Type = TypeFloat64
	_, _, err = st.ApplyView(bad)
	require.ErrorIs(t, err, ErrSchemaMismatch)
	require.ErrorContains(t, err, "only int32 to int64, float to double, and their lists, widen")

	v2 := def(wide)
	require.Equal(t, int64(2), v2.Version)
	write(3, Int64(1<<40), Float64(1e300), Int64List([]int64{1 << 40}), Float64List([]float64{1e300}))
	// The narrow type is refused now.
	_, err = st.Write(ctx, Batch{View: "w", Rows: []Row{{Key: []Value{Int64(4)}, EventTime: clk.Now().UnixNano(), Values: oldNarrow}}})
	require.ErrorContains(t, err, `feature "f0": expected int64, got int32`)

	read := func(v *View, key int64, w uint64) []Value {
		t.Helper()
		proj, err := v.Project()
		require.NoError(t, err)
		enc, err := v.EncodeKey([]Value{Int64(key)})
		require.NoError(t, err)
		got, err := st.Lookup(ctx, Query{Proj: proj, Keys: [][]byte{enc}, Bounds: []Bounds{At(clk.Now().UnixNano())}, Watermark: w})
		require.NoError(t, err)
		require.Equal(t, Present, got[0].Status)
		return got[0].Values
	}
	check := func(stage string) {
		t.Helper()
		v2, err := st.View("w")
		require.NoError(t, err)
		require.Equal(t, oldWide, read(v2, 1, st.Watermark()), stage)
		require.Equal(t, []Value{Int64(5), Float64(1), Int64List(nil), Float64List([]float64{3})}, read(v2, 2, st.Watermark()), stage)
		require.Equal(t, []Value{Int64(1 << 40), Float64(1e300), Int64List([]int64{1 << 40}), Float64List([]float64{1e300})}, read(v2, 3, st.Watermark()), stage)
		// The old definition, at the watermark of its time, reads the old types.
		v1, err := st.ViewVersion("w", 1)
		require.NoError(t, err)
		require.Equal(t, oldNarrow, read(v1, 1, 2), stage)
		// And scans, as exports do, give the new types.
		proj, err := v2.Project()
		require.NoError(t, err)
		var rows int
		require.NoError(t, st.ScanColumns(ctx, proj, Window{End: clk.Now().UnixNano()}, st.Watermark(), 100, func(b *ColumnBatch) error {
			for i := range b.Len() {
				for f, ty := range wide {
					if v := b.Features[f].value(i); !v.IsNull() {
						require.Equal(t, ty, v.Type, stage)
					}
				}
				rows++
			}
			return nil
		}))
		require.Equal(t, 3, rows, stage)
	}
	check("file of the narrow types and a tail of both")
	require.NoError(t, st.Compact())
	check("merged into one file")
	require.NoError(t, st.Close())
	st, err = Open(opts)
	require.NoError(t, err)
	check("after a restart")
}
