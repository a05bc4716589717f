package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/timefence/timefence/client"
	"github.com/timefence/timefence/definitions"
)

func applyCmd() *cobra.Command {
	cmd := verb("apply [flags] FILE", "apply a YAML definitions file: entities, feature views, splits",
		`Applies the entities, feature views and splits of a YAML definitions file:
new ones are created, changed ones updated when the change is compatible.
Splits are immutable: applying one again with other bounds is refused.
'timefence schema' prints the file's JSON Schema.`,
		"timefence apply examples/definitions.yaml", "timefence apply --check examples/definitions.yaml")
	cmd.Args = exactArgs(1, "expected one definitions file")
	conn := connectionFlags(cmd)
	check := cmd.Flags().Bool("check", false, "only check the file; do not contact the server")
	cmd.RunE = func(cmd *cobra.Command, pos []string) error {
		ctx, stdout := cmd.Context(), cmd.OutOrStdout()
		data, err := os.ReadFile(pos[0])
		if err != nil {
			return fileError(pos[0], err)
		}
		defs, err := definitions.Parse(pos[0], data)
		if err != nil {
			return err
		}
		if *check {
			fmt.Fprintf(stdout, "%s is valid: %s, %s, %s\n", pos[0],
				plural(len(defs.Entities), "entity"), plural(len(defs.FeatureViews), "feature view"), plural(len(defs.Splits), "split"))
			return nil
		}
		s, err := conn.dial(ctx)
		if err != nil {
			return err
		}
		defer s.Close()
		return s.apply(ctx, defs, stdout)
	}
	return cmd
}

// apply applies every definition in order: entities, views, then splits.
// A refusal names the definition's line in the file.
func (s *session) apply(ctx context.Context, defs *definitions.File, stdout io.Writer) error {
	t := newTable("kind", "name", "result", "version").alignRight(3)
	at := func(line int, path string, err error) error {
		if len(t.rows) > 0 {
			t.write(stdout) // what was applied before the refusal
		}
		return &definitions.Error{File: defs.Name, Line: line, Path: path, Msg: s.explain(err).Error()}
	}
	for _, e := range defs.Entities {
		cctx, cancel := call(ctx)
		resp, err := s.ApplyEntity(cctx, e.Def)
		cancel()
		if err != nil {
			return at(e.Line, e.Path, err)
		}
		t.add("entity", e.Def.GetName(), applied(resp.GetChanged(), resp.GetEntity().GetVersion()), fmt.Sprint(resp.GetEntity().GetVersion()))
	}
	for _, v := range defs.FeatureViews {
		cctx, cancel := call(ctx)
		resp, err := s.ApplyFeatureView(cctx, v.Def)
		cancel()
		if err != nil {
			return at(v.Line, v.Path, err)
		}
		t.add("feature view", v.Def.GetName(), applied(resp.GetChanged(), resp.GetFeatureView().GetVersion()), fmt.Sprint(resp.GetFeatureView().GetVersion()))
	}
	for _, sp := range defs.Splits {
		cctx, cancel := call(ctx)
		resp, err := s.CreateSplit(cctx, sp.Def.GetName(), timeOf(sp.Def.GetStart()), timeOf(sp.Def.GetEnd()), client.WithDescription(sp.Def.GetDescription()))
		cancel()
		if err != nil {
			return at(sp.Line, sp.Path, err)
		}
		result := "unchanged"
		if resp.GetCreated() {
			result = "created"
		}
		t.add("split", sp.Def.GetName(), result, "-")
	}
	if len(t.rows) == 0 {
		fmt.Fprintf(stdout, "%s defines nothing to apply\n", defs.Name)
		return nil
	}
	t.write(stdout)
	return nil
}

func applied(changed bool, version int64) string {
	switch {
	case !changed:
		return "unchanged"
	case version <= 1:
		return "created"
	}
	return "updated"
}

// timeOf is ts as a time; nil is the zero time, which the client sends as unset.
func timeOf(ts *timestamppb.Timestamp) time.Time {
	if ts == nil {
		return time.Time{}
	}
	return ts.AsTime()
}
