package storage

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sync"
	"syscall"
)

// ackFileName is the acknowledged-writes record beside Badger's files.
const ackFileName = "ACKNOWLEDGED"

// The record holds two 64-byte slots, written alternately, so a torn write
// of one leaves the other intact:
//
//	0  magic "TFACK001"
//	8  store id (16 bytes)
//	24 highest acknowledged seq
//	32 write counter (the slot is counter % 2)
//	40 highest acknowledged registry generation (0 in records written
//	   before registry changes were recorded, whose bytes 40..60 are zero)
//	48 reserved (12 bytes)
//	60 CRC-32C of bytes 0..60
const (
	ackSlot  = 64
	ackMagic = "TFACK001"
)

// storeID identifies a store; it is kept in Badger and in the ack file, so a
// data directory and an ack file from different stores are never mixed up.
type storeID [16]byte

func (id storeID) String() string { return hex.EncodeToString(id[:]) }

// ackFile is an independent, fsynced record of the highest sequence number
// the store has acknowledged, and of the registry generation (a count of
// applied registry changes, kept in Badger beside the definitions). Badger trusts its own files: a damaged WAL
// silently ends the log early, and a lost MANIFEST opens an empty store.
// Comparing the store with this record at open turns both into a refusal.
type ackFile struct {
	mu      sync.Mutex // serialises records; a writer waits here for its fsync
	f       *os.File
	id      storeID
	seq     uint64
	reg     uint64
	counter uint64
	sync    bool
	buf     [ackSlot]byte
}

// readAckFile reads the record in dir. It returns ok=false when there is no
// record (a new store, or one created before the record existed).
func readAckFile(dir string) (id storeID, seq, reg uint64, ok bool, err error) {
	path := filepath.Join(dir, ackFileName)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return id, 0, 0, false, nil
	} else if err != nil {
		return id, 0, 0, false, err
	}
	var best uint64
	for slot := 0; slot+ackSlot <= len(b) && slot < 2*ackSlot; slot += ackSlot {
		s := b[slot : slot+ackSlot]
		if string(s[:8]) != ackMagic || crc32.Checksum(s[:60], crcTable) != binary.LittleEndian.Uint32(s[60:]) {
			continue
		}
		if c := binary.LittleEndian.Uint64(s[32:]); !ok || c > best {
			best, ok = c, true
			copy(id[:], s[8:24])
			seq = binary.LittleEndian.Uint64(s[24:])
			reg = binary.LittleEndian.Uint64(s[40:])
		}
	}
	if !ok {
		return id, 0, 0, false, fmt.Errorf("%w: %s is damaged (no valid slot), so acknowledged writes cannot be checked. If the data files are known to be intact, remove %s and open again",
			ErrDataLoss, path, ackFileName)
	}
	return id, seq, reg, true, nil
}

// createAckFile writes a fresh record for id at seq and registry generation
// reg, replacing any other.
func createAckFile(dir string, id storeID, seq, reg uint64, durable bool) (*ackFile, error) {
	path := filepath.Join(dir, ackFileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	a := &ackFile{f: f, id: id, sync: durable}
	// Both slots, so the record is valid whichever slot a later torn write hits.
	for i := 0; i < 2; i++ {
		if err := a.write(seq, reg); err != nil {
			f.Close()
			return nil, err
		}
	}
	if err := syncDir(dir); err != nil {
		f.Close()
		return nil, err
	}
	return a, nil
}

// record writes seq as acknowledged, unless the record already covers it.
// Writers call it after their batch is durable in Badger and before they
// are told, so a batch is acknowledged only once both are on disk; seq must
// be committed. Writers that wait while another one's fsync runs usually
// find their seq covered by it: one fsync serves them all.
func (a *ackFile) record(seq uint64) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.f == nil {
		return ErrClosed
	}
	if seq <= a.seq {
		return nil
	}
	return a.write(seq, a.reg)
}

// recordRegistry writes reg as the acknowledged registry generation. The
// registry calls it after a change is durable in Badger and before it
// answers.
func (a *ackFile) recordRegistry(reg uint64) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.f == nil {
		return ErrClosed
	}
	if reg <= a.reg {
		return nil
	}
	return a.write(a.seq, reg)
}

// write writes seq and reg to the next slot and syncs it.
func (a *ackFile) write(seq, reg uint64) error {
	a.counter++
	b := a.buf[:]
	clear(b)
	copy(b, ackMagic)
	copy(b[8:], a.id[:])
	binary.LittleEndian.PutUint64(b[24:], seq)
	binary.LittleEndian.PutUint64(b[32:], a.counter)
	binary.LittleEndian.PutUint64(b[40:], reg)
	binary.LittleEndian.PutUint32(b[60:], crc32.Checksum(b[:60], crcTable))
	if _, err := a.f.WriteAt(b, int64(a.counter%2)*ackSlot); err != nil {
		return fmt.Errorf("storage: recording acknowledged seq %d: %w", seq, err)
	}
	if a.sync {
		// The slots are written in place, so only their data needs to
		// reach the disk: fdatasync skips the inode's times, and with them
		// a journal commit, making the record a fraction of an fsync.
		if err := syscall.Fdatasync(int(a.f.Fd())); err != nil {
			return fmt.Errorf("storage: recording acknowledged seq %d: %w", seq, err)
		}
	}
	a.seq, a.reg = seq, reg
	return nil
}

func (a *ackFile) close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.f == nil {
		return nil
	}
	err := a.f.Close()
	a.f = nil
	return err
}
