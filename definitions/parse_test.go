package definitions

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
	"github.com/timefence/timefence/internal/quickstart"
	"github.com/timefence/timefence/schema"
	"github.com/timefence/timefence/storage"
)

const exampleDefs = "../examples/definitions.yaml"

func TestParseExampleDefinitions(t *testing.T) {
	data, err := os.ReadFile(exampleDefs)
	require.NoError(t, err)
	defs, err := Parse("definitions.yaml", data)
	require.NoError(t, err)
	require.Len(t, defs.Entities, 2)
	require.Len(t, defs.FeatureViews, 2)
	require.Len(t, defs.Splits, 2)

	store := defs.Entities[1].Def
	require.Equal(t, "store", store.GetName())
	require.Equal(t, []string{"store_id", "region"}, []string{store.GetJoinKeys()[0].GetName(), store.GetJoinKeys()[1].GetName()})
	require.Equal(t, timefencev1.ValueType_VALUE_TYPE_STRING, store.GetJoinKeys()[1].GetType())

	v := defs.FeatureViews[0]
	require.Equal(t, "feature_views[0]", v.Path)
	require.Equal(t, 7*24*time.Hour, v.Def.GetTtl().AsDuration())
	require.Equal(t, map[string]string{"tier": "gold", "source": "clickstream"}, v.Def.GetTags())
	require.Equal(t, "team-growth", v.Def.GetOwner())
	require.True(t, v.Def.GetFeatures()[3].GetRequired())
	require.Equal(t, timefencev1.ValueType_VALUE_TYPE_FLOAT_LIST, defs.FeatureViews[1].Def.GetFeatures()[1].GetType())

	sp := defs.Splits[0].Def
	require.Equal(t, time.Date(2024, 1, 31, 23, 59, 59, 0, time.UTC), sp.GetEnd().AsTime())
	require.Equal(t, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), sp.GetStart().AsTime())
}

