package storage

import (
	"cmp"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

var (
	metaSeq   = []byte("m/seq")   // the last committed sequence number
	metaClock = []byte("m/clock") // the last commit time
	metaID    = []byte("m/id")    // the store id, also kept in the ack file
	// metaRegistry counts the registry changes applied, also kept in the ack file.
	metaRegistry = []byte("m/registry")
)

// Store is a versioned feature store. It is safe for concurrent use.
type Store struct {
	db   *badger.DB
	opts Options

	regWrite   sync.Mutex   // serialises registry changes
	regMu      sync.RWMutex // guards the maps below
	entities   map[string]*Entity
	views      map[string]*View
	splits     map[string]*Split
	lastViewID uint32
	regGen     uint64 // registry changes applied (metaRegistry); guarded by regWrite

	queueMu sync.Mutex     // guards queue and leading
	queue   []*queuedWrite // batches waiting to commit, in arrival order
	leading bool           // a writer is leading a group

	writeMu sync.Mutex                 // serialises batch commits
	ack     *ackFile                   // the acknowledged-writes record; guarded by writeMu
	sandbox *SandboxInfo               // set when the store is a sandbox: read-only
	replica atomic.Pointer[BackupInfo] // set when the store is a replica: its last increment
	clock   clock
	closed  atomic.Bool

	histMu sync.RWMutex
	hist   map[uint32]*history // by view id

	compactWake chan struct{} // nudges the compactor; buffered, never blocks
	compactStop chan struct{}
	compactDone chan struct{}
	compactedMu sync.Mutex
	compacted   chan struct{} // closed and replaced after each compaction round

	changeMu sync.Mutex
	changes  chan struct{} // closed and replaced at each change (Changes)
}

// Open opens (or creates) the store in opts.Dir and finishes or undoes any
// batch a crash interrupted.
func Open(opts Options) (*Store, error) {
	if opts.Dir == "" {
		return nil, fmt.Errorf("%w: data directory is empty", ErrInvalid)
	}
	def := DefaultOptions(opts.Dir)
	if opts.Now == nil {
		opts.Now = def.Now
	}
	if opts.Logger == nil {
		opts.Logger = def.Logger
	}
	if opts.CacheBytes == 0 {
		opts.CacheBytes = def.CacheBytes
	}
	if opts.FlushVersions <= 0 {
		opts.FlushVersions = def.FlushVersions
	}
	if opts.FlushIdle <= 0 {
		opts.FlushIdle = def.FlushIdle
	}
	if opts.CompactInterval <= 0 {
		opts.CompactInterval = def.CompactInterval
	}
	if opts.ReserveBytes == 0 {
		opts.ReserveBytes = def.ReserveBytes
	}
	if opts.MemTableBytes <= 0 {
		opts.MemTableBytes = def.MemTableBytes
	}
	if err := checkDir(opts.Dir, opts.Logger); err != nil {
		return nil, err
	}
	bopts := badger.DefaultOptions(opts.Dir).
		WithSyncWrites(opts.SyncWrites).
		WithNumVersionsToKeep(1).
		WithBlockCacheSize(opts.CacheBytes).
		WithMemTableSize(opts.MemTableBytes).
		WithValueLogFileSize(min(1<<30, 16*opts.MemTableBytes)).
		WithValueThreshold(valueThreshold(opts)).
		WithChecksumVerificationMode(options.OnBlockRead).
		WithVerifyValueChecksum(true).
		WithLogger(badgerLogger{opts.Logger}).
		WithMetricsEnabled(false)
	db, err := badger.Open(bopts)
	if err != nil {
		return nil, fmt.Errorf("storage: open %s: %w", opts.Dir, err)
	}
	s := &Store{db: db, opts: opts}
	s.clock.now = func() int64 { return opts.Now().UnixNano() }
	if err := s.checkFormat(); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.checkAcknowledged(); err != nil {
		db.Close()
		return nil, err
	}
	if s.sandbox, err = readSandbox(db); err != nil {
		s.ack.close()
		db.Close()
		return nil, fmt.Errorf("storage: open %s: %w", opts.Dir, err)
	}
	replica, err := readReplica(db)
	if err != nil {
		s.ack.close()
		db.Close()
		return nil, fmt.Errorf("storage: open %s: %w", opts.Dir, err)
	}
	s.replica.Store(replica)
	s.changes = make(chan struct{})
	if err := s.recover(); err != nil {
		s.ack.close()
		db.Close()
		return nil, err
	}
	if err := s.loadRegistry(); err != nil {
		s.ack.close()
		db.Close()
		return nil, err
	}
	if err := s.openHistories(); err != nil {
		s.ack.close()
		db.Close()
		return nil, err
	}
	s.compactWake = make(chan struct{}, 1)
	s.compactStop = make(chan struct{})
	s.compactDone = make(chan struct{})
	s.compacted = make(chan struct{})
	go s.compactLoop()
	return s, nil
}

// Close writes the in-memory runs to run files, then closes the store.
func (s *Store) Close() error { return s.close(true) }

// close closes the store; without persist, in-memory runs are dropped as in
// a crash, and the next open reads their versions back from Badger.
func (s *Store) close(persist bool) error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	close(s.compactStop)
	<-s.compactDone
	// Persist what is still in memory, so the next open need not read it
	// back from Badger.
	if persist {
		s.compactAll(true)
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.histMu.Lock()
	for _, h := range s.hist {
		h.close()
	}
	s.histMu.Unlock()
	s.ack.close()
	return s.db.Close()
}

// historyFor returns the history of a view, or nil for an unknown view id.
func (s *Store) historyFor(viewID uint32) *history {
	s.histMu.RLock()
	defer s.histMu.RUnlock()
	return s.hist[viewID]
}

// Watermark returns the highest sequence number visible to reads.
func (s *Store) Watermark() uint64 { return s.clock.watermark() }

// ReadTime returns the time and watermark of an online read at now. A read at
// that time and watermark can be repeated later with the same result.
func (s *Store) ReadTime() (at int64, watermark uint64) { return s.clock.readTime() }

// checkAcknowledged compares the store with its ack file and refuses a store
// that lost acknowledged writes: Badger ends its log at the first damaged
// entry, and opens an empty store when its MANIFEST is gone, without an
// error either time. A store that is ahead of the record (a crash between the
// Badger commit and the record) is fine: the record catches up.
func (s *Store) checkAcknowledged() error {
	dir := s.opts.Dir
	ackID, acked, ackedReg, hasAck, err := readAckFile(dir)
	if err != nil {
		return err
	}
	var id storeID
	var seq uint64
	hasID := false
	err = s.db.View(func(txn *badger.Txn) error {
		if seq, err = getUint(txn, metaSeq); err != nil {
			return err
		}
		if s.regGen, err = getUint(txn, metaRegistry); err != nil {
			return err
		}
		item, err := txn.Get(metaID)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		return item.Value(func(b []byte) error {
			if len(b) != len(id) {
				return fmt.Errorf("%w: store id of %d bytes", ErrCorrupt, len(b))
			}
			copy(id[:], b)
			hasID = true
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("storage: open %s: %w", dir, err)
	}
	restore := "Restore the latest backup into a new directory (timefence restore) and point the server at it"
	switch {
	case hasAck && !hasID && seq == 0:
		return fmt.Errorf("%w: %s opened as an empty store, but its %s file records %d acknowledged writes of store %s: Badger's files are missing or unreadable. %s",
			ErrDataLoss, dir, ackFileName, acked, ackID, restore)
	case hasAck && hasID && id != ackID:
		return fmt.Errorf("%w: %s holds store %s but its %s file belongs to store %s: files of two stores are mixed. %s",
			ErrDataLoss, dir, id, ackFileName, ackID, restore)
	case hasAck && seq < acked:
		return fmt.Errorf("%w: %s ends at seq %d, but writes up to seq %d were acknowledged: seq %d to %d are lost (a damaged write-ahead log or rolled-back files). %s",
			ErrDataLoss, dir, seq, acked, seq+1, acked, restore)
	case hasAck && s.regGen < ackedReg:
		return fmt.Errorf("%w: %s holds registry generation %d, but changes to the definitions up to generation %d were acknowledged: entities, feature views or splits applied since are lost (rolled-back files). %s",
			ErrDataLoss, dir, s.regGen, ackedReg, restore)
	}
	if !hasID {
		if hasAck {
			id = ackID
		} else if _, err := rand.Read(id[:]); err != nil {
			return err
		}
		err := s.db.Update(func(txn *badger.Txn) error { return txn.Set(metaID, id[:]) })
		if err == nil {
			err = s.db.Sync()
		}
		if err != nil {
			return fmt.Errorf("storage: open %s: recording the store id: %w", dir, err)
		}
	}
	s.ack, err = createAckFile(dir, id, seq, s.regGen, s.opts.SyncWrites)
	return err
}

// checkFormat refuses a store written by the first development releases,
// which kept one Badger key per version instead of chunks.
func (s *Store) checkFormat() error {
	return s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{prefixVersionV0}})
		defer it.Close()
		if it.Rewind(); it.Valid() {
			return fmt.Errorf("storage: %s was written by an earlier development release of timefence, which kept one key per version; this release keeps versions in chunks and cannot read it. Export its views with that release and write them again",
				s.opts.Dir)
		}
		return nil
	})
}

