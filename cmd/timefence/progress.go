package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/timefence/timefence/client"
	"github.com/timefence/timefence/internal/tableio"
)

// progress shows a one-line progress bar on stderr while long work runs,
// only when stderr is a terminal. Each stage of the work (sending a file,
// the server's work, receiving results) gets a bar of its own: with a
// total, a bar with the count and rate; without one, a spinner with the
// elapsed time.
type progress struct {
	w        io.Writer // nil when silent
	throttle time.Duration
	mu       sync.Mutex // stages change from the goroutines of uploads and of results
	label    string
	bar      *progressbar.ProgressBar
}

// newProgress returns a progress whose first stage has total units of
// work (0 if unknown).
func newProgress(stderr io.Writer, label, unit string, total int64) *progress {
	p := &progress{throttle: 100 * time.Millisecond}
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.w = stderr
	}
	p.stage(label, unit, total)
	return p
}

// stage starts the next stage of the work: unit is "rows", "bytes", or ""
// for work without a measure; total is 0 when unknown.
func (p *progress) stage(label, unit string, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.label = label
	if p.w == nil {
		return
	}
	p.finishLocked()
	opts := []progressbar.Option{
		progressbar.OptionSetWriter(p.w),
		progressbar.OptionSetDescription(label),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(p.throttle),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionSetPredictTime(unit != "" && total > 0),
		progressbar.OptionClearOnFinish(),
	}
	switch unit {
	case "bytes":
		opts = append(opts, progressbar.OptionShowBytes(true), progressbar.OptionShowCount())
	case "":
	default:
		opts = append(opts, progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString(unit))
	}
	if unit == "" || total <= 0 {
		total = -1
	}
	p.bar = progressbar.NewOptions64(total, opts...)
	_ = p.bar.RenderBlank()
}

// add records n more units done.
func (p *progress) add(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		_ = p.bar.Add64(n)
	}
}

// update records that done units are done in all.
// Write makes the bar an io.Writer that counts the bytes written.
func (p *progress) Write(b []byte) (int, error) {
	p.add(int64(len(b)))
	return len(b), nil
}

func (p *progress) update(done int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		_ = p.bar.Set64(done)
	}
}

// server shows a report of the server's own work: each phase is a stage.
func (p *progress) server(r client.Progress) {
	label := "server: " + r.Phase
	p.mu.Lock()
	same := p.label == label
	p.mu.Unlock()
	if !same {
		p.stage(label, r.Unit, r.Total)
	}
	p.update(r.Done)
}

// inStage reports whether the current stage is label.
func (p *progress) inStage(label string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.label == label
}

// watch advances the bar as t is read, and calls end once it is all read.
func (p *progress) watch(t *tableio.Table, end func()) {
	t.OnRecord = func() { p.update(t.Done()) }
	t.OnEnd = end
}

// finish stops and clears the bar.
func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.finishLocked()
}

func (p *progress) finishLocked() {
	if p.bar != nil {
		_ = p.bar.Finish()
		p.bar = nil
	}
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

// plural formats a count with its noun: "1 key", "2,048 keys", "3 entities",
// "2 mismatches".
func plural[N int | int64](n N, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	for _, end := range []string{"ch", "sh", "s", "x", "z"} {
		if strings.HasSuffix(noun, end) {
			return count(int64(n)) + " " + noun + "es"
		}
	}
	if strings.HasSuffix(noun, "y") && !strings.ContainsAny(noun[len(noun)-2:len(noun)-1], "aeiou") {
		noun = strings.TrimSuffix(noun, "y") + "ie"
	}
	return count(int64(n)) + " " + noun + "s"
}
