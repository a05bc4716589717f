package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/timefence/timefence/internal/tableio"
)

// progress draws a one-line progress bar on stderr while long work runs.
// It draws only when stderr is a terminal, and only once the work has
// taken longer than a moment; otherwise it is silent. A ticker redraws it,
// so the elapsed time moves while the server works.
type progress struct {
	mu     sync.Mutex
	w      io.Writer // nil when silent
	label  string
	unit   string // "rows", "bytes", or "" for work without a measure
	total  int64  // 0 when unknown
	done   int64
	start  time.Time
	active bool
	stop   chan struct{}
	exited chan struct{}
}

const (
	progressDelay = 300 * time.Millisecond // no bar for work shorter than this
	progressEvery = 100 * time.Millisecond
	progressWidth = 30
)

// newProgress returns a bar for total units of work (0 if unknown).
func newProgress(stderr io.Writer, label, unit string, total int64) *progress {
	p := &progress{label: label, unit: unit, total: total, start: time.Now()}
	if isTerminal(stderr) {
		p.w, p.stop, p.exited = stderr, make(chan struct{}), make(chan struct{})
		go p.tick()
	}
	return p
}

// isTerminal reports whether w is a character device such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func (p *progress) tick() {
	defer close(p.exited)
	t := time.NewTicker(progressEvery)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case now := <-t.C:
			p.mu.Lock()
			if now.Sub(p.start) >= progressDelay {
				p.active = true
				fmt.Fprint(p.w, "\r"+p.line(now)+"\033[K")
			}
			p.mu.Unlock()
		}
	}
}

// add records n more units done.
func (p *progress) add(n int64) {
	p.mu.Lock()
	p.done += n
	p.mu.Unlock()
}

// update records that done units are done in all.
func (p *progress) update(done int64) {
	p.mu.Lock()
	p.done = done
	p.mu.Unlock()
}

// stage starts the next stage of the work, e.g. waiting for the server.
func (p *progress) stage(label, unit string, total int64) {
	p.mu.Lock()
	p.label, p.unit, p.total, p.done = label, unit, total, 0
	p.mu.Unlock()
}

// watch advances the bar as t is read, and calls end once it is all read.
func (p *progress) watch(t *tableio.Table, end func()) {
	t.OnRecord = func() { p.update(t.Done()) }
	t.OnEnd = end
}

// finish stops and clears the bar.
func (p *progress) finish() {
	if p.stop == nil {
		return
	}
	select {
	case <-p.stop:
		return // finished already
	default:
		close(p.stop)
	}
	<-p.exited
	if p.active {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

func (p *progress) line(now time.Time) string {
	elapsed := now.Sub(p.start).Round(100 * time.Millisecond)
	unit := " " + p.unit
	if p.unit == "bytes" {
		unit = ""
	}
	switch {
	case p.unit == "":
		return fmt.Sprintf("%s …  %s", p.label, elapsed)
	case p.total <= 0:
		return fmt.Sprintf("%s %s%s  %s", p.label, p.amount(p.done), unit, elapsed)
	}
	frac := min(float64(p.done)/float64(p.total), 1)
	full := int(frac * progressWidth)
	bar := strings.Repeat("█", full) + strings.Repeat("░", progressWidth-full)
	return fmt.Sprintf("%s %s %3.0f%%  %s / %s%s  %s", p.label, bar, frac*100,
		p.amount(p.done), p.amount(p.total), unit, elapsed)
}

func (p *progress) amount(n int64) string {
	if p.unit == "bytes" {
		return byteSize(n)
	}
	return count(n)
}

// byteSize formats n bytes as 512 B, 1.5 MB, ...
func byteSize(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}

// count formats n with thousands separators: 1,234,567.
func count(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// plural formats a count with its noun: "1 key", "2,048 keys", "3 entities".
func plural[N int | int64](n N, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if strings.HasSuffix(noun, "y") && !strings.ContainsAny(noun[len(noun)-2:len(noun)-1], "aeiou") {
		noun = strings.TrimSuffix(noun, "y") + "ie"
	}
	return count(int64(n)) + " " + noun + "s"
}
