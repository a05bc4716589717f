package main

import (
	"context"
	"io"

	"github.com/timefence/timefence/schema"
)

func runSchema(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := verbFlags("schema", "schema",
		`Prints the JSON Schema of the YAML definitions file, for editors that
validate and complete it (e.g. the YAML language server: put
"# yaml-language-server: $schema=definitions.schema.json" on the first line).`,
		[]string{"timefence schema > definitions.schema.json"}, stderr)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError("schema", "unexpected argument %q", pos[0])
	}
	_, err = stdout.Write(schema.Definitions)
	return err
}
