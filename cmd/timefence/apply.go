package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/timefence/timefence/client"
)

func applyCmd() *cobra.Command {
	cmd := verb("apply [flags] FILE", "apply a YAML definitions file: entities, feature views, splits",
		`Applies the entities, feature views and splits of a YAML definitions file,
all or nothing: the server checks every definition against what it holds
and against the others, and applies them together only when none is
refused. New ones are created, changed ones updated when the change is
compatible; splits are immutable. A refusal names the file's line, and
nothing is applied. --dry-run shows what applying would do, refusals
included, and applies nothing (it exits 1 when something would be refused).
'timefence schema' prints the file's JSON Schema.`,
		"timefence apply examples/definitions.yaml", "timefence apply --dry-run examples/definitions.yaml")
	cmd.Args = exactArgs(1, "expected one definitions file")
	conn := connectionFlags(cmd)
	dryRun := cmd.Flags().Bool("dry-run", false, "show what applying would do; apply nothing")
	cmd.RunE = func(cmd *cobra.Command, pos []string) error {
		ctx, stdout := cmd.Context(), cmd.OutOrStdout()
		data, err := os.ReadFile(pos[0])
		if err != nil {
			return fileError(pos[0], err)
		}
		s, err := conn.dial(ctx)
		if err != nil {
			return err
		}
		defer s.Close()
		return s.apply(ctx, pos[0], data, *dryRun, stdout)
	}
	return cmd
}

// apply applies a definitions file, or with dryRun shows its plan, as a
// table. A refused apply fails with the server's message, which names
// every refused definition's line.
func (s *session) apply(ctx context.Context, name string, data []byte, dryRun bool, stdout io.Writer) error {
	cctx, cancel := call(ctx)
	defer cancel()
	var opts []client.Option
	if dryRun {
		opts = append(opts, client.DryRun())
	}
	resp, err := s.ApplyDefinitions(cctx, name, data, opts...)
	if err != nil {
		return s.explain(err)
	}
	if len(resp.GetChanges()) == 0 {
		fmt.Fprintf(stdout, "%s defines nothing to apply\n", name)
		return nil
	}
	t := newTable("kind", "name", "result", "version").alignRight(3)
	var problems []string
	for _, c := range resp.GetChanges() {
		version := "-"
		if c.GetVersion() > 0 {
			version = fmt.Sprint(c.GetVersion())
		}
		t.add(strings.ReplaceAll(c.GetKind(), "_", " "), c.GetName(), result(c.GetAction(), dryRun), version)
		if c.GetProblem() != "" {
			problems = append(problems, c.GetLocation()+": "+c.GetProblem())
		}
	}
	t.write(stdout)
	if !dryRun {
		return nil
	}
	for _, p := range problems {
		fmt.Fprintln(stdout, p)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s would be refused; nothing was applied", plural(len(problems), "definition"))
	}
	fmt.Fprintln(stdout, "dry run: nothing was applied")
	return nil
}

// result says what a planned action did, or with dryRun would do.
func result(action string, dryRun bool) string {
	switch {
	case action == "create" && dryRun:
		return "would create"
	case action == "update" && dryRun:
		return "would update"
	case action == "create":
		return "created"
	case action == "update":
		return "updated"
	}
	return action
}
