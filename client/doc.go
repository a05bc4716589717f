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
package client
