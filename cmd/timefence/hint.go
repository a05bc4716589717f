package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
)

// A read under a split that finds nothing of a view is most often history
// loaded as live writes: each row is then available from when it was
// written, after the split's cutoff. The hints below say so, using only what
// the server already shows: the versions readable under the split, and the
// view's total versions from status. That total counts versions after the
// cutoff too, so the server shows it only to credentials not bounded by
// splits (never to a trainer); without it the note gives no total.

// hintEmpty notes, for each view that has no version readable under split,
// how many versions the view holds and how to load history.
func (s *session) hintEmpty(ctx context.Context, w io.Writer, split string, views []string) {
	cctx, cancel := call(ctx)
	defer cancel()
	cutoff := ""
	if sp, err := s.GetSplit(cctx, split); err == nil {
		cutoff = " (" + formatTime(sp.GetEnd().AsTime()) + ")"
	}
	total := map[string]int64{}
	known := false
	if views, err := s.GetHistoryStatus(cctx); err == nil {
		known = true
		for _, v := range views {
			total[v.GetFeatureView()] = v.GetFileVersions() + v.GetTailVersions()
		}
	}
	for _, view := range views {
		switch n := total[view]; {
		case known && n == 0:
			fmt.Fprintf(w, "note: %s holds no versions yet; write some with 'timefence write'\n", view)
		case known:
			fmt.Fprintf(w, "note: none of the %s of %s was available by the cutoff of split %s%s; "+
				"rows loaded with 'timefence write' are available from when they were written, so load history with 'timefence write --backfill'\n",
				plural(n, "version"), view, split, cutoff)
		default:
			fmt.Fprintf(w, "note: no version of %s was available by the cutoff of split %s%s; "+
				"rows loaded with 'timefence write' are available from when they were written, so load history with 'timefence write --backfill'\n",
				view, split, cutoff)
		}
	}
}

// hintEmptyStats notes the views of sts that have no data under their split.
func (s *session) hintEmptyStats(ctx context.Context, w io.Writer, sts ...*timefencev1.GetStatisticsResponse) {
	for _, st := range sts {
		if st.GetVersions() == 0 {
			s.hintEmpty(ctx, w, st.GetSplit(), []string{st.GetFeatureView()})
		}
	}
}

// hintNullViews notes the views of a join whose features were null in every
// row; present counts the non-null values of each feature column, in the
// order refs name them.
func (s *session) hintNullViews(ctx context.Context, w io.Writer, split string, refs []string, present []int64) {
	var colView []string
	for _, ref := range refs {
		view, feature, _ := strings.Cut(ref, ":")
		if feature != "" {
			colView = append(colView, view)
			continue
		}
		v, _, err := s.viewAndEntity(ctx, view)
		if err != nil {
			return
		}
		for range v.GetFeatures() {
			colView = append(colView, view)
		}
	}
	if len(colView) != len(present) {
		return
	}
	found := map[string]int64{}
	var order []string
	for i, view := range colView {
		if _, ok := found[view]; !ok {
			order = append(order, view)
		}
		found[view] += present[i]
	}
	var empty []string
	for _, view := range order {
		if found[view] > 0 {
			continue
		}
		cctx, cancel := call(ctx)
		st, err := s.GetStatistics(cctx, split, view)
		cancel()
		switch {
		case err != nil:
		case st.GetVersions() == 0:
			empty = append(empty, view)
		default:
			fmt.Fprintf(w, "note: every value of %s is null although the split holds %s of it; check the spine's join keys and timestamps\n",
				view, plural(st.GetVersions(), "version"))
		}
	}
	if len(empty) > 0 {
		s.hintEmpty(ctx, w, split, empty)
	}
}
