package server

import (
	"google.golang.org/grpc/mem"

	"github.com/timefence/timefence/internal/grpcbuf"
)

// MarshalResponse encodes a response as the server sends it.
func MarshalResponse(v any) (mem.BufferSlice, error) {
	return serverCodec{grpcbuf.NewCodec()}.Marshal(v)
}

// UnpackColumns reads packed online results of n rows back into columns.
var UnpackColumns = unpackColumns