// ID returns the store's identity, a random id fixed when it was created.
func (s *Store) ID() string { return s.ack.id.String() }

// recover loads the committed watermark and the clock.
func (s *Store) recover() error {
	return s.db.View(func(txn *badger.Txn) error {
		seq, err := getUint(txn, metaSeq)
		if err != nil {
			return err
		}
		last, err := getUint(txn, metaClock)
		if err != nil {
			return err
		}
		s.clock.committed, s.clock.last = seq, int64(last)
		return nil
	})
}

func getUint(txn *badger.Txn, key []byte) (uint64, error) {
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return 0, nil
	} else if err != nil {
		return 0, err
	}
	var v uint64
	err = item.Value(func(b []byte) error {
		if len(b) != 8 {
			return fmt.Errorf("%w: %s", ErrCorrupt, key)
		}
		v = binary.BigEndian.Uint64(b)
		return nil
	})
	return v, err
}

func uintBytes(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// badgerLogger sends Badger's warnings and errors to slog; its chatter is dropped.
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(f string, a ...any) {
	b.l.Error(fmt.Sprintf(f, a...), "component", "badger")
}
func (b badgerLogger) Warningf(f string, a ...any) {
	b.l.Warn(fmt.Sprintf(f, a...), "component", "badger")
}
func (b badgerLogger) Infof(string, ...any)  {}
func (b badgerLogger) Debugf(string, ...any) {}

// valueThreshold is the size from which Badger keeps a value in its value
// log only. A chunk is cut at that size (chunk.go).
func valueThreshold(opts Options) int64 { return min(1<<20, opts.MemTableBytes/8) }

func (s *Store) chunkBytes() int { return cmp.Or(s.opts.chunkBytes, int(valueThreshold(s.opts))) }
