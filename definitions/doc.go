// Package definitions parses timefence's YAML definitions file: the
// entities, feature views and splits to apply, as the messages of
// timefence.v1. Each definition keeps the line and key path it came from,
// so that whoever applies it can point a refusal at it. The checks are
// those of the file's JSON Schema (package schema), and more.
//
//	defs, err := definitions.Parse("definitions.yaml", data)
//	if err != nil {
//		return err // an *Error: "definitions.yaml:12: feature_views[0].ttl: ..."
//	}
//	for _, v := range defs.FeatureViews {
//		// apply v.Def; on refusal:
//		// &definitions.Error{File: defs.Name, Line: v.Line, Path: v.Path, Msg: ...}
//	}
package definitions
