package storage

import (
	"log/slog"
	"time"
)

// Options configure a Store. Build them with DefaultOptions and the With methods.
type Options struct {
	// Dir is the data directory. It is created if missing.
	Dir string
	// SyncWrites makes every acknowledged write durable (fsync) before Write
	// returns. Default true; turn off only for throwaway stores.
	SyncWrites bool
	// MaxFutureSkew is how far past the commit time an event time may lie.
	// Default one hour.
	MaxFutureSkew time.Duration
	// Now is the wall clock. Default time.Now.
	Now func() time.Time
	// Logger receives the store's log lines. Default slog.Default().
	Logger *slog.Logger
	// CacheBytes is Badger's block cache size. Default 256 MiB.
	CacheBytes int64
	// FlushVersions is how many versions of a view may wait in memory before
	// the compactor writes them to a run file. Default 1M.
	FlushVersions int
	// FlushIdle writes a view's in-memory versions to a run file once no
	// batch of it has arrived for this long. Default 10 s.
	FlushIdle time.Duration
	// CompactInterval is how often the compactor looks at every view even
	// without writes. Default 1 s.
	CompactInterval time.Duration
	// ReserveBytes is the free space below which writes are refused with
	// ErrStorageFull, so that Badger and the compactor always have room to
	// flush and merge. Default 512 MiB; negative turns the check off.
	ReserveBytes int64
	// MemTableBytes is the size of Badger's memtables. Default 64 MiB.
	MemTableBytes int64
	// ReplicaOf is the address of a replica's primary, named when a write
	// is refused.
	ReplicaOf string

	// chunkBytes, in tests, cuts chunks at this size instead of Badger's
	// value threshold.
	chunkBytes int
}

// DefaultOptions returns the default options for a store in dir.
func DefaultOptions(dir string) Options {
	return Options{
		Dir:           dir,
		SyncWrites:    true,
		MaxFutureSkew: time.Hour,
		Now:           time.Now,
		Logger:        slog.Default(),
		CacheBytes:    256 << 20,

		FlushVersions:   1 << 20,
		FlushIdle:       10 * time.Second,
		CompactInterval: time.Second,

		ReserveBytes:  512 << 20,
		MemTableBytes: 64 << 20,
	}
}

// WithSyncWrites sets SyncWrites (default true).
func (o Options) WithSyncWrites(v bool) Options { o.SyncWrites = v; return o }

// WithMaxFutureSkew sets MaxFutureSkew (default one hour).
func (o Options) WithMaxFutureSkew(d time.Duration) Options { o.MaxFutureSkew = d; return o }

// WithNow sets the wall clock (default time.Now).
func (o Options) WithNow(now func() time.Time) Options { o.Now = now; return o }

// WithLogger sets the logger (default slog.Default()).
func (o Options) WithLogger(l *slog.Logger) Options { o.Logger = l; return o }

// WithCacheBytes sets Badger's block cache size (default 256 MiB).
func (o Options) WithCacheBytes(n int64) Options { o.CacheBytes = n; return o }

// WithFlushVersions sets FlushVersions (default 1M).
func (o Options) WithFlushVersions(n int) Options { o.FlushVersions = n; return o }

// WithFlushIdle sets FlushIdle (default 10 s).
func (o Options) WithFlushIdle(d time.Duration) Options { o.FlushIdle = d; return o }

// WithCompactInterval sets CompactInterval (default 1 s).
func (o Options) WithCompactInterval(d time.Duration) Options { o.CompactInterval = d; return o }

// WithReserveBytes sets ReserveBytes (default 512 MiB; negative turns the
// check off).
func (o Options) WithReserveBytes(n int64) Options { o.ReserveBytes = n; return o }

// WithMemTableBytes sets MemTableBytes (default 64 MiB).
func (o Options) WithMemTableBytes(n int64) Options { o.MemTableBytes = n; return o }
