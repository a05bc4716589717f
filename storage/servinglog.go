package storage

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/dgraph-io/badger/v4"
)

// The serving log keeps the online lookups the server chose to log, each
// under l | read time (u64, sign bit flipped) | request id, so that a scan
// by read time is a range of keys. The value is the record as the server
// encodes it, then its CRC-32C (u32, little endian): a damaged record is
// refused as corrupt, never read as another. A sandbox keeps the records
// read no later than its cutoff and appends none.

// LogRecord is one logged lookup.
type LogRecord struct {
	ReadTime  int64 // Unix ns
	RequestID string
	Data      []byte
}

// MaxRequestIDBytes bounds a logged lookup's request id.
const MaxRequestIDBytes = 128

func logKey(readTime int64, id string) []byte {
	k := binary.BigEndian.AppendUint64([]byte{prefixServingLog}, uint64(readTime)^1<<63)
	return append(k, id...)
}

// logReadTime returns the read time of a serving log key.
func logReadTime(key []byte) (int64, bool) {
	if len(key) < 9 || key[0] != prefixServingLog {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(key[1:9]) ^ 1<<63), true
}

// AppendLog stores records in the serving log, in one transaction when they
// fit and in several otherwise; a record with the read time and request id
// of a stored one replaces it. It keeps half the space reserve free, as
// manifests do, and a sandbox refuses it.
func (s *Store) AppendLog(recs []LogRecord) error {
	if err := s.ReadOnly("appending to the serving log"); err != nil {
		return err
	}
	var need int64
	for _, r := range recs {
		if r.RequestID == "" || len(r.RequestID) > MaxRequestIDBytes {
			return fmt.Errorf("%w: serving log record: request id of %d bytes, want 1 to %d", ErrInvalid, len(r.RequestID), MaxRequestIDBytes)
		}
		need += int64(len(r.Data) + len(r.RequestID) + 9)
	}
	if err := s.checkSpace(need, s.recordKeep()); err != nil {
		return err
	}
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	for _, r := range recs {
		v := binary.LittleEndian.AppendUint32(append(make([]byte, 0, len(r.Data)+4), r.Data...), crc32.Checksum(r.Data, crcTable))
		if err := wb.Set(logKey(r.ReadTime, r.RequestID), v); err != nil {
			return err
		}
	}
	if err := wb.Flush(); err != nil {
		return err
	}
	s.notify()
	return nil
}

// checkLogValue returns the record of a serving log value after checking
// its checksum.
func checkLogValue(key, v []byte) ([]byte, error) {
	at, _ := logReadTime(key)
	if len(v) < 4 || crc32.Checksum(v[:len(v)-4], crcTable) != binary.LittleEndian.Uint32(v[len(v)-4:]) {
		return nil, fmt.Errorf("%w: serving log record %q read at %s fails its checksum", ErrCorrupt, key[min(len(key), 9):], FormatTime(at))
	}
	return v[:len(v)-4], nil
}

// ScanLog calls fn with each logged lookup read from since to until, both
// inclusive, in read time order. The record's Data is valid only during fn.
func (s *Store) ScanLog(ctx context.Context, since, until int64, fn func(LogRecord) error) error {
	if since > until {
		return nil
	}
	return s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{prefixServingLog}, PrefetchValues: true, PrefetchSize: 64})
		defer it.Close()
		n := 0
		for it.Seek(logKey(since, "")); it.Valid(); it.Next() {
			if n++; n%256 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			key := it.Item().Key()
			at, _ := logReadTime(key)
			if at > until {
				return nil
			}
			err := it.Item().Value(func(v []byte) error {
				data, err := checkLogValue(key, v)
				if err != nil {
					return err
				}
				return fn(LogRecord{ReadTime: at, RequestID: string(key[9:]), Data: data})
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
}
