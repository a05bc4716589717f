package server

import (
	"strconv"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Arrow status codes (arrow::StatusCode) that Flight clients built on Arrow
// C++, such as pyarrow.flight, read from the x-arrow-status trailer.
const (
	arrowInvalid        = 4
	arrowKeyError       = 2
	arrowCancelled      = 8
	arrowUnknownError   = 9
	arrowNotImplemented = 10
	arrowAlreadyExists  = 45
)

// arrowStatusStream adds the x-arrow-status trailers to failed Flight calls,
// so Arrow C++ clients (pyarrow.flight) keep the full gRPC status details:
// they expose them as the error's extra_info, ErrorInfo reason included.
func (s *Server) arrowStatusStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	err := h(srv, ss)
	if err == nil || !strings.HasPrefix(info.FullMethod, "/arrow.flight.protocol.FlightService/") {
		return err
	}
	st := status.Convert(err)
	code := arrowUnknownError
	switch st.Code() {
	case codes.InvalidArgument, codes.FailedPrecondition, codes.OutOfRange:
		code = arrowInvalid
	case codes.NotFound:
		code = arrowKeyError
	case codes.AlreadyExists:
		code = arrowAlreadyExists
	case codes.Unimplemented:
		code = arrowNotImplemented
	case codes.Canceled:
		code = arrowCancelled
	}
	ss.SetTrailer(metadata.Pairs("x-arrow-status", strconv.Itoa(code), "x-arrow-status-message-bin", st.Message()))
	return err
}
