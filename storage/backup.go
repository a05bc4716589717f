package storage

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"

	"github.com/dgraph-io/badger/v4"
)

// A backup file holds every key of the store as of one consistent snapshot,
// or, for an incremental backup, every key changed since an earlier one:
//
//	"TFBACK01"
//	records: uvarint key length | key | kind (0 set, 1 delete) | [uvarint value length | value]
//	footer: JSON BackupInfo
//	footer length (u32 LE) | CRC-32C of everything before it (u32 LE) | "TFBACKEN"
//
// The checksum covers the whole file, so a damaged or cut backup is refused
// before anything is restored from it.
const (
	backupMagic    = "TFBACK01"
	backupEndMagic = "TFBACKEN"
	backupTail     = 4 + 4 + len(backupEndMagic)
)

// BackupInfo describes a backup file; it is the file's footer.
type BackupInfo struct {
	Format  int    `json:"format"`
	StoreID string `json:"store_id"`
	// Since is the Badger version the backup starts from: 0 for a full
	// backup, else the NextSince of the backup it follows.
	Since uint64 `json:"since"`
	// SinceWatermark is the Watermark of the backup it follows (0 for a full
	// backup).
	SinceWatermark uint64 `json:"since_watermark"`
	// NextSince is where an incremental backup after this one starts.
	NextSince uint64 `json:"next_since"`
	// Watermark is the store's watermark in the snapshot: a restore of this
	// backup (and the ones before it) serves exactly the versions up to it.
	Watermark uint64 `json:"watermark"`
	Keys      int64  `json:"keys"`
	Deletes   int64  `json:"deletes"`
	Created   int64  `json:"created"` // Unix ns
}

// Backup writes a backup of the store to w while it keeps serving: a full
// one when after is nil, else an incremental one holding what changed since
// the backup after describes. It reads one snapshot, so the backup is
// consistent even while writes go on, and it holds committed data only:
// a batch committed after the snapshot is left out whole.
func (s *Store) Backup(ctx context.Context, w io.Writer, after *BackupInfo) (BackupInfo, error) {
	if s.closed.Load() {
		return BackupInfo{}, ErrClosed
	}
	info := BackupInfo{Format: 1, StoreID: s.ID(), Created: s.opts.Now().UnixNano()}
	if after != nil {
		if after.StoreID != info.StoreID {
			return info, fmt.Errorf("%w: the earlier backup is of store %s, this is store %s", ErrInvalid, after.StoreID, info.StoreID)
		}
		info.Since, info.SinceWatermark = after.NextSince, after.Watermark
	}
	bk, err := newBackupWriter(w)
	if err != nil {
		return info, err
	}
	txn := s.db.NewTransaction(false)
	defer txn.Discard()
	info.NextSince = txn.ReadTs() + 1
	seq, err := getUint(txn, metaSeq)
	if err != nil {
		return info, err
	}
	info.Watermark = seq
	// An incremental backup skips, without reading them, Badger's tables
	// and entries older than its start.
	it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, PrefetchSize: 256, AllVersions: true, SinceTs: info.Since - min(info.Since, 1)})
	defer it.Close()
	var last []byte
	for it.Rewind(); it.Valid(); it.Next() {
		item := it.Item()
		if last != nil && string(item.Key()) == string(last) {
			continue // an older version of a key already written or skipped
		}
		last = item.KeyCopy(last[:0])
		if string(last) == string(metaReplica) || !info.includes(last, item.Version()) {
			continue
		}
		if (info.Keys+info.Deletes)%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return info, err
			}
		}
		if item.IsDeletedOrExpired() {
			info.Deletes++
			err = bk.del(last)
		} else {
			info.Keys++
			err = item.Value(func(v []byte) error { return bk.set(last, v) })
		}
		if err != nil {
			return info, err
		}
	}
	return info, bk.finish(info)
}

// backupWriter writes a backup file: the magic, records, then the footer.
type backupWriter struct {
	bw  *bufio.Writer
	cw  *crcWriter
	buf []byte
}

