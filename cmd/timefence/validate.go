package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
	"github.com/timefence/timefence/client"
)

func validateCmd() *cobra.Command {
	cmd := verb("validate", "report the write batches that failed an expectation",
		`A feature view's expectations (docs/validation.md) are checked on every
write batch. A failing hard expectation refuses the batch; a failing warn
expectation writes it and records a validation event, which
'timefence validate report' lists.`,
		"timefence validate report --since 24h", "timefence validate report --view user_stats --json")
	cmd.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usageError("validate", "unknown subcommand %q; expected report", args[0])
		}
		return nil
	}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		cmd.SetOut(cmd.ErrOrStderr())
		_ = cmd.Usage()
		return usageError("validate", "expected a subcommand: report")
	}
	cmd.AddCommand(validateReportCmd())
	return cmd
}

func validateReportCmd() *cobra.Command {
	cmd := verb("report [flags]", "list validation events: batches written although they failed a warn expectation",
		`Lists the validation events committed between --since and --until: each is
a write batch that failed a warn expectation of its feature view and was
written all the same. A line per view and expectation counts them; then each
event names the batch, the expectation, how many rows failed and the first
few. Batches refused by a hard expectation wrote nothing and are not listed
(the server's timefence_expectation_refusals_total counts them).`,
		"timefence validate report", "timefence validate report --since 24h --view user_stats")
	cmd.Args = noArgs
	conn := connectionFlags(cmd)
	fs := cmd.Flags()
	since := fs.String("since", "", "events committed from this time (RFC 3339) or this long ago (e.g. 24h); default: the first")
	until := fs.String("until", "", "events committed up to this time (RFC 3339) or this long ago; default: now")
	view := fs.String("view", "", "only the events of this feature view")
	maxEvents := fs.Int("max", 20, "list at most this many events (the counts cover them all)")
	asJSON := fs.Bool("json", false, "print JSON")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		ctx, stdout := cmd.Context(), cmd.OutOrStdout()
		from, err := whenFlag("since", *since)
		if err != nil {
			return err
		}
		to, err := whenFlag("until", *until)
		if err != nil {
			return err
		}
		if *maxEvents < 0 || *maxEvents > 10_000 {
			return usageError("validate report", "--max must be from 0 to 10000")
		}
		s, cctx, done, err := conn.open(ctx)
		if err != nil {
			return err
		}
		defer done()
		rep, err := s.ValidationReport(cctx, from, to, client.ForView(*view), client.MaxEvents(max(*maxEvents, 1)))
		if err != nil {
			return s.explain(err)
		}
		rep.Events = rep.Events[:min(len(rep.Events), *maxEvents)]
		if *asJSON {
			return writeProtoJSON(stdout, rep)
		}
		printValidation(stdout, rep)
		return nil
	}
	return cmd
}

func printValidation(w io.Writer, rep *timefencev1.GetValidationReportResponse) {
	fmt.Fprintln(w, plural(rep.GetTotalEvents(), "validation event"))
	if len(rep.GetCounts()) > 0 {
		fmt.Fprintln(w)
		t := newTable("view", "expectation", "level", "events", "rows failed").alignRight(3, 4)
		for _, c := range rep.GetCounts() {
			t.add(c.GetFeatureView(), c.GetExpectation(), c.GetLevel(), count(c.GetEvents()), count(c.GetRowsFailed()))
		}
		t.write(w)
	}
	for _, e := range rep.GetEvents() {
		batch := ""
		if e.GetBatchId() != "" {
			batch = fmt.Sprintf(" batch %q", e.GetBatchId())
		}
		fmt.Fprintf(w, "\n%s %s version %d%s, seqs %d-%d\n", formatTime(e.GetTime().AsTime()), e.GetFeatureView(), e.GetViewVersion(),
			batch, e.GetFirstSeq(), e.GetLastSeq())
		name := e.GetKind()
		if f := e.GetExpectation().GetFeature(); f != "" {
			name += "(" + f + ")"
		}
		rows := make([]string, len(e.GetFailedRows()))
		for i, r := range e.GetFailedRows() {
			rows[i] = fmt.Sprintf("row %d: %s", r.GetRow(), r.GetValue())
		}
		if e.GetRowsFailed() > int64(len(rows)) {
			rows = append(rows, "...")
		}
		fmt.Fprintf(w, "  %s (%s): %d of %s fail: %s\n", name, e.GetBound(), e.GetRowsFailed(), plural(e.GetRowsChecked(), "row"), strings.Join(rows, ", "))
	}
	if n := rep.GetTotalEvents() - int64(len(rep.GetEvents())); n > 0 {
		fmt.Fprintf(w, "\n%s more not shown (--max)\n", count(n))
	}
}
