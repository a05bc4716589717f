package main

import (
	"fmt"
	"time"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"

	"github.com/spf13/cobra"
)

func statusCmd() *cobra.Command {
	cmd := verb("status [flags]", "show each view's columnar history: run files, versions in memory",
		`Shows the columnar history that joins, exports and statistics read, per
feature view: the run files and the versions they hold, the versions still
in memory (written to a run file by the background compactor), and when the
view was last compacted.`,
		"timefence status", "timefence status --json")
	cmd.Args = noArgs
	conn := connectionFlags(cmd)
	asJSON := cmd.Flags().Bool("json", false, "print JSON")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		ctx, stdout := cmd.Context(), cmd.OutOrStdout()
		s, cctx, done, err := conn.open(ctx)
		if err != nil {
			return err
		}
		defer done()
		views, err := s.GetHistoryStatus(cctx)
		if err != nil {
			return s.explain(err)
		}
		if *asJSON {
			return writeProtoJSON(stdout, &timefencev1.GetHistoryStatusResponse{Views: views})
		}
		if len(views) == 0 {
			fmt.Fprintln(stdout, "no feature views")
			return nil
		}
		t := newTable("feature view", "run files", "versions in files", "file bytes", "in memory", "last compaction").alignRight(1, 2, 3, 4)
		for _, v := range views {
			last := "never"
			if v.GetLastCompaction() != nil {
				last = v.GetLastCompaction().AsTime().UTC().Format(time.RFC3339)
			}
			t.add(v.GetFeatureView(), count(v.GetFileRuns()), count(v.GetFileVersions()), count(v.GetFileBytes()), count(v.GetTailVersions()), last)
		}
		t.write(stdout)
		return nil
	}
	return cmd
}
