package server

import (
	"fmt"
	"strconv"
	"sync"
	"unicode/utf8"

	"google.golang.org/grpc"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	protov2 "google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
	"github.com/timefence/timefence/internal/grpcbuf"
)

// gRPC reports a request that does not decode (invalid UTF-8 in a string
// field, a truncated message) as INTERNAL, before any interceptor sees it.
// serverCodec decodes like gRPC's own codec but, on failure, records the
// error for the message instead; the recover interceptors, which see every
// decoded message first, refuse it as INVALID_ARGUMENT naming the field. It
// encodes online responses with onlineWire and decodes write batches with
// decodeWriteBatch, everything else as gRPC does.
type serverCodec struct{ grpcbuf.Codec }

// undecodable holds the decoding error of each message that failed to
// decode, until the interceptor that receives it takes it.
var undecodable sync.Map // message pointer -> error

func newServerCodec() grpc.ServerOption {
	return grpc.ForceServerCodecV2(serverCodec{grpcbuf.NewCodec()})
}

func (c serverCodec) Marshal(v any) (mem.BufferSlice, error) {
	resp, ok := v.(*timefencev1.GetOnlineFeaturesResponse)
	if !ok {
		return c.Codec.Marshal(v)
	}
	w, ok := planOnline(resp)
	if !ok {
		return c.Codec.Marshal(v)
	}
	if mem.IsBelowBufferPoolingThreshold(w.size) {
		b, err := w.marshal(make([]byte, 0, w.size))
		return mem.BufferSlice{mem.SliceBuffer(b)}, err
	}
	buf := wireBuffers.Get(w.size)
	b, err := w.marshal(*buf)
	if err != nil {
		wireBuffers.Put(buf)
		return nil, err
	}
	*buf = b
	return mem.BufferSlice{mem.NewBuffer(buf, wireBuffers)}, nil
}

// wireBuffers holds the buffers of encoded online responses. gRPC's own
// pool clears each buffer it hands out, all of its capacity (1 MiB for a
// 100 KB response); these are not cleared, since every byte of the
// response is written.
var wireBuffers = &bufferPool{}

// bufferPool is a mem.BufferPool of buffers in powers of two from 4 KiB to
// 8 MiB, handed out as they were returned.
type bufferPool struct{ tiers [12]sync.Pool }

// tier returns the tier of buffers of at least size bytes, or -1 when
// there is none.
func (p *bufferPool) tier(size int) int {
	for i := range p.tiers {
		if size <= 4096<<i {
			return i
		}
	}
	return -1
}

func (p *bufferPool) Get(size int) *[]byte {
	i := p.tier(size)
	if i < 0 {
		b := make([]byte, size)
		return &b
	}
	if b, ok := p.tiers[i].Get().(*[]byte); ok {
		*b = (*b)[:size]
		return b
	}
	b := make([]byte, size, 4096<<i)
	return &b
}

func (p *bufferPool) Put(b *[]byte) {
	if i := p.tier(cap(*b)); i >= 0 && cap(*b) == 4096<<i {
		p.tiers[i].Put(b)
	}
}

func (c serverCodec) Unmarshal(data mem.BufferSlice, v any) error {
	if req, ok := v.(*timefencev1.WriteBatchRequest); ok {
		buf := data.MaterializeToBuffer(grpcbuf.Receive)
		ok = decodeWriteBatch(buf.ReadOnlyData(), req)
		buf.Free()
		if ok {
			return nil
		}
	}
	err := c.Codec.Unmarshal(data, v)
	m, ok := v.(protov2.Message)
	if err == nil || !ok {
		return err
	}
	msg := fmt.Sprintf("request: not a valid %s message: %v", m.ProtoReflect().Descriptor().FullName(), err)
	if path := invalidUTF8(data.Materialize(), m.ProtoReflect().Descriptor()); path != "" {
		msg = path + ": string is not valid UTF-8"
	}
	undecodable.Store(v, invalid(msg))
	return nil
}

// decodeError returns, once, the error recorded for a message that did not decode.
func decodeError(m any) error {
	if err, ok := undecodable.LoadAndDelete(m); ok {
		return toStatus(err.(error))
	}
	return nil
}

// invalidUTF8 returns the path of the first string field of the wire
// message b that is not valid UTF-8, e.g. "rows[2].join_keys[1].string_value",
// or "" when there is none.
func invalidUTF8(b []byte, md protoreflect.MessageDescriptor) string {
	seen := map[protowire.Number]int{}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return ""
		}
		b = b[n:]
		fd := md.Fields().ByNumber(num)
		if typ != protowire.BytesType || fd == nil {
			if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
				return ""
			}
			b = b[n:]
			continue
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return ""
		}
		b = b[n:]
		name := string(fd.Name())
		if fd.IsList() {
			name += "[" + strconv.Itoa(seen[num]) + "]"
			seen[num]++
		}
		switch fd.Kind() {
		case protoreflect.StringKind:
			if !utf8.Valid(v) {
				return name
			}
		case protoreflect.MessageKind:
			if path := invalidUTF8(v, fd.Message()); path != "" {
				return name + "." + path
			}
		}
	}
	return ""
}
