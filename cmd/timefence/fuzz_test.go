package main

import (
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
)

// FuzzParseDefinitions checks that the parser never panics, that every
// refusal is one line naming the file, and that what it accepts is valid.
// The seed corpus (testdata/fuzz) holds small documents: large seeds make
// the fuzzer spend its time minimizing them.
func FuzzParseDefinitions(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		defs, err := parseDefinitions("f.yaml", data)
		if err != nil {
			var de *defsError
			if !errors.As(err, &de) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "f.yaml") || strings.ContainsAny(msg, "\r\n") {
				t.Fatalf("error is not one line naming the file: %q", msg)
			}
			return
		}
		for _, e := range defs.entities {
			if !namePattern.MatchString(e.def.GetName()) || len(e.def.GetJoinKeys()) == 0 {
				t.Fatalf("accepted entity %v", e.def)
			}
		}
		for _, v := range defs.views {
			if !namePattern.MatchString(v.def.GetName()) || len(v.def.GetFeatures()) == 0 || v.def.GetTtl().AsDuration() < 0 {
				t.Fatalf("accepted feature view %v", v.def)
			}
			for _, feat := range v.def.GetFeatures() {
				if parseType(typeName(feat.GetType())) != feat.GetType() || feat.GetType() == 0 {
					t.Fatalf("accepted feature %v", feat)
				}
			}
		}
		for _, s := range defs.splits {
			if s.def.GetEnd().AsTime().Before(s.def.GetStart().AsTime()) {
				t.Fatalf("accepted split %v", s.def)
			}
		}
		again, err := parseDefinitions("f.yaml", data)
		if err != nil || len(again.views) != len(defs.views) {
			t.Fatalf("a second parse differs: %v", err)
		}
		for i := range defs.views {
			if !proto.Equal(defs.views[i].def, again.views[i].def) {
				t.Fatalf("a second parse differs: %v != %v", defs.views[i].def, again.views[i].def)
			}
		}
	})
}
