package server

import (
	"encoding/json"
	"time"

	"github.com/timefence/timefence/storage"
)

// progressEvery is how often a call that asked for progress reports it.
var progressEvery = 200 * time.Millisecond

// progressMessage is the app metadata of a progress message.
type progressMessage struct {
	Progress progressReport `json:"progress"`
}

type progressReport struct {
	Phase string `json:"phase"`
	Done  int64  `json:"done"`
	Total int64  `json:"total"`
	Unit  string `json:"unit,omitempty"`
}

// reporter sends the progress of a call, as messages that carry only app
// metadata, while the server works between the client's last message and
// the first message of the result. Only its own goroutine sends, from start
// until stop returns. A nil reporter (the call did not ask) does nothing.
type reporter struct {
	prog  storage.Progress
	send  func(meta []byte) error
	quit  chan struct{}
	ended chan struct{}
	// The last phase reported, and its done then.
	last     int
	lastDone int64
}

// newReporter returns a reporter that sends with send if want, else nil.
func newReporter(want bool, send func(meta []byte) error) *reporter {
	if !want {
		return nil
	}
	return &reporter{send: send, last: -1}
}

// progress returns what the call's work reports to; nil for a nil reporter.
func (r *reporter) progress() *storage.Progress {
	if r == nil {
		return nil
	}
	return &r.prog
}

// start starts sending: every progressEvery, each phase begun since the
// last report and the current one, if it has moved.
func (r *reporter) start() {
	if r == nil || r.quit != nil {
		return
	}
	r.quit, r.ended = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(r.ended)
		tick := time.NewTicker(progressEvery)
		defer tick.Stop()
		for {
			select {
			case <-r.quit:
				r.report() // the final state of the last phases
				return
			case <-tick.C:
				if r.report() != nil {
					return // the stream is broken; the call sees it too
				}
			}
		}
	}()
}

// stop sends the last report and returns once nothing more is sent. It may
// be called more than once.
func (r *reporter) stop() {
	if r == nil || r.quit == nil {
		return
	}
	select {
	case <-r.ended:
		return
	default:
	}
	close(r.quit)
	<-r.ended
}

// report sends, in order, the phases not yet reported and the last one
// reported if it has moved since.
func (r *reporter) report() error {
	phases := r.prog.Phases()
	for i := max(r.last, 0); i < len(phases); i++ {
		ph := phases[i]
		done := ph.Done()
		if i == r.last && done == r.lastDone {
			continue
		}
		meta, err := json.Marshal(progressMessage{progressReport{Phase: ph.Name, Done: done, Total: ph.Total, Unit: ph.Unit}})
		if err != nil {
			return err
		}
		if err := r.send(meta); err != nil {
			return err
		}
		r.last, r.lastDone = i, done
	}
	return nil
}
