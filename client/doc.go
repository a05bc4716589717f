// Package client is the Go client of a timefence server.
//
//	c, err := client.Dial("localhost:7070")
//	...
//	defer c.Close()
//	res, err := c.GetOnline(ctx, []string{"user_stats:clicks"}, []string{"user_id"}, [][]any{{42}})
//	clicks := res.Rows[0][0].Value // present, not found or stale: res.Rows[0][0].Status
//
// Every method takes a context and returns errors that match, with
// errors.Is, the sentinels of errors.go (ErrCutoffExceeded, ErrSplitRequired, ...);
// *Error carries the server's code, reason and details.
//
// A Client holds one HTTP/2 connection, which carries every call, unary and
// Flight, concurrently: make one per server and share it between goroutines.
// An online lookup can carry its own time budget, WithTimeout(d), on top of
// its context's deadline.
package client
