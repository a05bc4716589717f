// Package server serves a storage.Store over gRPC: the registry, writes and
// online lookups of timefence.v1, Arrow Flight for bulk tables, gRPC health
// and reflection, all on one listener.
//
// Handlers are thin: they validate the request, delegate to the store and
// map errors once, in errors.go, to canonical codes with an ErrorInfo reason.
//
// Historical work (joins, exports, statistics) is bounded in concurrency and
// parallelism and runs on threads of lower OS priority than online lookups
// and writes, so that a join does not slow production's reads (work.go).
//
// An online response costs more to encode than to read: it is written column
// by column to protobuf's own bytes, the statuses and event times of a
// view's columns once, into buffers that are not cleared (onlinewire.go,
// codec.go). A client that asks for packed results gets the same columns
// concatenated into a field per type (onlinepacked.go), which Python's
// protobuf reads in a dozen field accesses instead of five a feature. A
// write batch is decoded straight into slabs of its messages,
// not one allocation a value (writewire.go). Messages are received into
// buffers of their own size class (internal/grpcbuf), and calls run on
// goroutines kept from call to call.
//
//	srv := server.New(store, server.DefaultConfig())
//	err := srv.Serve(ctx, listener) // returns after ctx is done and a graceful stop
package server
