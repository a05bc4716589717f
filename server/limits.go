package server

import (
	"fmt"
	"path"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/util"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"github.com/timefence/timefence/storage"
)

// Every request is bounded in rows, bytes and idle time. The limits are
// fields of Config (DefaultConfig documents the defaults) and flags of
// timefence serve; a request past one fails with RESOURCE_EXHAUSTED, reason
// LIMIT_EXCEEDED, and a message naming the limit and how to raise it.

// limit is one of Config's request limits.
type limit struct {
	max   int64
	unit  string // "rows", "bytes" or "values"
	per   string // what the limit applies to, e.g. "spine"
	flag  string // the timefence serve flag that sets it
	field string // the Config field that sets it
}

func (l limit) amount() string {
	if l.unit == "bytes" {
		return byteSize(l.max)
	}
	return fmt.Sprintf("%d %s", l.max, l.unit)
}

// exceeded returns the error of a request past l: what says by how much
// (e.g. "spine: more than 100 rows"), advice what the caller can do.
func (l limit) exceeded(what, advice string) error {
	return &requestError{code: codes.ResourceExhausted, reason: ReasonLimitExceeded,
		msg: fmt.Sprintf("%s, over the server's limit of %s per %s (raised with timefence serve --%s or server.Config.%s); %s",
			what, l.amount(), l.per, l.flag, l.field, advice),
		metadata: map[string]string{"limit": l.flag, "value": fmt.Sprint(l.max)}}
}

// byteSize formats n bytes in the largest binary unit that divides it.
func byteSize(n int64) string {
	for _, u := range []struct {
		size int64
		name string
	}{{1 << 30, "GiB"}, {1 << 20, "MiB"}, {1 << 10, "KiB"}} {
		if n >= u.size && n%u.size == 0 {
			return fmt.Sprintf("%d %s", n/u.size, u.name)
		}
	}
	return fmt.Sprintf("%d bytes", n)
}

// aboutBytes formats n bytes to a tenth of a binary unit.
func aboutBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d bytes", n)
}

func (s *Server) writeRowsLimit() limit {
	return limit{s.cfg.MaxWriteRows, "rows", "write", "max-write-rows", "MaxWriteRows"}
}

func (s *Server) writeBytesLimit() limit {
	return limit{s.cfg.MaxWriteBytes, "bytes", "bulk write", "max-write-bytes", "MaxWriteBytes"}
}

func (s *Server) spineRowsLimit() limit {
	return limit{s.cfg.MaxSpineRows, "rows", "spine", "max-spine-rows", "MaxSpineRows"}
}

func (s *Server) spineBytesLimit() limit {
	return limit{s.cfg.MaxSpineBytes, "bytes", "spine", "max-spine-bytes", "MaxSpineBytes"}
}

func (s *Server) onlineValuesLimit() limit {
	return limit{s.cfg.MaxOnlineValues, "values", "online request", "max-online-values", "MaxOnlineValues"}
}

// A bulk write holds every row until it commits: per row a storage.Row and
// the encoded row storage builds from it (about decodedRowBytes), and one
// storage.Value per join key and feature.
const (
	decodedRowBytes   = 160
	decodedValueBytes = int64(unsafe.Sizeof(storage.Value{}))
)

// writeBudget counts what a bulk write holds against MaxWriteRows and
// MaxWriteBytes, one record batch at a time, before the batch is decoded.
type writeBudget struct {
	rows, bytes int64
	maxRows     limit
	maxBytes    limit
}

// add counts rec, whose rows carry values join keys and features each.
func (b *writeBudget) add(rec arrow.Record, values int) error {
	n := rec.NumRows()
	b.rows += n
	b.bytes += util.TotalRecordSize(rec) + n*(decodedRowBytes+int64(values)*decodedValueBytes)
	if b.rows > b.maxRows.max {
		return b.maxRows.exceeded(fmt.Sprintf("bulk write: more than %d rows", b.maxRows.max), "split the table into several writes")
	}
	if b.bytes > b.maxBytes.max {
		return b.maxBytes.exceeded(fmt.Sprintf("bulk write: the first %d rows take %s of server memory (their Arrow data and %d bytes per decoded value)",
			b.rows, aboutBytes(b.bytes), decodedValueBytes), "split the table into several writes")
	}
	return nil
}

// spineBudget counts the spine a join holds against MaxSpineRows and MaxSpineBytes.
type spineBudget struct {
	rows, bytes int64
	maxRows     limit
	maxBytes    limit
}

