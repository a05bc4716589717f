package par

import (
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEachCallsEveryIndexOnce(t *testing.T) {
	for _, tc := range []struct{ parallel, n int }{{1, 0}, {1, 5}, {4, 0}, {4, 3}, {3, 100}, {0, 7}, {16, 1000}} {
		calls := make([]atomic.Int32, tc.n)
		var started atomic.Int32
		Each(tc.parallel, tc.n, func(f func()) { started.Add(1); go f() }, func(i int) { calls[i].Add(1) })
		for i := range calls {
			require.Equal(t, int32(1), calls[i].Load(), "parallel %d n %d: index %d", tc.parallel, tc.n, i)
		}
		// The caller works too: at most parallel-1 goroutines are started.
		require.LessOrEqual(t, int(started.Load()), max(0, min(tc.parallel, tc.n)-1), "parallel %d n %d", tc.parallel, tc.n)
	}
}

func TestEachBoundsConcurrency(t *testing.T) {
	var now, peak atomic.Int32
	Each(3, 200, nil, func(int) {
		n := now.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		for range 1000 {
			_ = now.Load()
		}
		now.Add(-1)
	})
	require.LessOrEqual(t, peak.Load(), int32(3))
	require.GreaterOrEqual(t, peak.Load(), int32(1))
}
