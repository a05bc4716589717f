package storage

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"github.com/dgraph-io/badger/v4/table"
	"github.com/dgraph-io/ristretto/v2/z"
	"golang.org/x/sync/errgroup"
)

// orphanDir is where table files the MANIFEST does not list are moved at
// open, instead of letting Badger delete them.
const orphanDir = "orphaned"

// checkDir runs before Badger opens the directory. Badger trusts its MANIFEST:
// it deletes every table file the MANIFEST does not list, starts an empty
// store when the MANIFEST is missing, and panics in a background goroutine on
// a truncated table. checkDir makes each of those a refusal or a recovery:
//
//   - a 0-byte memtable file, left by a kill while a memtable was being
//     created, holds nothing and is removed (Badger refuses to open past it);
//   - table files but no MANIFEST: refused, the data would be discarded;
//   - a MANIFEST that cannot be read, or lists a table that is missing:
//     refused;
//   - a table the MANIFEST does not list is moved to orphaned/ rather than
//     deleted. After a crash in a Badger compaction this is normal (the table
//     was never published); if the MANIFEST lost records, the acknowledged
//     sequence check after open refuses the store and the table is still there;
//   - every block of every listed table is checked against its checksum, so
//     a damaged table is an error naming the file, never a crash or a wrong
//     value. This must happen before Badger opens: its reads (iterators and
//     Get alike) treat a block that fails its checksum as the end of the
//     data, so a damaged block would read as missing versions, or as an
//     empty store, without an error.
func checkDir(dir string, log *slog.Logger) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	tables := map[uint64]string{}
	hasManifest := false
	for _, e := range ents {
		name := e.Name()
		switch {
		case name == badger.ManifestFilename:
			hasManifest = true
		case strings.HasSuffix(name, ".mem"):
			info, err := e.Info()
			if err != nil {
				return err
			}
			if info.Size() == 0 {
				log.Warn("removing an empty memtable file left by an interrupted start", "file", name)
				if err := os.Remove(filepath.Join(dir, name)); err != nil {
					return err
				}
			}
		case strings.HasSuffix(name, ".sst"):
			if id, ok := table.ParseFileID(name); ok {
				tables[id] = name
			}
		}
	}
	if !hasManifest {
		if len(tables) > 0 {
			return fmt.Errorf("%w: %s has table files (%d) but no MANIFEST; opening would discard them. Restore the MANIFEST or restore a backup into a new directory (timefence restore)",
				ErrDataLoss, dir, len(tables))
		}
		return nil
	}
	listed, err := readManifest(dir)
	if err != nil {
		return err
	}
	var missing []string
	for id := range listed {
		if _, ok := tables[id]; !ok {
			missing = append(missing, filepath.Base(table.NewFilename(id, dir)))
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return fmt.Errorf("%w: %s: the MANIFEST lists table files that are missing: %s. Restore a backup into a new directory (timefence restore)",
			ErrDataLoss, dir, strings.Join(missing, ", "))
	}
	for id, name := range tables {
		if _, ok := listed[id]; ok {
			continue
		}
		if err := os.MkdirAll(filepath.Join(dir, orphanDir), 0o755); err != nil {
			return err
		}
		log.Warn("moving a table file the MANIFEST does not list aside", "file", name, "to", orphanDir)
		if err := os.Rename(filepath.Join(dir, name), filepath.Join(dir, orphanDir, name)); err != nil {
			return err
		}
		delete(tables, id)
	}
	return verifyTables(dir, tables, listed)
}

// verifyTables checks the tables on every core; the first error wins.
func verifyTables(dir string, tables map[uint64]string, listed map[uint64]badger.TableManifest) error {
	ids := make(chan uint64, len(tables))
	for id := range tables {
		ids <- id
	}
	close(ids)
	var g errgroup.Group
	for range min(runtime.GOMAXPROCS(0), len(tables)) {
		g.Go(func() error {
			for id := range ids {
				if err := verifyTable(filepath.Join(dir, tables[id]), listed[id].Compression); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return g.Wait()
}

// readManifest returns the ids of the tables the MANIFEST lists, reading it
// without changing it.
func readManifest(dir string) (map[uint64]badger.TableManifest, error) {
	path := filepath.Join(dir, badger.ManifestFilename)
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m, _, err := badger.ReplayManifestFile(f, 0, badger.DefaultOptions(dir).WithLogger(nil))
	if err != nil {
		return nil, fmt.Errorf("%w: %s cannot be read (%v). Restore a backup into a new directory (timefence restore)", ErrDataLoss, path, err)
	}
	return m.Tables, nil
}

// verifyTable checks every block checksum of a table.
func verifyTable(path string, c options.CompressionType) error {
	return openTable(path, c, true)
}

// openTable opens a table read-only, decodes its index and, with verify,
// checks its blocks. Panics in Badger's table code become errors.
func openTable(path string, c options.CompressionType, verify bool) (err error) {
	mf, err := z.OpenMmapFile(path, os.O_RDONLY, 0)
	if err != nil {
		return fmt.Errorf("%w: table %s: %v", ErrDataLoss, path, err)
	}
	stage := "its index cannot be read (truncated or corrupt)"
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: table %s is damaged: %s. Restore a backup into a new directory (timefence restore)", ErrDataLoss, path, stage)
		}
		mf.Close(-1)
	}()
	// The table is never released through DecrRef, which would delete it.
	t, err := table.OpenTable(mf, table.Options{
		ReadOnly:    true,
		ChkMode:     options.NoVerification,
		BlockSize:   badger.DefaultOptions("").BlockSize,
		Compression: c,
	})
	if err == nil && verify {
		stage = "a block fails its checksum or cannot be decoded"
		err = t.VerifyChecksum()
	}
	if err != nil {
		return fmt.Errorf("%w: table %s is damaged: %v. Restore a backup into a new directory (timefence restore)", ErrDataLoss, path, err)
	}
	return nil
}
