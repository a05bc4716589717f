package storage

import "errors"

// Sentinel errors. Callers match them with errors.Is; returned errors wrap
// them with details.
var (
	ErrClosed         = errors.New("storage: closed")
	ErrUnknownEntity  = errors.New("storage: unknown entity")
	ErrUnknownView    = errors.New("storage: unknown feature view")
	ErrUnknownFeature = errors.New("storage: unknown feature")
	ErrUnknownSplit   = errors.New("storage: unknown split")
	ErrInvalid        = errors.New("storage: invalid argument")
	ErrSchemaMismatch = errors.New("storage: schema mismatch")
	ErrAlreadyExists  = errors.New("storage: already exists")
	ErrConflict       = errors.New("storage: batch id reused with different content")
	ErrCorrupt        = errors.New("storage: corrupt data")
	// ErrDataLoss means the store's files lost data or are damaged. Open
	// refuses a store that is missing acknowledged writes, and a read of a
	// damaged file fails with it instead of returning wrong values.
	ErrDataLoss = errors.New("storage: data loss")
	// ErrStorageFull means a write was refused because the data directory's
	// free space is below the configured reserve.
	ErrStorageFull = errors.New("storage: storage full")
	// ErrReadOnly means a write or a change to the definitions was refused
	// because the store is a sandbox (see Store.Sandbox) or a replica.
	ErrReadOnly = errors.New("storage: read-only store")
)
