package storage

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// BenchmarkOpen opens and closes a store of 2M versions held in Badger's
// tables and run files. Every open checks every table block's checksum;
// tables/MB reports what it read.
//
//	go test -run XXX -bench Open -benchtime 5x ./storage
func BenchmarkOpen(b *testing.B) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	opts := DefaultOptions(b.TempDir()).WithSyncWrites(false).WithLogger(quiet)
	st, err := Open(opts)
	require.NoError(b, err)
	_, _, err = st.ApplyEntity(Entity{Name: "user", JoinKeys: []JoinKey{{"user_id", TypeInt64}}})
	require.NoError(b, err)
	_, _, err = st.ApplyView(View{Name: "v", Entity: "user", Features: []Feature{{Name: "a", Type: TypeInt64}, {Name: "b", Type: TypeFloat64}}})
	require.NoError(b, err)
	const batches, rows = 20, 100_000
	for n := range batches {
		batch := Batch{View: "v", Rows: make([]Row, rows)}
		for r := range batch.Rows {
			batch.Rows[r] = Row{Key: []Value{Int64(int64(r))}, EventTime: int64(n + 1), Values: []Value{Int64(int64(r)), Float64(0.5)}}
		}
		_, err := st.Write(context.Background(), batch)
		require.NoError(b, err)
	}
	require.NoError(b, st.Close())
	tables, err := filepath.Glob(filepath.Join(opts.Dir, "*.sst"))
	require.NoError(b, err)
	size := int64(0)
	for _, t := range tables {
		fi, err := os.Stat(t)
		require.NoError(b, err)
		size += fi.Size()
	}
	b.ResetTimer()
	for b.Loop() {
		st, err := Open(opts)
		require.NoError(b, err)
		require.NoError(b, st.Close())
	}
	b.ReportMetric(float64(size)/(1<<20), "tables/MB")
}

// BenchmarkLookupAtNow measures the read rule at now, as an online lookup
// runs it in the store: 1 and 100 entities × 50 features of a view of 200K
// entities with 10 versions each, in the runs a live store has (files
// and in-memory ones). runs reports how many the read walks.
//
//	go test -run XXX -bench LookupAtNow ./storage
func BenchmarkLookupAtNow(b *testing.B) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := Open(DefaultOptions(b.TempDir()).WithSyncWrites(false).WithLogger(quiet))
	require.NoError(b, err)
	_, _, err = st.ApplyEntity(Entity{Name: "user", JoinKeys: []JoinKey{{"user_id", TypeInt64}}})
	require.NoError(b, err)
	feats := make([]Feature, 50)
	for i := range feats {
		feats[i] = Feature{Name: fmt.Sprint("f", i), Type: TypeFloat64}
	}
	v, _, err := st.ApplyView(View{Name: "wide", Entity: "user", Features: feats})
	require.NoError(b, err)
	const entities, versions = 200_000, 10
	for n := range versions * 4 {
		batch := Batch{View: "wide", Rows: make([]Row, entities/4)}
		for r := range batch.Rows {
			vals := make([]Value, len(feats))
			for i := range vals {
				vals[i] = Float64(float64(r * i))
			}
			batch.Rows[r] = Row{Key: []Value{Int64(int64(n%4*entities/4 + r))}, EventTime: int64(n/4 + 1), Values: vals}
		}
		_, err := st.Write(context.Background(), batch)
		require.NoError(b, err)
	}
	defer st.Close()
	settle(b)
	p, err := v.Project()
	require.NoError(b, err)
	for _, n := range []int{1, 100} {
		b.Run(fmt.Sprintf("entities=%d", n), func(b *testing.B) {
			keys := make([][]byte, n)
			for i := range keys {
				keys[i], err = v.EncodeKey([]Value{Int64(int64(i * 997 % entities))})
				require.NoError(b, err)
			}
			runs := 0
			for _, h := range st.HistoryStatus() {
				runs += h.FileRuns + h.TailRuns
			}
			for b.Loop() {
				at, w := st.ReadTime()
				res, err := st.Lookup(context.Background(), Query{Proj: p, Keys: keys, Bounds: []Bounds{At(at)}, Watermark: w})
				if err != nil || res[0].Status != Present {
					b.Fatal(err, res[0].Status)
				}
			}
			b.ReportMetric(float64(runs), "runs")
		})
	}
}

