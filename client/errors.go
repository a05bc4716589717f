package client

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Sentinel errors, matched with errors.Is against errors returned by Client.
var (
	ErrInvalidArgument = errors.New("timefence: invalid argument")
	ErrUnknownEntity   = errors.New("timefence: unknown entity")
	ErrUnknownView     = errors.New("timefence: unknown feature view")
	ErrUnknownFeature  = errors.New("timefence: unknown feature")
	ErrUnknownSplit    = errors.New("timefence: unknown split")
	ErrSchemaMismatch  = errors.New("timefence: schema mismatch")
	ErrSplitExists     = errors.New("timefence: split exists with other bounds")
	ErrBatchConflict   = errors.New("timefence: batch id reused with different content")
	ErrSplitRequired   = errors.New("timefence: split required")
	ErrCutoffExceeded  = errors.New("timefence: cutoff exceeded")
	// ErrFutureTime: an as-of time or a spine timestamp lies later than the
	// server's now by more than its allowed clock skew; metadata "time" and
	// "now" say which and when.
	ErrFutureTime      = errors.New("timefence: time later than now")
	ErrPermission      = errors.New("timefence: permission denied")
	ErrUnavailable     = errors.New("timefence: server unavailable")
	ErrUnknownDataset  = errors.New("timefence: unknown dataset")
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
	// ErrDataLoss: stored data failed a check and was not served.
	ErrDataLoss = errors.New("timefence: data loss")
)

var reasons = map[string]error{
	"INVALID_ARGUMENT":     ErrInvalidArgument,
	"UNKNOWN_ENTITY":       ErrUnknownEntity,
	"UNKNOWN_FEATURE_VIEW": ErrUnknownView,
	"UNKNOWN_FEATURE":      ErrUnknownFeature,
	"UNKNOWN_SPLIT":        ErrUnknownSplit,
	"SCHEMA_MISMATCH":      ErrSchemaMismatch,
	"SPLIT_EXISTS":         ErrSplitExists,
	"BATCH_ID_CONFLICT":    ErrBatchConflict,
	"SPLIT_REQUIRED":       ErrSplitRequired,
	"CUTOFF_EXCEEDED":      ErrCutoffExceeded,
	"FUTURE_TIME":          ErrFutureTime,
	"PERMISSION_DENIED":    ErrPermission,
	"UNAVAILABLE":          ErrUnavailable,
	"UNKNOWN_DATASET":      ErrUnknownDataset,
	"DATASET_MISMATCH":     ErrDatasetMismatch,
	"LIMIT_EXCEEDED":       ErrLimitExceeded,
	"STREAM_IDLE":          ErrStreamIdle,
	"STORAGE_FULL":         ErrStorageFull,
	"DATA_LOSS":            ErrDataLoss,
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
	switch e.Code {
	case codes.DeadlineExceeded:
		return target == context.DeadlineExceeded
	case codes.Canceled:
		return target == context.Canceled
	case codes.InvalidArgument:
		return target == ErrInvalidArgument
	case codes.Unavailable:
		return target == ErrUnavailable
	case codes.PermissionDenied, codes.Unauthenticated:
		return target == ErrPermission
	}
	return false
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