func TestParseDefinitionsErrors(t *testing.T) {
	for _, tc := range []struct{ name, doc, want string }{
		{"empty", "", "d.yaml: the file is empty; expected entities, feature_views or splits"},
		{"not a mapping", "- a\n", "d.yaml:1: expected a mapping of keys (entities, feature_views, splits), got a list"},
		{"unknown top key", "entities: []\nviews: []\n", `d.yaml:2: views: unknown key; expected one of entities, feature_views, splits`},
		{"typo", "feature_views:\n  - name: v\n    entity: e\n    tll: 1h\n    features: [{name: a, type: int64}]\n",
			`d.yaml:4: feature_views[0].tll: unknown key; did you mean "ttl"?`},
		{"unknown type", "feature_views:\n  - name: v\n    entity: e\n    features:\n      - {name: a, type: int64}\n      - {name: b, type: integer}\n",
			`d.yaml:6: feature_views[0].features[1].type: unknown type "integer"; expected one of ` + allTypes},
		{"list of lists", "feature_views:\n  - name: v\n    entity: e\n    features: [{name: a, type: float_list_list}]\n",
			`d.yaml:4: feature_views[0].features[0].type: unknown type "float_list_list"; expected one of ` + allTypes},
		{"struct", "feature_views:\n  - name: v\n    entity: e\n    features: [{name: a, type: struct}]\n",
			`d.yaml:4: feature_views[0].features[0].type: unknown type "struct"; expected one of ` + allTypes},
		{"missing key", "entities:\n  - name: e\n", `d.yaml:2: entities[0]: missing required key "join_keys"`},
		{"key type", "entities:\n  - name: e\n    join_keys: [{name: k, type: double}]\n",
			`d.yaml:3: entities[0].join_keys[0].type: unknown join key type "double"; expected one of int64, string`},
		{"int32 key", "entities:\n  - name: e\n    join_keys: [{name: k, type: int32}]\n",
			`d.yaml:3: entities[0].join_keys[0].type: unknown join key type "int32"; expected one of int64, string`},
		{"timestamp key", "entities:\n  - name: e\n    join_keys: [{name: k, type: timestamp}]\n",
			`d.yaml:3: entities[0].join_keys[0].type: unknown join key type "timestamp"; expected one of int64, string`},
		{"no join keys", "entities:\n  - name: e\n    join_keys: []\n", "d.yaml:3: entities[0].join_keys: an entity needs at least one join key"},
		{"bad name", "entities:\n  - name: my-entity\n    join_keys: [{name: k, type: int64}]\n",
			`d.yaml:2: entities[0].name: invalid name "my-entity"; use letters, digits and underscores, starting with a letter or underscore (at most 128)`},
		{"number for a string", "entities:\n  - name: 12\n    join_keys: [{name: k, type: int64}]\n",
			`d.yaml:2: entities[0].name: expected a string, got "12"`},
		{"ttl without unit", "feature_views:\n  - name: v\n    entity: e\n    ttl: 3600\n    features: [{name: a, type: int64}]\n",
			"d.yaml:4: feature_views[0].ttl: 3600 has no unit; write it like 90s, 30m, 1h30m or 7d (0 means no limit)"},
		{"bad ttl", "feature_views:\n  - name: v\n    entity: e\n    ttl: 1 day\n    features: [{name: a, type: int64}]\n",
			`d.yaml:4: feature_views[0].ttl: invalid duration "1 day"; write it like 90s, 30m, 1h30m or 7d (0 means no limit)`},
		{"required not bool", "feature_views:\n  - name: v\n    entity: e\n    features: [{name: a, type: int64, required: yes}]\n",
			`d.yaml:4: feature_views[0].features[0].required: expected true or false, got "yes"`},
		{"duplicate feature", "feature_views:\n  - name: v\n    entity: e\n    features:\n      - {name: a, type: int64}\n      - {name: a, type: double}\n",
			`d.yaml:6: feature_views[0].features[1].name: feature "a" appears twice`},
		{"duplicate view", "feature_views:\n  - {name: v, entity: e, features: [{name: a, type: int64}]}\n  - {name: v, entity: e, features: [{name: a, type: int64}]}\n",
			`d.yaml:3: feature_views[1].name: feature view "v" is defined twice (first at line 2)`},
		{"duplicate key", "entities:\n  - name: e\n    name: f\n    join_keys: [{name: k, type: int64}]\n", "d.yaml:3: entities[0].name: the key appears twice"},
		{"split without zone", "splits:\n  - {name: s, end: \"2024-01-01T00:00:00\"}\n",
			`d.yaml:2: splits[0].end: invalid time "2024-01-01T00:00:00"; expected RFC 3339 with a zone, like 2024-01-01T00:00:00Z`},
		{"split backwards", "splits:\n  - {name: s, start: 2024-02-01T00:00:00Z, end: 2024-01-01T00:00:00Z}\n",
			"d.yaml:2: splits[0].end: 2024-01-01T00:00:00Z is before start 2024-02-01T00:00:00Z"},
		{"alias", "entities:\n  - &e {name: e, join_keys: [{name: k, type: int64}]}\n  - *e\n", "d.yaml:3: entities[1]: anchors and aliases are not supported; write the value out"},
		{"two documents", "entities: []\n---\nsplits: []\n", "d.yaml:2: only one YAML document is allowed"},
		{"syntax", "entities:\n\t- name: x\n", "d.yaml:2: invalid YAML: found character that cannot start any token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("d.yaml", []byte(tc.doc))
			require.Error(t, err)
			require.Equal(t, tc.want, err.Error())
		})
	}
}

// allTypes is the list of feature types an unknown type's error gives.
const allTypes = "int64, int32, double, float, string, bool, bytes, timestamp, json, map, " +
	"int64_list, int32_list, double_list, float_list, string_list, bool_list, bytes_list, timestamp_list"

// everyType is a view with one feature of each type.
const everyType = `feature_views:
  - name: every_type
    entity: e
    features:
      - {name: a_int64, type: int64}
      - {name: a_int32, type: int32}
      - {name: a_double, type: double}
      - {name: a_float, type: float}
      - {name: a_string, type: string}
      - {name: a_bool, type: bool}
      - {name: a_bytes, type: bytes}
      - {name: a_timestamp, type: timestamp}
      - {name: a_json, type: json}
      - {name: a_map, type: map}
      - {name: a_int64_list, type: int64_list}
      - {name: a_int32_list, type: int32_list}
      - {name: a_double_list, type: double_list}
      - {name: a_float_list, type: float_list}
      - {name: a_string_list, type: string_list}
      - {name: a_bool_list, type: bool_list}
      - {name: a_bytes_list, type: bytes_list}
      - {name: a_timestamp_list, type: timestamp_list}
`