func newBackupWriter(w io.Writer) (*backupWriter, error) {
	bw := bufio.NewWriterSize(w, 1<<20)
	b := &backupWriter{bw: bw, cw: &crcWriter{w: bw, h: crc32.New(crcTable)}}
	_, err := b.cw.Write([]byte(backupMagic))
	return b, err
}

// set writes a record setting key to value.
func (b *backupWriter) set(key, value []byte) error {
	b.buf = binary.AppendUvarint(b.buf[:0], uint64(len(key)))
	b.buf = append(b.buf, key...)
	b.buf = append(b.buf, 0)
	b.buf = binary.AppendUvarint(b.buf, uint64(len(value)))
	b.buf = append(b.buf, value...)
	_, err := b.cw.Write(b.buf)
	return err
}

// del writes a record deleting key.
func (b *backupWriter) del(key []byte) error {
	b.buf = binary.AppendUvarint(b.buf[:0], uint64(len(key)))
	b.buf = append(b.buf, key...)
	b.buf = append(b.buf, 1)
	_, err := b.cw.Write(b.buf)
	return err
}

// finish writes the footer and the checksum, and flushes.
func (b *backupWriter) finish(info BackupInfo) error {
	foot, err := json.Marshal(info)
	if err != nil {
		return err
	}
	if _, err := b.cw.Write(foot); err != nil {
		return err
	}
	if _, err := b.cw.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(foot)))); err != nil {
		return err
	}
	tail := binary.LittleEndian.AppendUint32(nil, b.cw.h.Sum32())
	if _, err := b.bw.Write(append(tail, backupEndMagic...)); err != nil {
		return err
	}
	return b.bw.Flush()
}

// includes tells whether a key whose newest Badger version is version
// belongs in the backup: it changed since the earlier backup. A batch's
// chunks and the records that publish it are committed in one Badger
// transaction, so they are in the same backup. A chunk above the watermark
// is left out; a chunk key that does not decode is kept, for Verify to
// report.
func (info *BackupInfo) includes(key []byte, version uint64) bool {
	if key[0] == prefixChunk {
		if _, _, last, err := parseChunkKey(key); err == nil && last > info.Watermark {
			return false
		}
	}
	return version >= info.Since
}

type crcWriter struct {
	w io.Writer
	h hash.Hash32
}

func (c *crcWriter) Write(p []byte) (int, error) {
	c.h.Write(p)
	return c.w.Write(p)
}

// ReadBackupInfo checks a backup file whole against its checksum and returns
// its footer. A damaged or cut file fails with an error wrapping ErrDataLoss.
func ReadBackupInfo(path string) (BackupInfo, error) {
	var info BackupInfo
	f, err := os.Open(path)
	if err != nil {
		return info, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return info, err
	}
	bad := func(why string) error {
		return fmt.Errorf("%w: backup %s is damaged or incomplete: %s", ErrDataLoss, path, why)
	}
	size := fi.Size()
	if size < int64(len(backupMagic)+backupTail) {
		return info, bad("too short")
	}
	tail := make([]byte, backupTail)
	if _, err := f.ReadAt(tail, size-int64(backupTail)); err != nil {
		return info, err
	}
	if string(tail[8:]) != backupEndMagic {
		return info, bad("no end marker (cut short?)")
	}
	flen := int64(binary.LittleEndian.Uint32(tail[:4]))
	h := crc32.New(crcTable)
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, size-4-int64(len(backupEndMagic)))); err != nil {
		return info, err
	}
	if h.Sum32() != binary.LittleEndian.Uint32(tail[4:8]) {
		return info, bad("checksum mismatch")
	}
	footStart := size - int64(backupTail) - flen
	if footStart < int64(len(backupMagic)) {
		return info, bad("footer length")
	}
	head := make([]byte, len(backupMagic))
	foot := make([]byte, flen)
	if _, err := f.ReadAt(head, 0); err != nil {
		return info, err
	}
	if _, err := f.ReadAt(foot, footStart); err != nil {
		return info, err
	}
	if string(head) != backupMagic {
		return info, bad("not a timefence backup")
	}
	if err := json.Unmarshal(foot, &info); err != nil {
		return info, bad("footer: " + err.Error())
	}
	return info, nil
}

