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
)
