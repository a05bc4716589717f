package server

import "runtime/debug"

// recovered, deferred in a goroutine that a handler starts, turns a panic
// of that goroutine into an INTERNAL error in *err: a bug there fails the
// call, as the recover interceptors make a panic of the handler do, instead
// of ending the server.
func recovered(err *error) {
	if r := recover(); r != nil {
		*err = internalStatus(&panicError{value: r, stack: debug.Stack()})
	}
}
