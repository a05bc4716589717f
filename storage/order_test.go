package storage

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// radixSort orders items as a stable sort by (head, event) does, on both
// sides of smallSort, with many equal heads and events.
func TestRadixSortIsStable(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{2, 3, 100, smallSort - 1, smallSort, smallSort + 1, 5000} {
		items := make([]orderItem, n)
		for i := range items {
			items[i] = orderItem{head: rng.Uint64N(uint64(n/3 + 1)), event: rng.Uint64N(4) << (8 * rng.IntN(8)), idx: int32(i)}
		}
		want := slices.Clone(items)
		slices.SortStableFunc(want, func(a, b orderItem) int {
			return cmp.Or(cmp.Compare(a.head, b.head), cmp.Compare(a.event, b.event))
		})
		radixSort(items)
		require.Equal(t, want, items, "%d items", n)
	}
}
