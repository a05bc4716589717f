package server

import (
	"context"
	"errors"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/timefence/timefence/storage"
)

// ErrorDomain is the ErrorInfo domain of timefence's errors.
const ErrorDomain = "timefence.dev"

// Reasons carried in ErrorInfo.reason.
const (
	ReasonInvalidArgument  = "INVALID_ARGUMENT"
	ReasonUnknownEntity    = "UNKNOWN_ENTITY"
	ReasonUnknownView      = "UNKNOWN_FEATURE_VIEW"
	ReasonUnknownFeature   = "UNKNOWN_FEATURE"
	ReasonUnknownSplit     = "UNKNOWN_SPLIT"
	ReasonSchemaMismatch   = "SCHEMA_MISMATCH"
	ReasonSplitExists      = "SPLIT_EXISTS"
	ReasonBatchConflict    = "BATCH_ID_CONFLICT"
	ReasonSplitRequired    = "SPLIT_REQUIRED"
	ReasonCutoffExceeded   = "CUTOFF_EXCEEDED"
	ReasonUnavailable      = "UNAVAILABLE"
	ReasonInternal         = "INTERNAL"
	ReasonPermissionDenied = "PERMISSION_DENIED"
	ReasonUnknownDataset   = "UNKNOWN_DATASET"
	ReasonDatasetMismatch  = "DATASET_MISMATCH"
)

// requestError is an error found by the server itself, with its code and reason.
type requestError struct {
	code     codes.Code
	reason   string
	msg      string
	metadata map[string]string
}

func (e *requestError) Error() string { return e.msg }

func invalid(msg string) error {
	return &requestError{code: codes.InvalidArgument, reason: ReasonInvalidArgument, msg: msg}
}

// toStatus maps an error to a gRPC status with an ErrorInfo. It is the only
// place where errors become codes.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	code, reason := codes.Internal, ReasonInternal
	var meta map[string]string
	var re *requestError
	switch {
	case errors.As(err, &re):
		code, reason, meta = re.code, re.reason, re.metadata
	case errors.Is(err, storage.ErrInvalid):
		code, reason = codes.InvalidArgument, ReasonInvalidArgument
	case errors.Is(err, storage.ErrUnknownFeature):
		code, reason = codes.NotFound, ReasonUnknownFeature
	case errors.Is(err, storage.ErrUnknownView):
		code, reason = codes.NotFound, ReasonUnknownView
	case errors.Is(err, storage.ErrUnknownEntity):
		code, reason = codes.NotFound, ReasonUnknownEntity
	case errors.Is(err, storage.ErrUnknownSplit):
		code, reason = codes.NotFound, ReasonUnknownSplit
	case errors.Is(err, storage.ErrUnknownDataset):
		code, reason = codes.NotFound, ReasonUnknownDataset
	case errors.Is(err, storage.ErrSchemaMismatch):
		code, reason = codes.FailedPrecondition, ReasonSchemaMismatch
	case errors.Is(err, storage.ErrAlreadyExists):
		code, reason = codes.AlreadyExists, ReasonSplitExists
	case errors.Is(err, storage.ErrConflict):
		code, reason = codes.AlreadyExists, ReasonBatchConflict
	case errors.Is(err, storage.ErrClosed):
		code, reason = codes.Unavailable, ReasonUnavailable
	case errors.Is(err, context.DeadlineExceeded):
		code, reason = codes.DeadlineExceeded, "DEADLINE_EXCEEDED"
	case errors.Is(err, context.Canceled):
		code, reason = codes.Canceled, "CANCELED"
	}
	// Sentinel prefixes say what the code and reason already say.
	msg := strings.ReplaceAll(err.Error(), "storage: invalid argument: ", "")
	msg = strings.ReplaceAll(msg, "storage: ", "")
	if code == codes.Internal {
		// Storage internals never cross the wire raw.
		msg = "internal error; see the server log"
	}
	st := status.New(code, msg)
	if d, derr := st.WithDetails(&errdetails.ErrorInfo{Reason: reason, Domain: ErrorDomain, Metadata: meta}); derr == nil {
		st = d
	}
	return st.Err()
}
