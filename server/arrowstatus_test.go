package server_test

import (
	"context"
	"testing"

	"github.com/apache/arrow/go/v15/arrow/flight"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// TestFlightErrorsCarryArrowStatus: a failed Flight call sets the
// x-arrow-status trailers that pyarrow.flight needs to keep the error details.
func TestFlightErrorsCarryArrowStatus(t *testing.T) {
	env := startServer(t)
	var md metadata.MD
	fc := flight.NewClientFromConn(env.client.Conn(), nil)
	stream, err := fc.DoGet(context.Background(), &flight.Ticket{Ticket: []byte(`{"op":"export","feature_view":"nope"}`)}, grpc.Trailer(&md))
	require.NoError(t, err)
	_, err = stream.Recv()
	require.Error(t, err)
	require.Equal(t, []string{"4"}, md.Get("x-arrow-status"), "FAILED_PRECONDITION (no split) maps to Arrow's Invalid")
	require.Contains(t, md.Get("x-arrow-status-message-bin")[0], "needs a split")
}