// settle waits until the process has been idle (under 5% of a core) for a
// second: the compactions that follow a load must not share the timing.
func settle(b *testing.B) {
	cpu := func() time.Duration {
		var ru syscall.Rusage
		require.NoError(b, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	for range 300 {
		c := cpu()
		time.Sleep(time.Second)
		if cpu()-c < 50*time.Millisecond {
			return
		}
	}
	b.Fatal("the store is still busy after 5 minutes")
}

// BenchmarkMergeTail merges the in-memory runs that small batches leave
// when they outpace the compactor: 10,000 runs of 100 versions of random
// keys, with three features.
//
//	go test -run XXX -bench MergeTail -benchtime 3x ./storage
func BenchmarkMergeTail(b *testing.B) {
	feats := []Feature{{ID: 0, Type: TypeInt64}, {ID: 1, Type: TypeFloat64}, {ID: 2, Type: TypeFloat64}}
	runs := make([]*run, 10_000)
	seq := uint64(0)
	for j := range runs {
		rows := make([]encodedRow, 100)
		for i := range rows {
			rows[i] = encodedRow{key: fmt.Appendf(nil, "%08d", (j*7919+i*104729)%1_000_000), event: int64(j)}
		}
		keys := make([][]byte, len(rows))
		for i := range rows {
			keys[i] = rows[i].key
		}
		rb := newRunBuilder(feats, len(rows))
		for _, i := range Order(keys, []Bounds{{Event: int64(j)}}) {
			rb.add(rows[i].key, int64(j), int64(j), seq+uint64(i)+1, 0, []Value{Int64(int64(i)), Float64(1.5), Float64(2.5)})
		}
		runs[j] = rb.finish(seq, seq+100)
		seq += 100
	}
	for b.Loop() {
		if m := mergeRuns(runs); m.versions() != 1_000_000 {
			b.Fatal(m.versions())
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e6, "ns/version")
}

// BenchmarkScanColumns reads every version of a view of 1M versions (100K
// entities, 10 each, three features) column by column, as an export or
// statistics do.
//
//	go test -run XXX -bench ScanColumns ./storage
func BenchmarkScanColumns(b *testing.B) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := Open(DefaultOptions(b.TempDir()).WithSyncWrites(false).WithLogger(quiet))
	require.NoError(b, err)
	defer st.Close()
	_, _, err = st.ApplyEntity(Entity{Name: "user", JoinKeys: []JoinKey{{"user_id", TypeInt64}}})
	require.NoError(b, err)
	v, _, err := st.ApplyView(View{Name: "v", Entity: "user", Features: []Feature{
		{Name: "a", Type: TypeInt64}, {Name: "b", Type: TypeFloat64}, {Name: "c", Type: TypeFloat64}}})
	require.NoError(b, err)
	const entities, versions = 100_000, 10
	for n := range versions {
		batch := Batch{View: "v", Rows: make([]Row, entities)}
		for r := range batch.Rows {
			batch.Rows[r] = Row{Key: []Value{Int64(int64(r))}, EventTime: int64(n + 1),
				Values: []Value{Int64(int64(r)), Float64(float64(n)), Float64(float64(r))}}
		}
		_, err := st.Write(context.Background(), batch)
		require.NoError(b, err)
	}
	settle(b)
	p, err := v.Project()
	require.NoError(b, err)
	for b.Loop() {
		rows := 0
		err := st.ScanColumns(context.Background(), p, Window{Start: 0, End: 1 << 62}, st.Watermark(), 65536, func(c *ColumnBatch) error {
			rows += c.Len()
			return nil
		})
		if err != nil || rows != entities*versions {
			b.Fatal(err, rows)
		}
	}
	b.ReportMetric(float64(entities*versions)*float64(b.N)/b.Elapsed().Seconds(), "versions/s")
}

// BenchmarkSandbox cuts a sandbox of a store of 1M versions (100K
// entities, 10 batches of one version each) at a split that ends between
// the fifth and sixth batch, next to a full backup of the same store: the
// sandbox reads the same snapshot and re-cuts the chunks it keeps.
//
//	go test -run XXX -bench Sandbox ./storage
func BenchmarkSandbox(b *testing.B) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := Open(DefaultOptions(b.TempDir()).WithSyncWrites(false).WithLogger(quiet))
	require.NoError(b, err)
	defer st.Close()
	_, _, err = st.ApplyEntity(Entity{Name: "user", JoinKeys: []JoinKey{{"user_id", TypeInt64}}})
	require.NoError(b, err)
	_, _, err = st.ApplyView(View{Name: "v", Entity: "user", Features: []Feature{
		{Name: "a", Type: TypeInt64}, {Name: "b", Type: TypeFloat64}, {Name: "c", Type: TypeFloat64}}})
	require.NoError(b, err)
	const entities, versions = 100_000, 10
	var cutoff int64
	for n := range versions {
		if n == versions/2 {
			cutoff = time.Now().UnixNano()
			time.Sleep(time.Millisecond)
		}
		batch := Batch{View: "v", Rows: make([]Row, entities)}
		for r := range batch.Rows {
			batch.Rows[r] = Row{Key: []Value{Int64(int64(r))}, EventTime: int64(n + 1),
				Values: []Value{Int64(int64(r)), Float64(float64(n)), Float64(float64(r))}}
		}
		_, err := st.Write(context.Background(), batch)
		require.NoError(b, err)
	}
	_, _, err = st.CreateSplit(Split{Name: "half", End: cutoff})
	require.NoError(b, err)
	settle(b)
	b.Run("backup", func(b *testing.B) {
		for b.Loop() {
			info, err := st.Backup(context.Background(), io.Discard, nil)
			if err != nil || info.Watermark != entities*versions {
				b.Fatal(err, info.Watermark)
			}
		}
		b.ReportMetric(float64(entities*versions)*float64(b.N)/b.Elapsed().Seconds(), "versions/s")
	})
	b.Run("sandbox", func(b *testing.B) {
		for b.Loop() {
			info, err := st.Sandbox(context.Background(), io.Discard, "half", nil)
			if err != nil || info.Versions != entities*versions/2 || info.LeftOut != entities*versions/2 {
				b.Fatal(err, info.Versions, info.LeftOut)
			}
		}
		b.ReportMetric(float64(entities*versions)*float64(b.N)/b.Elapsed().Seconds(), "versions/s")
	})
}
