package main

import (
	"context"
	"fmt"
	"io"
	"os"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
)

func runApply(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := verbFlags("apply", "apply [flags] FILE",
		`Applies the entities, feature views and splits of a YAML definitions file:
new ones are created, changed ones updated when the change is compatible.
Splits are immutable: applying one again with other bounds is refused.
'timefence schema' prints the file's JSON Schema.`,
		[]string{"timefence apply examples/definitions.yaml", "timefence apply --check definitions.yaml"}, stderr)
	conn := connectionFlags(fs)
	check := fs.Bool("check", false, "only check the file; do not contact the server")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("apply", "expected one definitions file")
	}
	data, err := os.ReadFile(pos[0])
	if err != nil {
		return fileError(pos[0], err)
	}
	defs, err := parseDefinitions(pos[0], data)
	if err != nil {
		return err
	}
	if *check {
		fmt.Fprintf(stdout, "%s is valid: %d entities, %d feature views, %d splits\n",
			pos[0], len(defs.entities), len(defs.views), len(defs.splits))
		return nil
	}
	s, err := conn.dial(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	return s.apply(ctx, defs, stdout)
}

// apply applies every definition in order: entities, views, then splits.
// A refusal names the definition's line in the file.
func (s *session) apply(ctx context.Context, defs *definitions, stdout io.Writer) error {
	t := newTable("kind", "name", "result", "version").alignRight(3)
	at := func(line int, path string, err error) error {
		if len(t.rows) > 0 {
			t.write(stdout) // what was applied before the refusal
		}
		return &defsError{file: defs.file, line: line, path: path, msg: s.explain(err).Error()}
	}
	for _, e := range defs.entities {
		cctx, cancel := call(ctx)
		resp, err := s.Registry.ApplyEntity(cctx, &timefencev1.ApplyEntityRequest{Entity: e.def})
		cancel()
		if err != nil {
			return at(e.line, e.path, err)
		}
		t.add("entity", e.def.GetName(), applied(resp.GetChanged(), resp.GetEntity().GetVersion()), fmt.Sprint(resp.GetEntity().GetVersion()))
	}
	for _, v := range defs.views {
		cctx, cancel := call(ctx)
		resp, err := s.Registry.ApplyFeatureView(cctx, &timefencev1.ApplyFeatureViewRequest{FeatureView: v.def})
		cancel()
		if err != nil {
			return at(v.line, v.path, err)
		}
		t.add("feature view", v.def.GetName(), applied(resp.GetChanged(), resp.GetFeatureView().GetVersion()), fmt.Sprint(resp.GetFeatureView().GetVersion()))
	}
	for _, sp := range defs.splits {
		cctx, cancel := call(ctx)
		resp, err := s.Registry.CreateSplit(cctx, &timefencev1.CreateSplitRequest{Split: sp.def})
		cancel()
		if err != nil {
			return at(sp.line, sp.path, err)
		}
		result := "unchanged"
		if resp.GetCreated() {
			result = "created"
		}
		t.add("split", sp.def.GetName(), result, "-")
	}
	if len(t.rows) == 0 {
		fmt.Fprintf(stdout, "%s defines nothing to apply\n", defs.file)
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
