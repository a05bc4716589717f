package client

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Sentinel errors, one per reason of docs/errors.md, with the same names as
// the Python client's exception classes (ErrCutoffExceeded there is
// CutoffExceeded). Match them with errors.Is; *Error carries the details.
var (
	// ErrInvalidArgument: malformed input; nothing of the request was written.
	ErrInvalidArgument    = errors.New("timefence: invalid argument")
	ErrUnknownEntity      = errors.New("timefence: unknown entity")
	ErrUnknownFeatureView = errors.New("timefence: unknown feature view")
	ErrUnknownFeature     = errors.New("timefence: unknown feature")
	ErrUnknownSplit       = errors.New("timefence: unknown split")
	ErrUnknownDataset     = errors.New("timefence: unknown dataset")
	// ErrSchemaMismatch: a definition change that would break readers.
	ErrSchemaMismatch = errors.New("timefence: schema mismatch")
	// ErrSplitExists: a split of that name exists with other bounds.
	ErrSplitExists = errors.New("timefence: split exists with other bounds")
	// ErrBatchConflict: a batch id reused for different content.
	ErrBatchConflict = errors.New("timefence: batch id reused with different content")
	// ErrSplitRequired: a training-side read without a split.
	ErrSplitRequired = errors.New("timefence: split required")
	// ErrCutoffExceeded: a time outside the split's window; metadata
	// "offending_rows" and "first_rows" say which.
	ErrCutoffExceeded = errors.New("timefence: cutoff exceeded")
	// ErrFutureTime: an as-of time or a spine timestamp lies later than the
	// server's now by more than its allowed clock skew; metadata "time" and
	// "now" say which and when.
	ErrFutureTime = errors.New("timefence: time later than now")
	// ErrDatasetMismatch: a dataset id re-read with another spine.
	ErrDatasetMismatch = errors.New("timefence: spine differs from the dataset's")
	// ErrLimitExceeded: the request is past one of the server's limits on
	// rows, bytes or values per request; the message names it.
	ErrLimitExceeded = errors.New("timefence: request limit exceeded")
	// ErrStreamIdle: the server closed a Flight stream that neither read
	// nor sent anything for its idle timeout.
	ErrStreamIdle = errors.New("timefence: stream idle")
	// ErrStorageFull: a write was refused because the server's data
	// directory has less free space than its reserve. Nothing was written.
	ErrStorageFull = errors.New("timefence: storage full")
	// ErrReadOnly: the server serves a sandbox or is a read replica, which
	// refuse writes and changes to their definitions; the message names
	// where the sandbox was cut, or the replica's primary.
	ErrReadOnly = errors.New("timefence: read-only store")
	// ErrReplicaBehind: a read replica had not reached the read's
	// MinWatermark within the call's deadline (at most 5 s); the message
	// gives its lag. Retry, or read from the primary.
	ErrReplicaBehind = errors.New("timefence: replica behind min watermark")
	// ErrExpectationFailed: a write batch failed a hard expectation of its
	// feature view; the message names it and the first failing rows.
	// Nothing of the batch was written.
	ErrExpectationFailed = errors.New("timefence: expectation failed")
	// ErrDataLoss: stored data failed a check and was not served.
	ErrDataLoss = errors.New("timefence: data loss")
	// ErrPermissionDenied: the credential may not make the call.
	ErrPermissionDenied = errors.New("timefence: permission denied")
	// ErrUnauthenticated: auth is on and the call had no known token.
	ErrUnauthenticated = errors.New("timefence: unauthenticated")
	// ErrUnavailable: the server is closing or cannot be reached.
	ErrUnavailable = errors.New("timefence: server unavailable")
	// ErrDeadlineExceeded is context.DeadlineExceeded: a call out of time
	// matches both.
	ErrDeadlineExceeded = context.DeadlineExceeded
	// ErrCancelled is context.Canceled.
	ErrCancelled = context.Canceled
	// ErrInternal: a bug or a storage failure on the server; metadata
	// "request_id" finds its cause in the server log.
	ErrInternal = errors.New("timefence: internal error")
)

// reasons maps each ErrorInfo reason to its sentinel. It is checked against
// the table of docs/errors.md and against the Python client's classes.
var reasons = map[string]error{
	"INVALID_ARGUMENT":     ErrInvalidArgument,
	"UNKNOWN_ENTITY":       ErrUnknownEntity,
	"UNKNOWN_FEATURE_VIEW": ErrUnknownFeatureView,
	"UNKNOWN_FEATURE":      ErrUnknownFeature,
	"UNKNOWN_SPLIT":        ErrUnknownSplit,
	"UNKNOWN_DATASET":      ErrUnknownDataset,
	"SCHEMA_MISMATCH":      ErrSchemaMismatch,
	"SPLIT_EXISTS":         ErrSplitExists,
	"BATCH_ID_CONFLICT":    ErrBatchConflict,
	"SPLIT_REQUIRED":       ErrSplitRequired,
	"CUTOFF_EXCEEDED":      ErrCutoffExceeded,
	"FUTURE_TIME":          ErrFutureTime,
	"DATASET_MISMATCH":     ErrDatasetMismatch,
	"LIMIT_EXCEEDED":       ErrLimitExceeded,
	"STREAM_IDLE":          ErrStreamIdle,
	"STORAGE_FULL":         ErrStorageFull,
	"READ_ONLY":            ErrReadOnly,
	"REPLICA_BEHIND":       ErrReplicaBehind,
	"EXPECTATION_FAILED":   ErrExpectationFailed,
	"DATA_LOSS":            ErrDataLoss,
	"PERMISSION_DENIED":    ErrPermissionDenied,
	"UNAUTHENTICATED":      ErrUnauthenticated,
	"UNAVAILABLE":          ErrUnavailable,
	"DEADLINE_EXCEEDED":    ErrDeadlineExceeded,
	"CANCELLED":            ErrCancelled,
	"INTERNAL":             ErrInternal,
}

// byCode is the sentinel of a status that carries no reason: one made by
// gRPC itself (a message too large, a server out of reach, a deadline).
var byCode = map[codes.Code]error{
	codes.InvalidArgument:   ErrInvalidArgument,
	codes.OutOfRange:        ErrInvalidArgument,
	codes.ResourceExhausted: ErrLimitExceeded,
	codes.PermissionDenied:  ErrPermissionDenied,
	codes.Unauthenticated:   ErrUnauthenticated,
	codes.Unavailable:       ErrUnavailable,
	codes.DeadlineExceeded:  ErrDeadlineExceeded,
	codes.Canceled:          ErrCancelled,
	codes.Internal:          ErrInternal,
	codes.DataLoss:          ErrDataLoss,
}

// Error is an error returned by the server.
type Error struct {
	Code     codes.Code
	Reason   string // ErrorInfo reason, e.g. "CUTOFF_EXCEEDED"
	Message  string
	Metadata map[string]string // ErrorInfo metadata, e.g. "offending_rows"
}

func (e *Error) Error() string { return fmt.Sprintf("timefence: %s", e.Message) }

// Is matches the sentinel of the error's reason, or of its code when the
// server gave no reason. A call out of time matches context.DeadlineExceeded,
// a cancelled one context.Canceled.
func (e *Error) Is(target error) bool {
	if s, ok := reasons[e.Reason]; ok {
		return s == target
	}
	return byCode[e.Code] == target
}

// fromStatus converts a gRPC error into *Error; other errors pass through.
func fromStatus(err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	e := &Error{Code: st.Code(), Message: st.Message()}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			e.Reason, e.Metadata = info.GetReason(), info.GetMetadata()
		}
	}
	return e
}
