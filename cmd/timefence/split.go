package main

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/timefence/timefence/client"
	"github.com/timefence/timefence/definitions"
)

func splitCmd() *cobra.Command {
	cmd := verb("split", "create or list splits: the time windows training reads run under",
		`A split is a named, immutable time window [start, end] that training-side
reads (join, export, stats) run under; end is the cutoff: nothing that
happened or arrived after it can be read under the split.`,
		"timefence split create holdout --start 2024-03-01T00:00:00Z --end 2024-03-31T23:59:59Z", "timefence split list")
	cmd.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usageError("split", "unknown subcommand %q; expected create or list", args[0])
		}
		return nil
	}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		cmd.SetOut(cmd.ErrOrStderr())
		_ = cmd.Usage()
		return usageError("split", "expected a subcommand: create or list")
	}
	cmd.AddCommand(splitCreateCmd(), splitListCmd())
	return cmd
}

func splitCreateCmd() *cobra.Command {
	cmd := verb("create [flags] NAME --end TIME", "create a split",
		`Creates the split NAME over [start, end], both inclusive. Times are RFC 3339
with a zone. Creating an identical split again succeeds; other bounds are
refused, because splits are immutable.`,
		"timefence split create holdout --start 2024-03-01T00:00:00Z --end 2024-03-31T23:59:59Z")
	cmd.Args = exactArgs(1, "expected one split name")
	conn := connectionFlags(cmd)
	fs := cmd.Flags()
	start := fs.String("start", "", "the first instant of the window (default 1970-01-01T00:00:00Z)")
	end := fs.String("end", "", "the cutoff: the last instant of the window (required)")
	desc := fs.String("description", "", "what the split is for")
	cmd.RunE = func(cmd *cobra.Command, pos []string) error {
		ctx, stdout := cmd.Context(), cmd.OutOrStdout()
		if *end == "" {
			return usageError("split create", "--end is required")
		}
		from := time.Unix(0, 0).UTC()
		if *start != "" {
			t, err := definitions.ParseTime(*start)
			if err != nil {
				return fmt.Errorf("--start: %v", err)
			}
			from = t
		}
		to, err := definitions.ParseTime(*end)
		if err != nil {
			return fmt.Errorf("--end: %v", err)
		}
		if to.Before(from) {
			return fmt.Errorf("--end %s is before --start %s", *end, *start)
		}
		s, cctx, done, err := conn.open(ctx)
		if err != nil {
			return err
		}
		defer done()
		resp, err := s.CreateSplit(cctx, pos[0], from, to, client.WithDescription(*desc))
		if err != nil {
			return s.explain(err)
		}
		got := resp.GetSplit()
		what := "created"
		if !resp.GetCreated() {
			what = "already exists with these bounds:"
		}
		fmt.Fprintf(stdout, "split %s %s [%s, %s]\n", got.GetName(), what,
			formatTime(got.GetStart().AsTime()), formatTime(got.GetEnd().AsTime()))
		return nil
	}
	return cmd
}

func splitListCmd() *cobra.Command {
	cmd := verb("list [flags]", "list the splits", "Lists the splits with their windows.",
		"timefence split list", "timefence split list --json")
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
		splits, err := s.ListSplits(cctx)
		if err != nil {
			return s.explain(err)
		}
		if *asJSON {
			type split struct {
				Name        string `json:"name"`
				Start       string `json:"start"`
				End         string `json:"end"`
				Description string `json:"description,omitempty"`
				CreateTime  string `json:"create_time"`
			}
			out := []split{}
			for _, sp := range splits {
				out = append(out, split{sp.GetName(), formatTime(sp.GetStart().AsTime()), formatTime(sp.GetEnd().AsTime()),
					sp.GetDescription(), formatTime(sp.GetCreateTime().AsTime())})
			}
			return writeJSON(stdout, out)
		}
		if len(splits) == 0 {
			fmt.Fprintln(stdout, "no splits yet; create one with 'timefence split create NAME --end TIME'")
			return nil
		}
		t := newTable("name", "start", "end (cutoff)", "description")
		for _, sp := range splits {
			t.add(sp.GetName(), formatTime(sp.GetStart().AsTime()), formatTime(sp.GetEnd().AsTime()), sp.GetDescription())
		}
		t.write(stdout)
		return nil
	}
	return cmd
}

// writeJSON writes v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