func TestParseFeatureTypes(t *testing.T) {
	want := map[string]timefencev1.ValueType{
		"int64":          timefencev1.ValueType_VALUE_TYPE_INT64,
		"int32":          timefencev1.ValueType_VALUE_TYPE_INT32,
		"double":         timefencev1.ValueType_VALUE_TYPE_DOUBLE,
		"float":          timefencev1.ValueType_VALUE_TYPE_FLOAT,
		"string":         timefencev1.ValueType_VALUE_TYPE_STRING,
		"bool":           timefencev1.ValueType_VALUE_TYPE_BOOL,
		"bytes":          timefencev1.ValueType_VALUE_TYPE_BYTES,
		"timestamp":      timefencev1.ValueType_VALUE_TYPE_TIMESTAMP,
		"json":           timefencev1.ValueType_VALUE_TYPE_JSON,
		"map":            timefencev1.ValueType_VALUE_TYPE_MAP,
		"int64_list":     timefencev1.ValueType_VALUE_TYPE_INT64_LIST,
		"int32_list":     timefencev1.ValueType_VALUE_TYPE_INT32_LIST,
		"double_list":    timefencev1.ValueType_VALUE_TYPE_DOUBLE_LIST,
		"float_list":     timefencev1.ValueType_VALUE_TYPE_FLOAT_LIST,
		"string_list":    timefencev1.ValueType_VALUE_TYPE_STRING_LIST,
		"bool_list":      timefencev1.ValueType_VALUE_TYPE_BOOL_LIST,
		"bytes_list":     timefencev1.ValueType_VALUE_TYPE_BYTES_LIST,
		"timestamp_list": timefencev1.ValueType_VALUE_TYPE_TIMESTAMP_LIST,
	}
	defs, err := Parse("d.yaml", []byte(everyType))
	require.NoError(t, err)
	feats := defs.FeatureViews[0].Def.GetFeatures()
	require.Len(t, feats, len(want))
	for _, f := range feats {
		name := strings.TrimPrefix(f.GetName(), "a_")
		require.Equal(t, want[name], f.GetType(), name)
		require.Equal(t, name, TypeName(f.GetType()))
	}
	// Every type of the API but the unspecified one has a name in the file,
	// and each name is the storage layer's name of the same type number.
	for n, name := range timefencev1.ValueType_name {
		if n == 0 {
			continue
		}
		typ := timefencev1.ValueType(n)
		require.Equal(t, typ, want[TypeName(typ)], name)
		st, ok := storage.ParseType(TypeName(typ))
		require.True(t, ok, name)
		require.Equal(t, int(n), int(st), name)
	}
	require.Equal(t, allTypes, typeList())
}

func TestParseTTL(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"0": 0, "90s": 90 * time.Second, "30m": 30 * time.Minute, "1h30m": 90 * time.Minute,
		"7d": 7 * 24 * time.Hour, "1d12h": 36 * time.Hour, "1.5h": 90 * time.Minute, "250ms": 250 * time.Millisecond,
	} {
		got, err := parseTTL(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "1", "-1h", "1 h", "h", "1w", "d", "1d1d", "99999999999999999999d", "2562048h"} {
		_, err := parseTTL(in)
		require.Error(t, err, in)
	}
}

// compileSchema compiles the embedded JSON Schema with a real validator.
func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schema.Definitions))
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	const url = "https://timefence.dev/schema/definitions.schema.json"
	require.NoError(t, c.AddResource(url, doc))
	sch, err := c.Compile(url)
	require.NoError(t, err)
	return sch
}

