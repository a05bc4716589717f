package server

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

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
	var bad []int
	count, n := 0, 0
	for _, run := range runs {
		for _, t := range run {
			if t < sp.Start || t > sp.End {
				count++
				if len(bad) < maxReportedRows {
					bad = append(bad, n)
				}
			}
			n++
		}
	}
	if count == 0 {
		return nil
	}
	rows := make([]string, len(bad))
	for i, r := range bad {
		rows[i] = strconv.Itoa(r)
	}
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
