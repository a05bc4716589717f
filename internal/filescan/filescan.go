// Package filescan finds byte strings in the files of a directory, reading
// each file in blocks: a store's files include logs preallocated to a
// gigabyte, which the tests that scan them must not hold in memory.
package filescan

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

const block = 1 << 20

// Contains reports, for each of needles, whether any file under dir holds it.
func Contains(dir string, needles ...string) (map[string]bool, error) {
	found := make(map[string]bool, len(needles))
	longest := 0
	for _, n := range needles {
		longest = max(longest, len(n))
	}
	buf := make([]byte, longest+block)
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		kept := 0 // the tail of the previous block, for a needle across two
		for {
			n, err := io.ReadFull(f, buf[kept:])
			window := buf[:kept+n]
			for _, needle := range needles {
				found[needle] = found[needle] || bytes.Contains(window, []byte(needle))
			}
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil
			} else if err != nil {
				return err
			}
			kept = min(longest, len(window))
			copy(buf, window[len(window)-kept:])
		}
	})
	return found, err
}

// WrittenLen returns the length of path without its trailing zero bytes: the
// written part of a preallocated log.
func WrittenLen(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	buf := make([]byte, block)
	for end := fi.Size(); end > 0; {
		start := max(0, end-block)
		b := buf[:end-start]
		if _, err := f.ReadAt(b, start); err != nil {
			return 0, err
		}
		if i := len(bytes.TrimRight(b, "\x00")); i > 0 {
			return start + int64(i), nil
		}
		end = start
	}
	return 0, nil
}
