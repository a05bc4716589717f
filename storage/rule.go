package storage

// This file is the read rule's only implementation:
//
//	candidates = versions with event_time <= b.Event, available_at <= b.Available, seq <= w
//	winner     = the candidate with the greatest (event_time, available_at, seq)
//
// run.winner evaluates it over one run; the runs of a snapshot partition the
// view's versions, so the winner over all of them is the newest of the
// per-run winners (snapshot.winner).

// winner returns the row of the rule's winner among the versions of key k of
// r, or -1. With naive > 0 it also returns the winner under the availability
// bound naive (>= b.Available), which the scan meets first.
func (r *run) winner(k int, b Bounds, w uint64, naive int64) (win, naiveWin int) {
	lo, hi := int(r.start[k]), int(r.start[k+1])
	// Versions are sorted by event time descending: skip those after the bound.
	if hi-lo > 16 {
		a, z := lo, hi
		for a < z {
			m := int(uint(a+z) >> 1)
			if r.event[m] > b.Event {
				a = m + 1
			} else {
				z = m
			}
		}
		lo = a
	} else {
		for lo < hi && r.event[lo] > b.Event {
			lo++
		}
	}
	naiveWin = -1
	checkSeq := r.hi > w // else every version of r is at or below w
	for i := lo; i < hi; i++ {
		if checkSeq && r.seq[i] > w {
			continue
		}
		if naiveWin < 0 && r.avail[i] <= naive {
			naiveWin = i
		}
		if r.avail[i] <= b.Available {
			return i, naiveWin
		}
	}
	return -1, naiveWin
}

// hit names a version of a snapshot: a run and a row; run < 0 is none.
type hit struct {
	run, row int32
}

var noHit = hit{-1, -1}

// newer reports whether version a of snapshot s is greater than b in the
// rule's order; any version is greater than none.
func (s *snapshot) newer(a, b hit) bool {
	if a.run < 0 {
		return false
	}
	if b.run < 0 {
		return true
	}
	ra, rb := s.runs[a.run], s.runs[b.run]
	if ea, eb := ra.event[a.row], rb.event[b.row]; ea != eb {
		return ea > eb
	}
	if aa, ab := ra.avail[a.row], rb.avail[b.row]; aa != ab {
		return aa > ab
	}
	return ra.seq[a.row] > rb.seq[b.row]
}

// winner evaluates the rule for one encoded entity key over every run of s.
// hints holds, per run, where the previous key was found; keys visited in
// ascending order are then found by stepping forward.
func (s *snapshot) winner(key []byte, b Bounds, w uint64, naive int64, hints []int) (win, naiveWin hit) {
	win, naiveWin = noHit, noHit
	head := keyHead(key)
	for j, r := range s.runs {
		k := r.find(key, head, hints[j])
		hints[j] = k
		if k == r.keys() || r.compareKey(k, key, head) != 0 {
			continue
		}
		wi, ni := r.winner(k, b, w, naive)
		if h := (hit{int32(j), int32(wi)}); wi >= 0 && s.newer(h, win) {
			win = h
		}
		if h := (hit{int32(j), int32(ni)}); ni >= 0 && s.newer(h, naiveWin) {
			naiveWin = h
		}
	}
	return win, naiveWin
}
