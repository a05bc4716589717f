package server_test

import (
	"net"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/ipc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/timefence/timefence/client"
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
		if info, ok := d.(interface{ GetReason() string }); ok {
			e.Reason = info.GetReason()
		}
	}
	return e
}

func netListen() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }

func codeOf(err error) codes.Code { return status.Code(errorsUnwrapStatus(err)) }

func messageOf(err error) string { return status.Convert(errorsUnwrapStatus(err)).Message() }
