package server

import (
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
)

// MarshalResponse encodes a response as the server sends it.
func MarshalResponse(v any) (mem.BufferSlice, error) {
	return serverCodec{encoding.GetCodecV2(proto.Name)}.Marshal(v)
}
