package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
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
	ReasonFutureTime       = "FUTURE_TIME"
	ReasonUnavailable      = "UNAVAILABLE"
	ReasonInternal         = "INTERNAL"
	ReasonPermissionDenied = "PERMISSION_DENIED"
	ReasonUnauthenticated  = "UNAUTHENTICATED"
	ReasonDeadline         = "DEADLINE_EXCEEDED"
	ReasonCancelled        = "CANCELLED"
	ReasonUnknownDataset   = "UNKNOWN_DATASET"
	ReasonDatasetMismatch  = "DATASET_MISMATCH"
	ReasonLimitExceeded    = "LIMIT_EXCEEDED"
	ReasonStreamIdle       = "STREAM_IDLE"
	ReasonStorageFull      = "STORAGE_FULL"
	ReasonDataLoss         = "DATA_LOSS"
	ReasonReadOnly         = "READ_ONLY"
	ReasonReplicaBehind    = "REPLICA_BEHIND"
	// ReasonExpectationFailed refuses a write batch that fails a hard
	// expectation of its view (expect.go).
	ReasonExpectationFailed = "EXPECTATION_FAILED"
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
	case errors.Is(err, storage.ErrStorageFull):
		code, reason = codes.ResourceExhausted, ReasonStorageFull
	case errors.Is(err, storage.ErrReadOnly):
		code, reason = codes.FailedPrecondition, ReasonReadOnly
	case errors.Is(err, storage.ErrDataLoss), errors.Is(err, storage.ErrCorrupt):
		code, reason = codes.DataLoss, ReasonDataLoss
	case errors.Is(err, storage.ErrClosed):
		code, reason = codes.Unavailable, ReasonUnavailable
	case errors.Is(err, context.DeadlineExceeded):
		code, reason = codes.DeadlineExceeded, ReasonDeadline
	case errors.Is(err, context.Canceled):
		code, reason = codes.Canceled, ReasonCancelled
	}
	// Sentinel prefixes say what the code and reason already say.
	msg := strings.ReplaceAll(err.Error(), "storage: invalid argument: ", "")
	msg = strings.ReplaceAll(msg, "storage: ", "")
	if code == codes.Internal {
		// Storage internals never cross the wire raw.
		return internalStatus(err)
	}
	st := status.New(code, msg)
	if d, derr := st.WithDetails(&errdetails.ErrorInfo{Reason: reason, Domain: ErrorDomain, Metadata: meta}); derr == nil {
		st = d
	}
	return st.Err()
}

// internalError is an INTERNAL status whose cause stays on the server. The
// client sees a request id; the server logs the cause under the same id
// (reportInternal).
type internalError struct {
	id    string
	cause error
	st    *status.Status
}

func (e *internalError) Error() string              { return e.st.Err().Error() }
func (e *internalError) GRPCStatus() *status.Status { return e.st }

// internalStatus returns an INTERNAL status for cause with a new request id
// in its message and in the ErrorInfo metadata "request_id".
func internalStatus(cause error) *internalError {
	var b [8]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	st := status.New(codes.Internal, fmt.Sprintf("internal error (request id %s); see the server log", id))
	if d, err := st.WithDetails(&errdetails.ErrorInfo{Reason: ReasonInternal, Domain: ErrorDomain,
		Metadata: map[string]string{"request_id": id}}); err == nil {
		st = d
	}
	return &internalError{id: id, cause: cause, st: st}
}

// panicError is a panic recovered in a handler.
type panicError struct {
	value any
	stack []byte
}

func (e *panicError) Error() string { return fmt.Sprintf("panic: %v", e.value) }

// reportInternal logs an error leaving a call that is INTERNAL, or that is
// no gRPC status at all, with its cause and request id, at error level. An
// error that did not pass toStatus (a library's, say) gets its id here.
// Other errors are returned unchanged.
func (s *Server) reportInternal(method string, err error) error {
	if err == nil {
		return nil
	}
	var ie *internalError
	if !errors.As(err, &ie) {
		if st, ok := status.FromError(err); ok && st.Code() != codes.Internal {
			return err
		}
		ie = internalStatus(err)
	}
	attrs := []any{"method", method, "request_id", ie.id, "error", ie.cause.Error()}
	var pe *panicError
	if errors.As(ie.cause, &pe) {
		attrs = append(attrs, "stack", string(pe.stack))
	}
	s.log.Error("internal error", attrs...)
	return ie
}
