package storage

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

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