// yamlToJSON converts a YAML document to the JSON value an editor's
// validator sees: timestamps are strings, numbers numbers.
func yamlToJSON(t *testing.T, data []byte) any {
	t.Helper()
	var doc yaml.Node
	require.NoError(t, yaml.Unmarshal(data, &doc))
	var conv func(n *yaml.Node) any
	conv = func(n *yaml.Node) any {
		switch n.Kind {
		case yaml.DocumentNode:
			return conv(n.Content[0])
		case yaml.AliasNode:
			return conv(n.Alias)
		case yaml.MappingNode:
			m := map[string]any{}
			for i := 0; i+1 < len(n.Content); i += 2 {
				m[n.Content[i].Value] = conv(n.Content[i+1])
			}
			return m
		case yaml.SequenceNode:
			out := []any{}
			for _, c := range n.Content {
				out = append(out, conv(c))
			}
			return out
		}
		switch n.ShortTag() {
		case "!!null":
			return nil
		case "!!bool":
			var b bool
			require.NoError(t, n.Decode(&b))
			return b
		case "!!int", "!!float":
			var f float64
			require.NoError(t, n.Decode(&f))
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return n.Value
			}
			return json.Number(strconv.FormatFloat(f, 'g', -1, 64))
		}
		return n.Value
	}
	raw, err := json.Marshal(conv(&doc))
	require.NoError(t, err)
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	require.NoError(t, err)
	return v
}

func TestSchemaValidatesExamples(t *testing.T) {
	sch := compileSchema(t)
	data, err := os.ReadFile(exampleDefs)
	require.NoError(t, err)
	require.NoError(t, sch.Validate(yamlToJSON(t, data)))
	require.NoError(t, sch.Validate(yamlToJSON(t, []byte(quickstart.Definitions))))
}

