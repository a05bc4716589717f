package server_test

import (
	"errors"
	"net"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/ipc"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/timefence/timefence/client"
	"github.com/timefence/timefence/server"
)

func ipcSchema(s *arrow.Schema) ipc.Option { return ipc.WithSchema(s) }

// fromGRPC turns a raw gRPC error into the client's error type.
func fromGRPC(err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	e := &client.Error{Code: st.Code(), Message: st.Message()}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			e.Reason, e.Metadata = info.GetReason(), info.GetMetadata()
		}
	}
	return e
}

// fromFlight is fromGRPC for a Flight call, whose ErrorInfo may travel in
// the trailer md instead of the status.
func fromFlight(err error, md metadata.MD) error {
	out := fromGRPC(err)
	var ce *client.Error
	if errors.As(out, &ce) && ce.Reason == "" {
		if v := md.Get(server.TrailerErrorInfo); len(v) > 0 {
			var info errdetails.ErrorInfo
			if protojson.Unmarshal([]byte(v[0]), &info) == nil {
				ce.Reason, ce.Metadata = info.GetReason(), info.GetMetadata()
			}
		}
	}
	return out
}

func netListen() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }

func codeOf(err error) codes.Code { return status.Code(errorsUnwrapStatus(err)) }

func messageOf(err error) string { return status.Convert(errorsUnwrapStatus(err)).Message() }
