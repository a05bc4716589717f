// Package schema holds the JSON Schema of timefence's YAML definitions file,
// for editors and for `timefence schema`. Editors that use the YAML language
// server validate and complete a file whose first line names it:
//
//	# yaml-language-server: $schema=path/to/definitions.schema.json
package schema

import _ "embed"

// Definitions is the JSON Schema (draft 2020-12) of the definitions file.
//
//go:embed definitions.schema.json
var Definitions []byte
