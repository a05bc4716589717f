package definitions

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
)

// expectDoc is a view of an int64, a string and a double feature with the
// expectations given, one per line from line 9 on.
func expectDoc(lines ...string) string {
	doc := "feature_views:\n  - name: v\n    entity: e\n    features:\n      - {name: clicks, type: int64}\n" +
		"      - {name: country, type: string}\n      - {name: score, type: double}\n    expectations:\n"
	for _, l := range lines {
		doc += "      - " + l + "\n"
	}
	return doc
}

// TestExpectations: each kind is read into the view's definition, hard
// unless it says warn.
func TestExpectations(t *testing.T) {
	defs, err := Parse("d.yaml", []byte(expectDoc(
		"{feature: clicks, min: 0, max: 100000}",
		"{feature: country, allowed: [DE, FR, US], level: warn}",
		"{feature: clicks, allowed: [1, 2]}",
		"{feature: score, max_null_rate: 0.05, level: warn}",
		"{feature: score, not_null: true, level: hard}",
		"{max_arrival_lag: 1h, level: warn}",
		"{feature: score, max: 1.5}",
		"{max_batch_interval: 1h, level: warn}",
	)))
	require.NoError(t, err)
	es := defs.FeatureViews[0].Def.GetExpectations()
	require.Len(t, es, 8)
	hard, warn := timefencev1.ExpectationLevel_EXPECTATION_LEVEL_HARD, timefencev1.ExpectationLevel_EXPECTATION_LEVEL_WARN
	require.Equal(t, "clicks", es[0].GetFeature())
	require.Equal(t, hard, es[0].GetLevel())
	require.Equal(t, 0.0, es[0].GetMin())
	require.Equal(t, 100000.0, es[0].GetMax())
	require.Equal(t, []string{"DE", "FR", "US"}, es[1].GetAllowed())
	require.Equal(t, warn, es[1].GetLevel())
	require.Equal(t, []string{"1", "2"}, es[2].GetAllowed())
	require.Equal(t, 0.05, es[3].GetMaxNullRate())
	require.True(t, es[4].GetNotNull())
	require.Equal(t, hard, es[4].GetLevel())
	require.Equal(t, time.Hour, es[5].GetMaxArrivalLag().AsDuration())
	require.Empty(t, es[5].GetFeature())
	require.Nil(t, es[6].Min)
	require.Equal(t, 1.5, es[6].GetMax())
	require.Equal(t, time.Hour, es[7].GetMaxBatchInterval().AsDuration())
	require.Equal(t, warn, es[7].GetLevel())
}

// TestExpectationErrors: a definition error names the line and key path.
func TestExpectationErrors(t *testing.T) {
	for _, tc := range []struct{ name, exp, want string }{
		{"unknown feature", "{feature: clickz, min: 0}", `d.yaml:9: feature_views[0].expectations[0].feature: unknown feature "clickz" of feature view "v"`},
		{"min on a string", "{feature: country, min: 0}", `d.yaml:9: feature_views[0].expectations[0].min: feature "country" is string; min and max apply to int64, int32, double and float features`},
		{"min above max", "{feature: clicks, min: 5, max: 1}", "d.yaml:9: feature_views[0].expectations[0].min: 5 is greater than max 1"},
		{"bad level", "{feature: clicks, min: 0, level: soft}", `d.yaml:9: feature_views[0].expectations[0].level: expected hard or warn, got "soft"`},
		{"no kind", "{feature: clicks, level: warn}", "d.yaml:9: feature_views[0].expectations[0]: expected one kind of expectation: min and/or max, allowed, not_null, max_null_rate, max_arrival_lag or max_batch_interval; got 0"},
		{"two kinds", "{feature: clicks, min: 0, not_null: true}", "d.yaml:9: feature_views[0].expectations[0]: expected one kind of expectation: min and/or max, allowed, not_null, max_null_rate, max_arrival_lag or max_batch_interval; got 2"},
		{"no feature", "{min: 0}", `d.yaml:9: feature_views[0].expectations[0]: missing required key "feature"`},
		{"lag with a feature", "{feature: clicks, max_arrival_lag: 1h}", "d.yaml:9: feature_views[0].expectations[0].feature: max_arrival_lag checks rows, not a feature: remove the feature"},
		{"lag without unit", "{max_arrival_lag: 60}", "d.yaml:9: feature_views[0].expectations[0].max_arrival_lag: 60 has no unit; write it like 90s, 30m, 1h30m or 7d (0 means no limit)"},
		{"hard cadence", "{max_batch_interval: 1h}", "d.yaml:9: feature_views[0].expectations[0]: max_batch_interval is a warn expectation: a late batch is still data, so it is recorded, not refused; add level: warn"},
		{"cadence with a feature", "{feature: clicks, max_batch_interval: 1h, level: warn}", "d.yaml:9: feature_views[0].expectations[0].feature: max_batch_interval checks batches, not a feature: remove the feature"},
		{"zero lag", "{max_arrival_lag: 0}", "d.yaml:9: feature_views[0].expectations[0].max_arrival_lag: expected a duration above 0, like 1h"},
		{"rate above 1", "{feature: score, max_null_rate: 1.5}", "d.yaml:9: feature_views[0].expectations[0].max_null_rate: expected a number from 0 to 1, got 1.5"},
		{"string allowed on int", "{feature: clicks, allowed: [a]}", `d.yaml:9: feature_views[0].expectations[0].allowed[0]: expected a value of int64 feature "clicks", got "a"`},
		{"allowed on a double", "{feature: score, allowed: [1]}", `d.yaml:9: feature_views[0].expectations[0].allowed: feature "score" is double; allowed applies to string, int64 and int32 features`},
		{"empty allowed", "{feature: country, allowed: []}", "d.yaml:9: feature_views[0].expectations[0].allowed: expected at least one value"},
		{"not_null false", "{feature: score, not_null: false}", `d.yaml:9: feature_views[0].expectations[0].not_null: expected true, got "false"`},
		{"typo", "{feature: clicks, mix: 1}", `d.yaml:9: feature_views[0].expectations[0].mix: unknown key; did you mean "min"?`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("d.yaml", []byte(expectDoc(tc.exp)))
			require.EqualError(t, err, tc.want)
		})
	}
	// The second expectation, on line 10.
	_, err := Parse("d.yaml", []byte(expectDoc("{feature: clicks, min: 0}", "{feature: clicks, min: 1, max: 0}")))
	require.EqualError(t, err, "d.yaml:10: feature_views[0].expectations[1].min: 1 is greater than max 0")
}
