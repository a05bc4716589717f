package filescan

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestContains(t *testing.T) {
	dir := t.TempDir()
	// A needle across the boundary of two blocks, and one past a hole.
	b := make([]byte, 3*block)
	copy(b[block-3:], "needle-one")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a"), b, 0o644))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "sub"), 0o755))
	f, err := os.Create(filepath.Join(dir, "sub", "b"))
	require.NoError(t, err)
	_, err = f.WriteAt([]byte("needle-two"), 5*block+7)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	found, err := Contains(dir, "needle-one", "needle-two", "needle-three")
	require.NoError(t, err)
	require.Equal(t, map[string]bool{"needle-one": true, "needle-two": true, "needle-three": false}, found)

	n, err := WrittenLen(filepath.Join(dir, "sub", "b"))
	require.NoError(t, err)
	require.Equal(t, int64(5*block+7+len("needle-two")), n)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "zeros"), make([]byte, 10), 0o644))
	n, err = WrittenLen(filepath.Join(dir, "zeros"))
	require.NoError(t, err)
	require.Zero(t, n)
}
