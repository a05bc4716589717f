package definitions_test

import (
	"fmt"

	"github.com/timefence/timefence/definitions"
)

func ExampleParse() {
	defs, err := definitions.Parse("definitions.yaml", []byte(`
entities:
  - name: user
    join_keys: [{name: user_id, type: int64}]
feature_views:
  - name: user_stats
    entity: user
    ttl: 7d
    features: [{name: clicks, type: int64}]
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, v := range defs.FeatureViews {
		fmt.Printf("%s (line %d, %s): ttl %s\n", v.Def.GetName(), v.Line, v.Path, v.Def.GetTtl().AsDuration())
	}

	_, err = definitions.Parse("bad.yaml", []byte("splits:\n  - {name: train, end: yesterday}\n"))
	fmt.Println(err)
	// Output:
	// user_stats (line 6, feature_views[0]): ttl 168h0m0s
	// bad.yaml:2: splits[0].end: invalid time "yesterday"; expected RFC 3339 with a zone, like 2024-01-01T00:00:00Z
}
