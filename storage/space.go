package storage

import (
	"fmt"
	"syscall"
)

// freeBytes returns the space available to the store in dir.
func freeBytes(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * st.Bsize, nil
}

// checkSpace refuses to write about need bytes when that would leave less
// than keep free. Badger writes its log through memory-mapped, preallocated
// files and dies with SIGBUS when the disk cannot back a page, and its
// flushes and compactions need room too. So batches are refused while the
// whole reserve is still free (writeKeep); the small registry and manifest
// records, which joins need, may use half of it (recordKeep); the compactor
// may use all but the last quarter, which Badger keeps for its own flushes
// (compactKeep). The check runs per write, so writes resume on their own
// once space returns.
func (s *Store) checkSpace(need, keep int64) error {
	if s.opts.ReserveBytes < 0 {
		return nil
	}
	free, err := freeBytes(s.opts.Dir)
	if err != nil {
		return fmt.Errorf("storage: checking free space in %s: %w", s.opts.Dir, err)
	}
	if free-need < keep {
		return fmt.Errorf("%w: %s has %s free, and writing %s more would leave less than %s of the %s reserve. Free space or move the data directory (the reserve is set by timefence serve --reserve)",
			ErrStorageFull, s.opts.Dir, sizeString(free), sizeString(need), sizeString(keep), sizeString(s.opts.ReserveBytes))
	}
	return nil
}

func (s *Store) writeKeep() int64   { return s.opts.ReserveBytes }
func (s *Store) recordKeep() int64  { return s.opts.ReserveBytes / 2 }
func (s *Store) compactKeep() int64 { return s.opts.ReserveBytes / 4 }

// sizeString formats a byte count in binary units.
func sizeString(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
