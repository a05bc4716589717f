// Package grpcbuf holds the buffer pool that the client and the server
// receive gRPC messages into.
package grpcbuf

import "google.golang.org/grpc/mem"

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
