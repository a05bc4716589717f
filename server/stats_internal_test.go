package server

import (
	"slices"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/timefence/timefence/storage"
)

func TestHyperLogLogEstimate(t *testing.T) {
	for _, n := range []int{1000, 50_000, 1_000_000} {
		h := newHyperLogLog()
		for i := range n {
			h.add("v" + strconv.Itoa(i))
			h.add("v" + strconv.Itoa(i)) // duplicates do not count
		}
		require.InEpsilon(t, float64(n), float64(h.estimate()), 0.03, "n=%d", n)
		nums := newHyperLogLog()
		for i := range n {
			nums.addHash(uint64(i)) // consecutive numbers: the finaliser spreads them
		}
		require.InEpsilon(t, float64(n), float64(nums.estimate()), 0.03, "n=%d numbers", n)
	}
}

// TestReservoirIsUniform: past its size, the sample still spreads over the
// whole stream, so the quantiles of a long uniform stream come out right.
func TestReservoirIsUniform(t *testing.T) {
	a := newFeatureAcc(storage.Feature{Name: "x", Type: storage.TypeFloat64})
	const n = 2_000_000
	for i := range n {
		a.addNumber(float64(i))
	}
	require.Len(t, a.sample, reservoirSize)
	s := slices.Sorted(slices.Values(a.sample))
	for _, q := range []float64{0.05, 0.25, 0.5, 0.75, 0.95} {
		require.InDelta(t, q*n, quantile(s, q), 0.02*n, "quantile %v", q)
	}
}

// BenchmarkDistinctPastLimit: a feature whose distinct values pass the
// exact-count limit, where each value goes to the HyperLogLog sketch.
func BenchmarkDistinctPastLimit(b *testing.B) {
	a := newFeatureAcc(storage.Feature{Name: "x", Type: storage.TypeFloat64})
	b.ResetTimer()
	for i := range b.N {
		a.addNumber(float64(i))
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "values/s")
}