// TestSchemaAgreesWithParser checks that the schema and the parser allow
// the same keys, require the same ones, and know the same types, and that
// they accept and refuse the same documents.
func TestSchemaAgreesWithParser(t *testing.T) {
	var s struct {
		Properties map[string]json.RawMessage `json:"properties"`
		Required   []string                   `json:"required"`
		Defs       map[string]struct {
			Enum       []string                   `json:"enum"`
			Properties map[string]json.RawMessage `json:"properties"`
			Required   []string                   `json:"required"`
		} `json:"$defs"`
	}
	require.NoError(t, json.Unmarshal(schema.Definitions, &s))
	keys := func(m map[string]json.RawMessage) []string {
		var out []string
		for k := range m {
			out = append(out, k)
		}
		slices.Sort(out)
		return out
	}
	sorted := func(xs []string) []string {
		xs = slices.Clone(xs)
		slices.Sort(xs)
		return xs
	}
	for kind, want := range defsKeys {
		props, required := s.Properties, s.Required
		if kind != "definitions" {
			d, ok := s.Defs[kind]
			require.True(t, ok, "the schema has no $defs/%s", kind)
			props, required = d.Properties, d.Required
		}
		require.Equal(t, sorted(want.allowed), keys(props), "keys of %s", kind)
		require.Equal(t, sorted(want.required), sorted(required), "required keys of %s", kind)
	}
	var names []string
	for _, vt := range valueTypes {
		names = append(names, vt.name)
	}
	require.Equal(t, names, s.Defs["value_type"].Enum)
	require.Equal(t, keyTypes, s.Defs["key_type"].Enum)

	sch := compileSchema(t)
	view := func(extra string) string {
		return "feature_views:\n  - name: v\n    entity: e\n    features: [{name: a, type: int64}]\n" + extra
	}
	for _, doc := range []string{
		"entities: []\n",
		"{}\n",
		"entities:\n  - {name: e, join_keys: [{name: k, type: int64}, {name: r, type: string}]}\n",
		"entities:\n  - {name: e, join_keys: []}\n",
		"entities:\n  - {name: e, join_keys: [{name: k, type: double}]}\n",
		"entities:\n  - {name: e}\n",
		"entities:\n  - {name: 9e, join_keys: [{name: k, type: int64}]}\n",
		"entities:\n  - {name: e, join_keys: [{name: k, type: int64}], owner: x}\n",
		"entities: {}\n",
		"entities:\n",
		view(""),
		view("    ttl: 0\n"),
		view("    ttl: 7d\n"),
		view("    ttl: 1d12h\n"),
		view("    ttl: 1h30m\n"),
		view("    ttl: 3600\n"),
		view("    ttl: -1h\n"),
		view("    ttl: 1 day\n"),
		view("    tags: {a: b, n: 1, ok: true}\n"),
		view("    tags: {a: null}\n"),
		view("    tags: [a]\n"),
		view("    owner: 5\n"),
		view("    serving_log_rate: 0.25\n"),
		view("    serving_log_rate: 1\n"),
		view("    serving_log_rate: 0\n"),
		view("    serving_log_rate: 1.5\n"),
		view("    serving_log_rate: -0.1\n"),
		view("    serving_log_rate: all\n"),
		view("    description: text\n"),
		view("    expectations: [{feature: a, min: 0, max: 10, level: warn}]\n"),
		view("    expectations: [{feature: a, max: 10}, {feature: a, not_null: true}, {feature: a, max_null_rate: 0.5}]\n"),
		view("    expectations: [{feature: a, allowed: [1, 2]}, {max_arrival_lag: 1h}]\n"),
		view("    expectations: [{feature: a, min: 0, not_null: true}]\n"),
		view("    expectations: [{feature: a}]\n"),
		view("    expectations: [{min: 0}]\n"),
		view("    expectations: [{feature: a, max_arrival_lag: 1h}]\n"),
		view("    expectations: [{max_arrival_lag: 0}]\n"),
		view("    expectations: [{feature: a, min: 0, level: soft}]\n"),
		view("    expectations: [{feature: a, max_null_rate: 2}]\n"),
		view("    expectations: [{feature: a, not_null: false}]\n"),
		view("    expectations: {feature: a}\n"),
		"feature_views:\n  - {name: v, entity: e, features: []}\n",
		"feature_views:\n  - {name: v, entity: e, features: [{name: a, type: float_list, required: true}]}\n",
		"feature_views:\n  - {name: v, entity: e, features: [{name: a, type: integer}]}\n",
		everyType,
		"feature_views:\n  - {name: v, entity: e, features: [{name: a, type: timestamp, required: true}, {name: b, type: map}]}\n",
		"feature_views:\n  - {name: v, entity: e, features: [{name: a, type: int16}]}\n",
		"feature_views:\n  - {name: v, entity: e, features: [{name: a, type: list}]}\n",
		"feature_views:\n  - {name: v, entity: e, features: [{name: a, type: Int32}]}\n",
		"feature_views:\n  - {name: v, entity: e, features: [{name: a, type: [int32]}]}\n",
		"entities:\n  - {name: e, join_keys: [{name: k, type: int32}]}\n",
		"entities:\n  - {name: e, join_keys: [{name: k, type: timestamp}]}\n",
		"feature_views:\n  - {name: v, entity: e, features: [{name: a, type: int64, required: yes}]}\n",
		"feature_views:\n  - {name: v, entity: e, features: [{name: a}]}\n",
		"splits:\n  - {name: s, end: 2024-01-01T00:00:00Z}\n",
		"splits:\n  - {name: s, start: 2024-01-01T00:00:00Z, end: \"2024-02-01T00:00:00.5+02:00\"}\n",
		"splits:\n  - {name: s, end: \"2024-01-01 00:00:00Z\"}\n",
		"splits:\n  - {name: s, end: 2024-01-01}\n",
		"splits:\n  - {name: s, end: \"2024-01-01T00:00:00\"}\n",
		"splits:\n  - {name: s}\n",
		"splits:\n  - {name: s, end: 1704067200}\n",
		"unknown: 1\n",
	} {
		data := []byte(doc)
		_, perr := Parse("d.yaml", data)
		serr := sch.Validate(yamlToJSON(t, data))
		require.Equal(t, perr == nil, serr == nil, "parser and schema disagree on\n%s\nparser: %v\nschema: %v", doc, perr, serr)
	}
}

// TestServingLogRate: a view's serving_log_rate is read as a number from 0
// to 1, and anything else is refused at its line.
func TestServingLogRate(t *testing.T) {
	doc := "feature_views:\n  - name: v\n    entity: e\n    serving_log_rate: 0.25\n    features: [{name: a, type: int64}]\n"
	defs, err := Parse("d.yaml", []byte(doc))
	require.NoError(t, err)
	require.Equal(t, 0.25, defs.FeatureViews[0].Def.GetServingLogRate())
	_, err = Parse("d.yaml", []byte(strings.Replace(doc, "0.25", "2", 1)))
	require.ErrorContains(t, err, "d.yaml:4: feature_views[0].serving_log_rate: expected a number from 0 to 1, got 2")
}
