package storage

import (
	"sync"
	"sync/atomic"
)

// Progress shows how far a long call has come, for another goroutine to
// read while the call runs: the phases it has begun, in order, and how much
// of each is done. A nil *Progress records nothing.
type Progress struct {
	mu     sync.Mutex
	phases []*Phase
}

// Phase is one phase of a long call. Total is 0 for a phase without a
// measure; otherwise Done counts up to Total units.
type Phase struct {
	Name  string
	Unit  string
	Total int64
	done  atomic.Int64
}

// Begin starts a phase of total units (0: no measure) and returns it. On a
// nil Progress it returns nil, which counts nothing.
func (p *Progress) Begin(name, unit string, total int64) *Phase {
	if p == nil {
		return nil
	}
	ph := &Phase{Name: name, Unit: unit, Total: total}
	p.mu.Lock()
	p.phases = append(p.phases, ph)
	p.mu.Unlock()
	return ph
}

// Phases returns the phases begun so far, the current one last.
func (p *Progress) Phases() []*Phase {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.phases[:len(p.phases):len(p.phases)]
}

// Add counts n more units done.
func (ph *Phase) Add(n int64) {
	if ph != nil {
		ph.done.Add(n)
	}
}

// Done returns the units done so far.
func (ph *Phase) Done() int64 { return ph.done.Load() }
