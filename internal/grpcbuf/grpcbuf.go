// Package grpcbuf holds the buffer pool that the client and the server
// receive gRPC messages into, and the protobuf codec that decodes from it.
package grpcbuf

import (
	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
)

// Receive is a pool with a tier for every power of two from 256 bytes to
// 16 MiB. gRPC's default pool has tiers of 32 KiB and then 1 MiB, and clears
// every buffer it hands out, all of it: 1 MiB for a 100 KB message. Here a
// buffer is at most twice the message it holds.
var Receive = func() mem.BufferPool {
	var sizes []int
	for size := 256; size <= 16<<20; size *= 2 {
		sizes = append(sizes, size)
	}
	return mem.NewTieredBufferPool(sizes...)
}()

// Codec is gRPC's protobuf codec, except that a message received in more
// than one piece is put together in a buffer from Receive, and that an
// Encoded message is sent as it is.
type Codec struct{ encoding.CodecV2 }

// NewCodec returns the codec.
func NewCodec() Codec { return Codec{encoding.GetCodecV2(grpcproto.Name)} }

// Encoded is a message already in protobuf's wire form: Codec sends it as
// it is.
type Encoded []byte

func (c Codec) Marshal(v any) (mem.BufferSlice, error) {
	if b, ok := v.(Encoded); ok {
		return mem.BufferSlice{mem.SliceBuffer(b)}, nil
	}
	return c.CodecV2.Marshal(v)
}

func (c Codec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(proto.Message)
	if !ok {
		return c.CodecV2.Unmarshal(data, v)
	}
	buf := data.MaterializeToBuffer(Receive)
	defer buf.Free()
	return proto.Unmarshal(buf.ReadOnlyData(), m)
}
