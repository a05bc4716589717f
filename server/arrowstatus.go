package server

import (
	"strconv"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
)

// Arrow status codes (arrow::StatusCode) that Flight clients built on Arrow
// C++, such as pyarrow.flight, read from the x-arrow-status trailer.
const (
	arrowKeyError       = 2
	arrowInvalid        = 4
	arrowIOError        = 5
	arrowCapacityError  = 6
	arrowCancelled      = 8
	arrowUnknownError   = 9
	arrowNotImplemented = 10
	arrowAlreadyExists  = 45
)

// The trailers of a failed Flight call.
const (
	trailerArrowStatus  = "x-arrow-status"
	trailerArrowMessage = "x-arrow-status-message-bin"
	// TrailerErrorInfo carries the ErrorInfo of a failed Flight call in its
	// protobuf JSON form; Arrow C++ clients append it to the message.
	TrailerErrorInfo = "x-arrow-status-detail-bin"
)

// arrowStatus is what a failed Flight call with gRPC code c tells Arrow
// clients: the Arrow status code, and whether the gRPC status keeps its
// details (grpc-status-details-bin).
//
// Arrow C++ turns a gRPC status that has details but no Flight status of
// its own into a FlightInternalError, whatever the Arrow code. So the codes
// that Arrow reports as plain Arrow errors (ArrowInvalid, ArrowKeyError,
// ...) go without gRPC details, and their ErrorInfo travels only in
// TrailerErrorInfo. The codes that Arrow reports as Flight errors
// (FlightUnauthenticatedError, FlightUnauthorizedError, ...) keep their
// details, which pyarrow shows as the error's extra_info.
func arrowStatus(c codes.Code) (code int, keepDetails bool) {
	switch c {
	case codes.InvalidArgument, codes.FailedPrecondition, codes.OutOfRange:
		return arrowInvalid, false
	case codes.NotFound:
		return arrowKeyError, false
	case codes.AlreadyExists:
		return arrowAlreadyExists, false
	case codes.ResourceExhausted:
		return arrowCapacityError, false
	case codes.Unimplemented:
		return arrowNotImplemented, false
	case codes.Canceled:
		return arrowCancelled, true
	case codes.Unauthenticated, codes.PermissionDenied, codes.Unavailable, codes.DeadlineExceeded,
		codes.Internal, codes.DataLoss, codes.Aborted:
		return arrowIOError, true
	}
	return arrowUnknownError, true
}

// arrowStatusStream gives failed Flight calls the trailers that Arrow
// clients read (see arrowStatus), so that plain pyarrow.flight raises the
// exception class of the refusal and keeps its ErrorInfo.
func (s *Server) arrowStatusStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	err := h(srv, ss)
	if err == nil || !strings.HasPrefix(info.FullMethod, "/arrow.flight.protocol.FlightService/") {
		return err
	}
	st := status.Convert(err)
	code, keep := arrowStatus(st.Code())
	md := metadata.Pairs(trailerArrowStatus, strconv.Itoa(code), trailerArrowMessage, st.Message())
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			if b, jerr := protojson.Marshal(info); jerr == nil {
				md.Append(TrailerErrorInfo, string(b))
			}
		}
	}
	ss.SetTrailer(md)
	if !keep {
		return status.Error(st.Code(), st.Message())
	}
	return err
}
