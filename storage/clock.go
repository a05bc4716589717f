package storage

import "sync"

// clock hands out commit times to writes and read times to online reads so
// that every read can be replayed: a batch not yet visible to a read at time
// t always gets a commit time after t, and a read never gets a time at or
// after the commit time of a batch still being made durable.
type clock struct {
	mu        sync.Mutex
	now       func() int64
	last      int64  // the last commit time handed out
	served    int64  // the latest read time handed out
	inflight  int64  // commit time of the batch being committed, 0 if none
	committed uint64 // the highest sequence number visible to reads
}

// readTime returns the time and watermark of a read at now.
func (c *clock) readTime() (int64, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.now()
	if c.inflight != 0 && t >= c.inflight {
		t = c.inflight - 1
	}
	c.served = max(c.served, t)
	return t, c.committed
}

// begin assigns the commit time of the next batch. Batches are committed one
// at a time; end must follow.
func (c *clock) begin() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := max(c.now(), c.last, c.served+1)
	c.inflight = t
	return t
}

// end publishes a committed batch (ok) or drops a failed one.
func (c *clock) end(lastSeq uint64, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ok {
		c.last = c.inflight
		c.committed = lastSeq
	}
	c.inflight = 0
}

// publish makes the versions up to seq visible, on a replica.
func (c *clock) publish(seq uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.committed = max(c.committed, seq)
}

// watermark returns the highest visible sequence number.
func (c *clock) watermark() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.committed
}
