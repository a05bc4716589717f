package server

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/timefence/timefence/storage"
)

// maxReportedRows is how many offending rows a CUTOFF_EXCEEDED error lists.
const maxReportedRows = 5

// splitFor returns the split a training-side read runs under. Every such
// read goes through it: without a split name, or under a split the caller's
// credential does not cover, the read is refused.
func (s *Server) splitFor(ctx context.Context, name string) (storage.Split, error) {
	if name == "" {
		return storage.Split{}, &requestError{code: codes.FailedPrecondition, reason: ReasonSplitRequired,
			msg: "split: a training-side read (historical, as-of, export or statistics) needs a split; create one and name it"}
	}
	if err := checkSplitScope(ctx, name); err != nil {
		return storage.Split{}, err
	}
	sp, err := s.store.Split(name)
	if errors.Is(err, storage.ErrUnknownSplit) {
		return sp, &requestError{code: codes.FailedPrecondition, reason: ReasonUnknownSplit,
			msg: fmt.Sprintf("split: unknown split %q", name)}
	}
	return sp, err
}

// checkWindow refuses a read whole when any of its times, given as runs of
// consecutive rows, lies outside the split's window [start, end].
func checkWindow(sp storage.Split, runs ...[]int64) error {
	o := findOffending(func(t int64) bool { return t < sp.Start || t > sp.End }, runs)
	if o.count == 0 {
		return nil
	}
	count, n, rows := o.count, o.n, o.rows
	return &requestError{
		code:   codes.FailedPrecondition,
		reason: ReasonCutoffExceeded,
		msg: fmt.Sprintf("%d of %d rows have a timestamp outside split %q [%s, %s] (first rows: %s); nothing was read",
			count, n, sp.Name, storage.FormatTime(sp.Start), storage.FormatTime(sp.End), strings.Join(rows, ", ")),
		metadata: map[string]string{
			"split":          sp.Name,
			"cutoff":         storage.FormatTime(sp.End),
			"offending_rows": strconv.Itoa(count),
			"first_rows":     strings.Join(rows, ","),
		},
	}
}

// offending is what findOffending found: how many of n times are bad, the
// first few of their row numbers, and the first bad time.
type offending struct {
	count, n int
	rows     []string
	first    int64
}

// findOffending scans times given as runs of consecutive rows.
func findOffending(bad func(int64) bool, runs [][]int64) offending {
	var o offending
	for _, run := range runs {
		for _, t := range run {
			if bad(t) {
				if o.count == 0 {
					o.first = t
				}
				o.count++
				if len(o.rows) < maxReportedRows {
					o.rows = append(o.rows, strconv.Itoa(o.n))
				}
			}
			o.n++
		}
	}
	return o
}

// checkFuture refuses a read whole when any of its times, given as runs of
// consecutive rows (or one time, when field is not a table), lies later than
// now by more than MaxClockSkew: a batch committed after the read could
// still become available at such a time, so the read could not be replayed.
func (s *Server) checkFuture(field string, table bool, runs ...[]int64) error {
	now := time.Now()
	latest := now.Add(s.cfg.MaxClockSkew).UnixNano()
	o := findOffending(func(t int64) bool { return t > latest }, runs)
	if o.count == 0 {
		return nil
	}
	count, n, rows, first := o.count, o.n, o.rows, o.first
	what := fmt.Sprintf("%s is later than now (%s) by more than the allowed clock skew of %s",
		storage.FormatTime(first), storage.FormatTime(now.UnixNano()), s.cfg.MaxClockSkew)
	if table {
		what = fmt.Sprintf("%d of %d rows have a timestamp later than now (%s) by more than the allowed clock skew of %s (first rows: %s; row %s is at %s)",
			count, n, storage.FormatTime(now.UnixNano()), s.cfg.MaxClockSkew, strings.Join(rows, ", "), rows[0], storage.FormatTime(first))
	}
	return &requestError{
		code:   codes.FailedPrecondition,
		reason: ReasonFutureTime,
		msg:    fmt.Sprintf("%s: %s; a read of the future could change after it returns, so nothing was read", field, what),
		metadata: map[string]string{
			"time":           storage.FormatTime(first),
			"now":            storage.FormatTime(now.UnixNano()),
			"max_clock_skew": s.cfg.MaxClockSkew.String(),
			"offending_rows": strconv.Itoa(count),
			"first_rows":     strings.Join(rows, ","),
		},
	}
}

// awaitReadTime returns the watermark of a read as of at once the store's
// read time has reached at. Every batch with a commit time at or before at
// is then visible, and every later batch gets a later commit time, so the
// read can be replayed. A time ahead of the clock (by at most MaxClockSkew,
// see checkFuture) or of a batch still committing is waited for.
func (s *Server) awaitReadTime(ctx context.Context, at int64) (uint64, error) {
	for {
		now, watermark := s.store.ReadTime()
		if now >= at {
			return watermark, nil
		}
		wait := min(time.Duration(at-now), 10*time.Millisecond)
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(wait):
		}
	}
}
