package definitions

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
		defs, err := Parse("f.yaml", data)
		if err != nil {
			var de *Error
			if !errors.As(err, &de) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "f.yaml") || strings.ContainsAny(msg, "\r\n") {
				t.Fatalf("error is not one line naming the file: %q", msg)
			}
			return
		}
		for _, e := range defs.Entities {
			if !namePattern.MatchString(e.Def.GetName()) || len(e.Def.GetJoinKeys()) == 0 {
				t.Fatalf("accepted entity %v", e.Def)
			}
		}
		for _, v := range defs.FeatureViews {
			if !namePattern.MatchString(v.Def.GetName()) || len(v.Def.GetFeatures()) == 0 || v.Def.GetTtl().AsDuration() < 0 {
				t.Fatalf("accepted feature view %v", v.Def)
			}
			for _, feat := range v.Def.GetFeatures() {
				if parseType(TypeName(feat.GetType())) != feat.GetType() || feat.GetType() == 0 {
					t.Fatalf("accepted feature %v", feat)
				}
			}
		}
		for _, s := range defs.Splits {
			if s.Def.GetEnd().AsTime().Before(s.Def.GetStart().AsTime()) {
				t.Fatalf("accepted split %v", s.Def)
			}
		}
		again, err := Parse("f.yaml", data)
		if err != nil || len(again.FeatureViews) != len(defs.FeatureViews) {
			t.Fatalf("a second parse differs: %v", err)
		}
		for i := range defs.FeatureViews {
			if !proto.Equal(defs.FeatureViews[i].Def, again.FeatureViews[i].Def) {
				t.Fatalf("a second parse differs: %v != %v", defs.FeatureViews[i].Def, again.FeatureViews[i].Def)
			}
		}
	})
}
