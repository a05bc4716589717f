package storage

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// Chunks: how versions are kept in Badger. A committed batch is cut into
// chunks of consecutive versions, each one Badger entry:
//
//	key   = 'c' | view id u32 | first seq u64 | last seq u64   (big endian)
//	value = format u8 | commit time i64 | row* | crc32c u32
//	row   = uvarint len(key) | entity key | event time i64
//	        | uvarint available_at (0: the commit time) | uvarint len(value) | value
//
// The rows of a chunk have the seqs first..last in order; a row's value is
// its flags and feature values (encodeVersion). A chunk is cut once it
// reaches the store's chunk size, which is Badger's value threshold, so a
// full chunk lives in Badger's value log only and its key costs the
// transaction a few bytes: a bulk batch is a handful of entries instead of
// one per version. The checksum covers the whole value, so a chunk is
// checked wherever its bytes were kept.

const (
	chunkKeyLen = 21
	chunkFormat = 1
)

// chunkPrefix returns the key prefix of every chunk of a view.
func chunkPrefix(viewID uint32) []byte {
	return binary.BigEndian.AppendUint32([]byte{prefixChunk}, viewID)
}

// chunkKey returns the key of the chunk of a view holding seqs first..last.
func chunkKey(viewID uint32, first, last uint64) []byte {
	b := chunkPrefix(viewID)
	b = binary.BigEndian.AppendUint64(b, first)
	return binary.BigEndian.AppendUint64(b, last)
}

// parseChunkKey decodes a chunk key.
func parseChunkKey(k []byte) (viewID uint32, first, last uint64, err error) {
	if len(k) != chunkKeyLen || k[0] != prefixChunk {
		return 0, 0, 0, fmt.Errorf("%w: chunk key %x", ErrCorrupt, k)
	}
	first, last = binary.BigEndian.Uint64(k[5:]), binary.BigEndian.Uint64(k[13:])
	if first == 0 || last < first {
		return 0, 0, 0, fmt.Errorf("%w: chunk key %x holds seqs %d-%d", ErrCorrupt, k, first, last)
	}
	return binary.BigEndian.Uint32(k[1:]), first, last, nil
}

// writeChunks cuts rows, whose seqs start at first, into chunks of a batch
// committed at commit, and passes each to put. A chunk is cut once its value
// reaches size bytes. Each value is a new slice: Badger holds it until the
// transaction commits.
func writeChunks(viewID uint32, commit int64, size int, rows []encodedRow, first uint64, put func(key, value []byte) error) error {
	var buf []byte
	start := 0 // the first row of the chunk being built
	for i := range rows {
		if i == start {
			buf = append(make([]byte, 0, min(size, 64<<10)), chunkFormat)
			buf = binary.BigEndian.AppendUint64(buf, uint64(commit))
		}
		r := &rows[i]
		buf = binary.AppendUvarint(buf, uint64(len(r.key)))
		buf = append(buf, r.key...)
		buf = binary.BigEndian.AppendUint64(buf, uint64(r.event))
		buf = binary.AppendUvarint(buf, uint64(r.available))
		buf = binary.AppendUvarint(buf, uint64(len(r.value)))
		buf = append(buf, r.value...)
		if len(buf) < size && i < len(rows)-1 {
			continue
		}
		buf = binary.LittleEndian.AppendUint32(buf, crc32.Checksum(buf, crcTable))
		if err := put(chunkKey(viewID, first+uint64(start), first+uint64(i)), buf); err != nil {
			return err
		}
		start = i + 1
	}
	return nil
}

// chunkRow is one version read back from a chunk. Its key and value point
// into the chunk.
type chunkRow struct {
	key       []byte // entity key
	event     int64
	available int64
	seq       uint64
	value     []byte // flags and feature values
}

// decodeChunk checks a chunk's checksum and calls fn for each of its rows,
// which hold the seqs first..last.
func decodeChunk(b []byte, first, last uint64, fn func(*chunkRow) error) error {
	if len(b) < 13 {
		return fmt.Errorf("%w: chunk of seqs %d-%d is %d bytes", ErrCorrupt, first, last, len(b))
	}
	body := b[:len(b)-4]
	if crc32.Checksum(body, crcTable) != binary.LittleEndian.Uint32(b[len(b)-4:]) {
		return fmt.Errorf("%w: chunk of seqs %d-%d fails its checksum", ErrCorrupt, first, last)
	}
	if body[0] != chunkFormat {
		return fmt.Errorf("%w: chunk of seqs %d-%d has format %d", ErrCorrupt, first, last, body[0])
	}
	commit := int64(binary.BigEndian.Uint64(body[1:]))
	p := body[9:]
	var r chunkRow
	bad := func(what string) error {
		return fmt.Errorf("%w: chunk of seqs %d-%d: row of seq %d: bad %s", ErrCorrupt, first, last, r.seq, what)
	}
	for r.seq = first; r.seq <= last; r.seq++ {
		n, w := binary.Uvarint(p)
		if w <= 0 || uint64(len(p)-w) < n || uint64(len(p)-w)-n < 8 {
			return bad("key")
		}
		r.key, p = p[w:w+int(n)], p[w+int(n):]
		r.event, p = int64(binary.BigEndian.Uint64(p)), p[8:]
		avail, w := binary.Uvarint(p)
		if w <= 0 || avail > 1<<63-1 {
			return bad("available_at")
		}
		r.available, p = cmp.Or(int64(avail), commit), p[w:]
		n, w = binary.Uvarint(p)
		if w <= 0 || uint64(len(p)-w) < n || n == 0 {
			return bad("value")
		}
		r.value, p = p[w:w+int(n)], p[w+int(n):]
		if err := fn(&r); err != nil {
			return err
		}
	}
	if len(p) != 0 {
		return fmt.Errorf("%w: chunk of seqs %d-%d has %d bytes after its last row", ErrCorrupt, first, last, len(p))
	}
	return nil
}
