package main

import (
	"github.com/timefence/timefence/schema"

	"github.com/spf13/cobra"
)

func schemaCmd() *cobra.Command {
	cmd := verb("schema", "print the JSON Schema of the definitions file",
		`Prints the JSON Schema of the YAML definitions file, for editors that
validate and complete it (e.g. the YAML language server: put
"# yaml-language-server: $schema=definitions.schema.json" on the first line).`,
		"timefence schema > definitions.schema.json")
	cmd.Args = noArgs
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		stdout := cmd.OutOrStdout()
		_, err := stdout.Write(schema.Definitions)
		return err
	}
	return cmd
}
