// Package tmpfs mounts small tmpfs file systems for the tests that fill a
// disk: a real file system that runs out of space, not a mock of one.
package tmpfs

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// Mount mounts a tmpfs of size (e.g. "96m") on a new temporary directory
// and returns it; it is unmounted when the test ends. The test is skipped
// where mounting is not allowed (not root, or no mount permission).
func Mount(t testing.TB, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	return dir
}

// Fill writes a file under dir until about leave bytes (in whole MiB) of
// its file system are free, and returns the file's path: removing it gives
// the space back.
func Fill(t testing.TB, dir string, leave int64) string {
	t.Helper()
	var fs syscall.Statfs_t
	if err := syscall.Statfs(dir, &fs); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	for range (int64(fs.Bavail)*int64(fs.Bsize) - leave) / (1 << 20) {
		if _, err := f.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}
