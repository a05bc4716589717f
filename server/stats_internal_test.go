package server

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestHyperLogLogEstimate(t *testing.T) {
	for _, n := range []int{1000, 50_000, 1_000_000} {
		h := newHyperLogLog()
		for i := range n {
			h.add("v" + strconv.Itoa(i))
			h.add("v" + strconv.Itoa(i)) // duplicates do not count
		}
		require.InEpsilon(t, float64(n), float64(h.estimate()), 0.03, "n=%d", n)
	}
}
