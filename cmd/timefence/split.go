package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
)

func runSplit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "create":
			return runSplitCreate(ctx, args[1:], stdout, stderr)
		case "list":
			return runSplitList(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprint(stderr, `Usage: timefence split create NAME --end TIME [--start TIME] [--description TEXT]
       timefence split list [--json]

A split is a named, immutable time window [start, end] that training-side
reads (join, export, stats) run under; end is the cutoff: nothing that
happened or arrived after it can be read under the split.

Run 'timefence split create -h' or 'timefence split list -h' for flags.
`)
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		return nil
	}
	return usageError("split", "unknown subcommand %q; expected create or list", args[0])
}

func runSplitCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := verbFlags("split create", "split create [flags] NAME --end TIME",
		`Creates the split NAME over [start, end], both inclusive. Times are RFC 3339
with a zone. Creating an identical split again succeeds; other bounds are
refused, because splits are immutable.`,
		[]string{"timefence split create train --start 2024-01-01T00:00:00Z --end 2024-06-30T23:59:59Z"}, stderr)
	conn := connectionFlags(fs)
	start := fs.String("start", "", "the first instant of the window (default 1970-01-01T00:00:00Z)")
	end := fs.String("end", "", "the cutoff: the last instant of the window (required)")
	desc := fs.String("description", "", "what the split is for")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("split create", "expected one split name")
	}
	if *end == "" {
		return usageError("split create", "--end is required")
	}
	sp := &timefencev1.Split{Name: pos[0], Description: *desc, Start: timestamppb.New(time.Unix(0, 0))}
	if *start != "" {
		t, err := parseTime(*start)
		if err != nil {
			return fmt.Errorf("--start: %v", err)
		}
		sp.Start = timestamppb.New(t)
	}
	t, err := parseTime(*end)
	if err != nil {
		return fmt.Errorf("--end: %v", err)
	}
	sp.End = timestamppb.New(t)
	if sp.End.AsTime().Before(sp.Start.AsTime()) {
		return fmt.Errorf("--end %s is before --start %s", *end, *start)
	}
	s, err := conn.dial(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	cctx, cancel := call(ctx)
	defer cancel()
	resp, err := s.Registry.CreateSplit(cctx, &timefencev1.CreateSplitRequest{Split: sp})
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

func runSplitList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := verbFlags("split list", "split list [flags]", "Lists the splits with their windows.",
		[]string{"timefence split list", "timefence split list --json"}, stderr)
	conn := connectionFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usageError("split list", "unexpected argument %q", pos[0])
	}
	s, err := conn.dial(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	cctx, cancel := call(ctx)
	defer cancel()
	resp, err := s.Registry.ListSplits(cctx, &timefencev1.ListSplitsRequest{})
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
		for _, sp := range resp.GetSplits() {
			out = append(out, split{sp.GetName(), formatTime(sp.GetStart().AsTime()), formatTime(sp.GetEnd().AsTime()),
				sp.GetDescription(), formatTime(sp.GetCreateTime().AsTime())})
		}
		return writeJSON(stdout, out)
	}
	if len(resp.GetSplits()) == 0 {
		fmt.Fprintln(stdout, "no splits yet; create one with 'timefence split create NAME --end TIME'")
		return nil
	}
	t := newTable("name", "start", "end (cutoff)", "description")
	for _, sp := range resp.GetSplits() {
		t.add(sp.GetName(), formatTime(sp.GetStart().AsTime()), formatTime(sp.GetEnd().AsTime()), sp.GetDescription())
	}
	t.write(stdout)
	return nil
}

// writeJSON writes v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
