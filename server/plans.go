package server

import (
	"strings"
	"sync"
)

// Online reads resolve their feature references once per set of references
// and definitions, not once per request: resolving ("view:feature" to a
// projection) took about half of a 1 × 50 lookup's server time.

// maxPlans bounds the cache; past it, the cache starts over.
const maxPlans = 1024

// planCache maps the feature references of online requests to their plans.
type planCache struct {
	mu sync.RWMutex
	m  map[string]*plan
}

// plan is a resolved set of feature references.
type plan struct {
	reads []*viewRead // read-only templates; requests bind keys on copies
	names []string
}

// onlinePlan resolves refs for an online read at now, from the cache while
// every view it reads still has the definition it was built from.
func (s *Server) onlinePlan(refs []string) ([]*viewRead, []string, error) {
	key := strings.Join(refs, "\x00")
	s.plans.mu.RLock()
	p := s.plans.m[key]
	s.plans.mu.RUnlock()
	if p == nil || !s.current(p) {
		reads, names, err := s.resolveFeatures(refs, nil)
		if err != nil {
			return nil, nil, err
		}
		p = &plan{reads: reads, names: names}
		s.plans.mu.Lock()
		if s.plans.m == nil || len(s.plans.m) >= maxPlans {
			s.plans.m = map[string]*plan{}
		}
		s.plans.m[key] = p
		s.plans.mu.Unlock()
	}
	reads := make([]*viewRead, len(p.reads))
	for i, vr := range p.reads {
		reads[i] = &viewRead{proj: vr.proj, cols: vr.cols}
	}
	return reads, p.names, nil
}

// current tells whether every view of p still has the definition p was
// built from: a definition change makes a new view.
func (s *Server) current(p *plan) bool {
	for _, vr := range p.reads {
		v, err := s.store.View(vr.proj.View.Name)
		if err != nil || v != vr.proj.View {
			return false
		}
	}
	return true
}
