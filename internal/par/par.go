// Package par runs loops on a bounded number of goroutines.
package par

import "sync"

// Each calls fn(i) for every i in [0, n) on up to parallel goroutines: the
// caller's own and up to parallel-1 more, started with start (the go
// statement when start is nil). Each goroutine takes the next i in turn; Each
// returns when every call has returned.
func Each(parallel, n int, start func(func()), fn func(i int)) {
	parallel = max(1, min(parallel, n))
	if parallel == 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	var (
		mu   sync.Mutex
		next int
		wg   sync.WaitGroup
	)
	loop := func() {
		for {
			mu.Lock()
			i := next
			next++
			mu.Unlock()
			if i >= n {
				return
			}
			fn(i)
		}
	}
	for range parallel - 1 {
		wg.Add(1)
		g := func() {
			defer wg.Done()
			loop()
		}
		if start == nil {
			go g()
		} else {
			start(g)
		}
	}
	loop()
	wg.Wait()
}