// Restore builds a new store in dir from a full backup and the incremental
// backups that follow it, in order. Every file is checked whole before
// anything is written, and the chain must be unbroken: the same store, a
// full backup first, each next one starting where the one before ended. dir
// must not exist or be empty. Open the store afterwards as usual; its
// columnar history is rebuilt from the restored record.
func Restore(dir string, paths []string) (BackupInfo, error) {
	if len(paths) == 0 {
		return BackupInfo{}, fmt.Errorf("%w: no backup files to restore", ErrInvalid)
	}
	infos := make([]BackupInfo, len(paths))
	for i, p := range paths {
		info, err := ReadBackupInfo(p)
		if err != nil {
			return BackupInfo{}, err
		}
		switch {
		case i == 0 && info.Since != 0:
			return info, fmt.Errorf("%w: %s is an incremental backup; restore starts from a full one", ErrInvalid, p)
		case i > 0 && info.StoreID != infos[0].StoreID:
			return info, fmt.Errorf("%w: %s is a backup of store %s, not %s", ErrInvalid, p, info.StoreID, infos[0].StoreID)
		case i > 0 && (info.Since != infos[i-1].NextSince || info.SinceWatermark != infos[i-1].Watermark):
			return info, fmt.Errorf("%w: %s starts at version %d, but %s ends at %d: a backup is missing between them or they are out of order",
				ErrInvalid, p, info.Since, paths[i-1], infos[i-1].NextSince)
		}
		infos[i] = info
	}
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return BackupInfo{}, fmt.Errorf("%w: %s is not empty; restore into a new directory", ErrInvalid, dir)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return BackupInfo{}, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return BackupInfo{}, err
	}
	def := DefaultOptions(dir)
	db, err := badger.Open(badger.DefaultOptions(dir).WithLogger(nil).WithMemTableSize(def.MemTableBytes))
	if err != nil {
		return BackupInfo{}, err
	}
	for _, p := range paths {
		if err := loadBackup(db, p); err != nil {
			db.Close()
			return BackupInfo{}, fmt.Errorf("restore %s: %w", p, err)
		}
	}
	if err := db.Close(); err != nil {
		return BackupInfo{}, err
	}
	if err := syncDir(filepath.Clean(dir)); err != nil {
		return BackupInfo{}, err
	}
	return infos[len(infos)-1], nil
}

// loadBackup applies one checked backup file's records to db.
func loadBackup(db *badger.DB, path string) error {
	wb := db.NewWriteBatch()
	defer wb.Cancel()
	err := readBackupRecords(path, func(key, value []byte, del bool) error {
		if del {
			return wb.Delete(key)
		}
		return wb.Set(key, value)
	})
	if err != nil {
		return err
	}
	if err := wb.Flush(); err != nil {
		return err
	}
	return db.Sync()
}

// readBackupRecords calls fn for each record of a checked backup file; a
// deletion has del set and a nil value.
func readBackupRecords(path string, fn func(key, value []byte, del bool) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	tail := make([]byte, backupTail)
	if _, err := f.ReadAt(tail, fi.Size()-int64(backupTail)); err != nil {
		return err
	}
	body := fi.Size() - int64(backupTail) - int64(binary.LittleEndian.Uint32(tail[:4])) - int64(len(backupMagic))
	r := bufio.NewReaderSize(io.NewSectionReader(f, int64(len(backupMagic)), body), 1<<20)
	for {
		klen, err := binary.ReadUvarint(r)
		if errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return err
		}
		rec := make([]byte, klen+1)
		if _, err := io.ReadFull(r, rec); err != nil {
			return err
		}
		key, kind := rec[:klen], rec[klen]
		if len(key) == 0 {
			return fmt.Errorf("%w: empty key in backup %s", ErrCorrupt, path)
		}
		if kind == 1 {
			if err := fn(key, nil, true); err != nil {
				return err
			}
			continue
		}
		vlen, err := binary.ReadUvarint(r)
		if err != nil {
			return err
		}
		val := make([]byte, vlen)
		if _, err := io.ReadFull(r, val); err != nil {
			return err
		}
		if err := fn(key, val, false); err != nil {
			return err
		}
	}
}