func (b *spineBudget) add(rec arrow.Record) error {
	b.rows += rec.NumRows()
	b.bytes += util.TotalRecordSize(rec)
	if b.rows > b.maxRows.max {
		return b.maxRows.exceeded(fmt.Sprintf("spine: more than %d rows", b.maxRows.max), "join the spine in parts")
	}
	if b.bytes > b.maxBytes.max {
		return b.maxBytes.exceeded(fmt.Sprintf("spine: more than %s of Arrow data", byteSize(b.maxBytes.max)),
			"join the spine in parts, or drop pass-through columns")
	}
	return nil
}

const flightPrefix = "/arrow.flight.protocol.FlightService/"

// idleStream cuts a stream of Flight or of timefence's API whose client
// stops making progress (health and reflection streams are left alone): once
// a Send has waited StreamIdleTimeout for the client to read, or a Recv for
// it to send, the call ends with DEADLINE_EXCEEDED, reason STREAM_IDLE.
// Server work between messages (a join, a commit) does not count.
//
// A Send blocked on flow control returns only when the stream ends, and the
// stream ends only when its handler returns, so the handler runs in its own
// goroutine: the call ends without it, which cancels the stream's context;
// the blocked Send or Recv then fails and the handler releases what it holds.
func (s *Server) idleStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	idle := s.cfg.StreamIdleTimeout
	var name string
	switch {
	case strings.HasPrefix(info.FullMethod, flightPrefix):
		name = "flight " + path.Base(info.FullMethod)
	case strings.HasPrefix(info.FullMethod, "/timefence."):
		name = path.Base(info.FullMethod)
	default:
		return h(srv, ss)
	}
	w := &watchedStream{ServerStream: ss, start: time.Now()}
	done := make(chan error, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				stack := debug.Stack()
				if w.cut.Load() { // the call has ended: nobody else reports it
					s.log.Error("panic in handler", "method", info.FullMethod, "panic", fmt.Sprint(r), "stack", string(stack))
				}
				done <- internalStatus(&panicError{value: r, stack: stack})
			}
		}()
		done <- h(srv, w)
	}()
	timer := time.NewTimer(idle)
	defer timer.Stop()
	for {
		select {
		case err := <-done:
			return err
		case <-timer.C:
		}
		wait := idle
		if since, dir := w.pending(); dir != "" {
			waited := time.Since(w.start) - since
			if waited >= idle {
				w.cut.Store(true)
				s.log.Info("stream idle; closed", "method", info.FullMethod, "idle_s", idle.Seconds(), "waiting_to", dir)
				return toStatus(&requestError{code: codes.DeadlineExceeded, reason: ReasonStreamIdle,
					msg: fmt.Sprintf("%s: the client %s nothing for %s, so the server closed the stream; "+
						"the idle limit is set by timefence serve --stream-idle-timeout (server.Config.StreamIdleTimeout)",
						name, map[string]string{"send": "read", "receive": "sent"}[dir], idle),
					metadata: map[string]string{"limit": "stream-idle-timeout", "value": idle.String()}})
			}
			wait = idle - waited
		}
		timer.Reset(wait)
	}
}

// watchedStream records when its pending SendMsg and RecvMsg started.
type watchedStream struct {
	grpc.ServerStream
	start time.Time
	// sendSince and recvSince are the pending call's start, as time since
	// start plus one; 0 when none is pending.
	sendSince, recvSince atomic.Int64
	cut                  atomic.Bool
}

func (w *watchedStream) SendMsg(m any) error {
	w.sendSince.Store(int64(time.Since(w.start)) + 1)
	err := w.ServerStream.SendMsg(m)
	w.sendSince.Store(0)
	return err
}

func (w *watchedStream) RecvMsg(m any) error {
	w.recvSince.Store(int64(time.Since(w.start)) + 1)
	err := w.ServerStream.RecvMsg(m)
	w.recvSince.Store(0)
	return err
}

// pending returns the start of the longest pending call and its direction
// ("send" or "receive"); "" when none is pending.
func (w *watchedStream) pending() (time.Duration, string) {
	send, recv := w.sendSince.Load(), w.recvSince.Load()
	switch {
	case send != 0 && (recv == 0 || send <= recv):
		return time.Duration(send - 1), "send"
	case recv != 0:
		return time.Duration(recv - 1), "receive"
	}
	return 0, ""
}
