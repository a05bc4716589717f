package server_test

import (
	"context"
	"testing"

	"github.com/apache/arrow/go/v15/arrow/flight"
	"github.com/stretchr/testify/require"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/timefence/timefence/server"
)

// TestFlightErrorsCarryArrowStatus: a failed Flight call sets the
// x-arrow-status trailers of its code, and its ErrorInfo travels in the
// detail trailer. Codes that Arrow clients report as plain Arrow errors
// carry no gRPC details (Arrow C++ would report those as internal errors);
// the others keep them.
func TestFlightErrorsCarryArrowStatus(t *testing.T) {
	env := startServer(t)
	env.defineUsers(t, 0)
	fc := flight.NewClientFromConn(env.client.Conn(), nil)
	cases := []struct {
		name, ticket   string
		code           codes.Code
		arrow, reason  string
		message        string
		keepsGRPCInfos bool
	}{
		{"no split", `{"op":"export","feature_view":"stats"}`, codes.FailedPrecondition, "4", "SPLIT_REQUIRED", "needs a split", false},
		{"unknown view", `{"op":"export","split":"all","feature_view":"nope"}`, codes.NotFound, "2", "UNKNOWN_FEATURE_VIEW", "nope", false},
		{"unknown split", `{"op":"export","split":"nope","feature_view":"stats"}`, codes.FailedPrecondition, "4", "UNKNOWN_SPLIT", "nope", false},
		{"bad field", `{"op":"export","Split":"all"}`, codes.InvalidArgument, "4", "INVALID_ARGUMENT", "Split", false},
		{"unknown dataset", `{"op":"export","dataset_id":"ds-nope"}`, codes.NotFound, "2", "UNKNOWN_DATASET", "ds-nope", false},
	}
	for _, c := range cases {
		var md metadata.MD
		stream, err := fc.DoGet(context.Background(), &flight.Ticket{Ticket: []byte(c.ticket)}, grpc.Trailer(&md))
		require.NoError(t, err, c.name)
		_, err = stream.Recv()
		st := status.Convert(err)
		require.Equal(t, c.code, st.Code(), "%s: %v", c.name, err)
		require.Contains(t, st.Message(), c.message, c.name)
		require.Equal(t, c.keepsGRPCInfos, len(st.Details()) > 0, c.name)
		require.Equal(t, []string{c.arrow}, md.Get("x-arrow-status"), c.name)
		require.Equal(t, []string{st.Message()}, md.Get("x-arrow-status-message-bin"), c.name)
		raw := md.Get(server.TrailerErrorInfo)
		require.Len(t, raw, 1, c.name)
		var info errdetails.ErrorInfo
		require.NoError(t, protojson.Unmarshal([]byte(raw[0]), &info), c.name)
		require.Equal(t, c.reason, info.GetReason(), c.name)
		require.Equal(t, server.ErrorDomain, info.GetDomain(), c.name)
	}
}

// TestFlightAuthErrorsKeepTheirDetails: Arrow clients report UNAUTHENTICATED
// and PERMISSION_DENIED as Flight errors of their own, which keep the gRPC
// details (pyarrow's extra_info).
func TestFlightAuthErrorsKeepTheirDetails(t *testing.T) {
	addr := startSecure(t, nil, []server.Credential{{Name: "ro", TokenSHA256: server.HashToken("reader-token"), Role: server.RoleReader}})
	for _, c := range []struct {
		token  string
		code   codes.Code
		reason string
	}{
		{"", codes.Unauthenticated, "UNAUTHENTICATED"},
		{"reader-token", codes.PermissionDenied, "PERMISSION_DENIED"},
	} {
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		require.NoError(t, err)
		defer conn.Close()
		ctx := context.Background()
		if c.token != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+c.token)
		}
		var md metadata.MD
		put, err := flight.NewClientFromConn(conn, nil).DoPut(ctx, grpc.Trailer(&md))
		require.NoError(t, err)
		_, err = put.Recv()
		requireReason(t, err, c.code, c.reason, "")
		require.Equal(t, []string{"5"}, md.Get("x-arrow-status"), c.reason)
		require.Len(t, md.Get(server.TrailerErrorInfo), 1, c.reason)
	}
}
