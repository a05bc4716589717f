package storage

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestScanListsTiesOldestFirst: versions of one entity that only their seqs
// order (same event and available-at times) come oldest first, also when
// they straddle two batches; the others newest first.
func TestScanListsTiesOldestFirst(t *testing.T) {
	runStoreTest(t, func(st *Store, clk *fakeClock) {
		view := defineUser(t, st, 0)
		now := clk.Now().UnixNano()
		row := func(user, clicks int64, event int64) Row {
			return Row{Key: []Value{Int64(user), String("eu")}, EventTime: event, Values: []Value{Int64(clicks), {}, {}}}
		}
		_, err := st.Write(context.Background(), Batch{View: "stats", Rows: []Row{
			row(1, 10, now-2), row(1, 11, now-1), row(1, 12, now-1), row(1, 13, now-1),
			row(2, 20, now-1), row(2, 21, now-2),
		}})
		require.NoError(t, err)
		proj, err := view.Project("clicks")
		require.NoError(t, err)
		for _, batchRows := range []int{1, 2, 3, 100} {
			var clicks []int64
			var sizes []int
			err = st.ScanColumns(context.Background(), proj, Window{Start: 0, End: now}, st.Watermark(), batchRows, func(b *ColumnBatch) error {
				clicks = append(clicks, b.Features[0].Int64...)
				sizes = append(sizes, b.Len())
				return nil
			})
			require.NoError(t, err)
			require.Equal(t, []int64{11, 12, 13, 10, 20, 21}, clicks, "batches of %d", batchRows)
			for _, n := range sizes[:len(sizes)-1] {
				require.GreaterOrEqual(t, n, batchRows, "batches of %d: %v", batchRows, sizes)
			}
		}
	})
}
