// Package storage is timefence's versioned feature store.
//
// Every write of a feature view for an entity key is kept as its own version,
// with the writer's event time, the server-assigned available-at time and a
// strictly increasing sequence number. Reads evaluate one rule, the read rule:
//
//	candidates = versions with event_time <= t, available_at <= t, seq <= watermark
//	winner     = the candidate with the greatest (event_time, available_at, seq)
//
// Every read function takes its time bound t explicitly; there is no read
// without one. Online lookups pass t = now, point-in-time joins pass each spine
// row's timestamp.
//
//	st, err := storage.Open(storage.DefaultOptions(dir))
//	...
//	res, err := st.Write(ctx, storage.Batch{View: "user_stats", Rows: rows})
//	...
//	at, w := st.ReadTime()
//	results, err := st.Lookup(ctx, storage.Query{Proj: p, Keys: keys, Bounds: []storage.Bounds{storage.At(at)}, Watermark: w})
//
// # Two tiers: Badger is the record, columnar runs are what reads read
//
// Badger is the system of record. A batch is committed there first, durably
// and in one transaction. Its versions are packed in chunks of consecutive
// seqs, one Badger entry each, with a checksum (chunk.go): a bulk batch costs
// Badger a handful of entries, not one per version. Reads never iterate
// Badger: they read the view's history, a set of immutable columnar runs.
//
// A run holds the versions of one view whose seq lies in a range (lo, hi],
// all of them, sorted by entity key and, per key, newest first in the rule's
// order (event_time, available_at, seq descending). Its columns are the
// key (distinct keys plus the index of each key's first version), event
// time, available-at time, seq, flags, and one column per feature in Arrow's
// memory layout: a validity bitmap and a value buffer (int64, int32 and
// timestamps share one of int64s), or offsets and data for strings, bytes,
// JSON and maps, and for lists packed as Value packs them; float lists keep
// their items as float32s (value.go, run.go). A feature whose type widened
// (int32 to int64, float to double, and their lists) keeps its older runs
// as written; reads convert a run's column once to the type they read it as.
//
// A view's runs cover (0, watermark] without gaps or overlap:
//
//   - Each committed batch becomes a small in-memory run, added to the view's
//     history after the Badger commit and before the batch's watermark is
//     published, so a read at watermark W finds every version with seq <= W.
//   - A background compactor merges in-memory runs, writes them to files under
//     <data>/history/<view id>/ and merges files (compact.go). A file is
//     written to a temporary name, fsynced, renamed and its directory fsynced;
//     a run replaces the runs it merges in one atomic swap of the history's
//     snapshot. Readers hold a snapshot, so a run is unmapped only after the
//     last reader of it is done.
//   - Files are memory-mapped and read in place. Each section carries a
//     CRC-32C that is verified when the file is opened (runfile.go).
//   - At open, the files that chain from seq 0 are used, leftovers of an
//     interrupted merge are deleted, and the versions above the chain's end are
//     read back from Badger into an in-memory run. A file that fails its
//     checksum, or that claims versions Badger has not committed, is set aside
//     and its range re-read from Badger: runs can always be rebuilt from the
//     record, so a damaged run is a repair, never a wrong answer.
//
// Because versions are immutable and the runs of a view partition its
// versions by seq, the read rule's winner over the whole history is the
// greatest of the winners of each run: the rule is evaluated per run by
// run.winner and combined by newer (rule.go). That is its only
// implementation; online lookups, point-in-time joins (a sort-merge of the
// sorted spine keys against each run), the naive-join count, exports and
// statistics all read through it or through the same snapshot. A read pinned
// to an older watermark filters on the stored seq, so a dataset re-read gives
// the same output before, during and after compaction, and after a restart.
//
// # Group commit
//
// Every sync costs the same whatever it carries, so concurrent batches share
// one (group.go): writers queue their encoded batches, the writer at the
// front leads, and its group (the batches queued behind it, up to 16K rows)
// is committed in one Badger transaction with one sync. Each batch keeps its
// own consecutive seqs, chunks, batch record and commit time, exactly as if
// the batches had been committed one after the other, and the group is
// atomic, so each batch is too. A group too large for one transaction falls
// back to committing its batches one by one; a batch too large alone (only
// possible with tiny memtables) is refused whole.
// # Faults: refuse, detect or recover, never serve what cannot be vouched for
//
// Badger trusts its own files; the store checks them (opencheck.go,
// ackfile.go, space.go, docs/faults.md):
//
//   - Before Badger opens the directory, every table block is checked
//     against its checksum (Badger's reads would take a failing block for the
//     end of the data), a truncated table is an error instead of a panic,
//     tables the MANIFEST does not list are moved aside instead of deleted,
//     and a directory with tables but no MANIFEST is refused.
//   - ACKNOWLEDGED records the highest acknowledged seq, the registry
//     generation and the store id, fsynced after each batch or registry
//     change is durable and before it is acknowledged. A store behind it (a
//     cut write-ahead log, a lost MANIFEST, rolled-back files) or of another
//     id is refused at open: never served rolled back or empty.
//   - Writes are refused with ErrStorageFull while free space is under the
//     reserve, which keeps room for Badger's memory-mapped log, flushes and
//     compactions (whose exhaustion is a SIGBUS, not an error).
//   - Backups read one Badger snapshot and hold committed data only, so a
//     restore never has to undo a batch (backup.go); Verify reads everything
//     back and cross-checks the record, the histories and the manifests.
//   - A sandbox is a backup of a new store cut at a split: what is after the
//     cutoff is dropped while the backup is written, never copied then
//     removed; a store that is a sandbox refuses writes (sandbox.go).
//
// # Expectations
//
// A view's expectations are checked by the server before a batch is
// written; the validation events of a batch that failed warn expectations
// are committed in the batch's own transaction (expect.go).
package storage
