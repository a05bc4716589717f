package grpcbuf

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// A buffer is at most twice the message it holds, up to 16 MiB.
func TestReceiveTiers(t *testing.T) {
	for _, size := range []int{1, 257, 40_000, 100_000, 3 << 20, 16 << 20} {
		b := Receive.Get(size)
		require.Len(t, *b, size)
		require.LessOrEqual(t, cap(*b), max(256, 2*size), "size %d", size)
		Receive.Put(b)
	}
}
