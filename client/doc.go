// Package client is the Go client of a timefence server: a typed method
// for every call of its gRPC API and its Arrow Flight operations.
//
//	c, err := client.Dial("localhost:7070")
//	...
//	defer c.Close()
//	res, err := c.GetOnline(ctx, []string{"user_stats:clicks"}, []string{"user_id"}, [][]any{{42}},
//		client.WithTimeout(50*time.Millisecond))
//	clicks := res.Rows[0][0].Value // present, not found or stale: res.Rows[0][0].Status
//
// Every method takes a context and per-call options of one type, Option:
// WithTimeout and WithDeadline apply to all, the others to the methods
// their documentation names (a method refuses an option that does not
// apply). Results keep what the server returns.
//
// Errors match, with errors.Is, the sentinel of the server's reason, one
// per reason of docs/errors.md (ErrCutoffExceeded, ErrSplitRequired, ...);
// *Error carries the server's code, reason and metadata.
//
// A Client holds one HTTP/2 connection, which carries every call, unary and
// Flight, concurrently: make one per server and share it between
// goroutines. Write encodes its rows straight to the request's bytes
// (writewire.go), with no message a row. docs/go-client.md says how to depend on this module from
// another until its path is published.
package client
