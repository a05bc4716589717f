package definitions

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
)

// File is a parsed definitions file, ready to apply. Each definition keeps
// the line and key path it came from, so a refusal can point at it.
type File struct {
	Name         string // the file's name, as given to Parse
	Entities     []Located[*timefencev1.Entity]
	FeatureViews []Located[*timefencev1.FeatureView]
	Splits       []Located[*timefencev1.Split]
}

// Located is a definition with the line and key path it came from.
type Located[T any] struct {
	Def  T
	Line int
	Path string // e.g. "feature_views[0]"
}

// Error is a problem in a definitions file, at a line and key path. Line is
// 0 when the problem is not at one line (an empty file); Path is "" when it
// is not under a key (a YAML syntax error).
type Error struct {
	File string
	Line int
	Path string
	Msg  string
}

// Error formats e as "FILE:LINE: PATH: message".
func (e *Error) Error() string {
	at := e.File
	if e.Line > 0 {
		at = fmt.Sprintf("%s:%d", e.File, e.Line)
	}
	if e.Path == "" {
		return at + ": " + e.Msg
	}
	return at + ": " + e.Path + ": " + e.Msg
}

// valueTypes are the feature types of the definitions file, in the order
// error messages list them: scalars, then lists in the same order. The JSON
// Schema's enum must match.
var valueTypes = []struct {
	name string
	typ  timefencev1.ValueType
}{
	{"int64", timefencev1.ValueType_VALUE_TYPE_INT64},
	{"int32", timefencev1.ValueType_VALUE_TYPE_INT32},
	{"double", timefencev1.ValueType_VALUE_TYPE_DOUBLE},
	{"float", timefencev1.ValueType_VALUE_TYPE_FLOAT},
	{"string", timefencev1.ValueType_VALUE_TYPE_STRING},
	{"bool", timefencev1.ValueType_VALUE_TYPE_BOOL},
	{"bytes", timefencev1.ValueType_VALUE_TYPE_BYTES},
	{"timestamp", timefencev1.ValueType_VALUE_TYPE_TIMESTAMP},
	{"json", timefencev1.ValueType_VALUE_TYPE_JSON},
	{"map", timefencev1.ValueType_VALUE_TYPE_MAP},
	{"int64_list", timefencev1.ValueType_VALUE_TYPE_INT64_LIST},
	{"int32_list", timefencev1.ValueType_VALUE_TYPE_INT32_LIST},
	{"double_list", timefencev1.ValueType_VALUE_TYPE_DOUBLE_LIST},
	{"float_list", timefencev1.ValueType_VALUE_TYPE_FLOAT_LIST},
	{"string_list", timefencev1.ValueType_VALUE_TYPE_STRING_LIST},
	{"bool_list", timefencev1.ValueType_VALUE_TYPE_BOOL_LIST},
	{"bytes_list", timefencev1.ValueType_VALUE_TYPE_BYTES_LIST},
	{"timestamp_list", timefencev1.ValueType_VALUE_TYPE_TIMESTAMP_LIST},
}

// mappingKeys are the keys a mapping of the file allows and requires.
type mappingKeys struct{ allowed, required []string }

// defsKeys are the keys of each kind of mapping in the file, named as in the
// JSON Schema's $defs ("definitions" is the top level). The schema must match.
var defsKeys = map[string]mappingKeys{
	"definitions":  {allowed: []string{"entities", "feature_views", "splits"}},
	"entity":       {allowed: []string{"name", "description", "join_keys"}, required: []string{"name", "join_keys"}},
	"join_key":     {allowed: []string{"name", "type"}, required: []string{"name", "type"}},
	"feature_view": {allowed: []string{"name", "entity", "ttl", "description", "owner", "tags", "serving_log_rate", "features", "expectations"}, required: []string{"name", "entity", "features"}},
	"expectation":  {allowed: []string{"feature", "level", "min", "max", "allowed", "not_null", "max_null_rate", "max_arrival_lag", "max_batch_interval"}},
	"feature":      {allowed: []string{"name", "type", "description", "required"}, required: []string{"name", "type"}},
	"split":        {allowed: []string{"name", "start", "end", "description"}, required: []string{"name", "end"}},
}

// keyTypes are the types a join key may have.
var keyTypes = []string{"int64", "string"}

var (
	namePattern      = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)
	durationPattern  = regexp.MustCompile(`^(0|([0-9]+)d((?:[0-9]+(?:\.[0-9]+)?(?:ns|us|µs|ms|s|m|h))*)|(?:[0-9]+(?:\.[0-9]+)?(?:ns|us|µs|ms|s|m|h))+)$`)
	timestampPattern = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})$`)
	yamlLineError    = regexp.MustCompile(`^yaml: line ([0-9]+): (.*)$`)
	plainKey         = regexp.MustCompile(`^[A-Za-z0-9_]+$`)
)

// Parse parses a YAML definitions file; file names it in errors. The file is
// checked as the JSON Schema in package schema checks it (unknown and
// missing keys, wrong types, bad names, times and durations) and for
// duplicate names. Every error it returns is an *Error.
func Parse(file string, data []byte) (*File, error) {
	p := &parser{file: file}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{File: file, Msg: "the file is empty; expected entities, feature_views or splits"}
		}
		return nil, p.syntaxError(err)
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, p.syntaxError(err)
		}
		return nil, p.errorf(&next, "", "only one YAML document is allowed")
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	fields, err := p.mapping(root, "", defsKeys["definitions"])
	if err != nil {
		return nil, err
	}
	defs := &File{Name: file}
	if n := fields["entities"]; n != nil {
		if err := p.list(n, "entities", func(item *yaml.Node, path string) error {
			e, err := p.entity(item, path)
			defs.Entities = append(defs.Entities, Located[*timefencev1.Entity]{e, item.Line, path})
			return err
		}); err != nil {
			return nil, err
		}
	}
	if n := fields["feature_views"]; n != nil {
		if err := p.list(n, "feature_views", func(item *yaml.Node, path string) error {
			v, err := p.view(item, path)
			defs.FeatureViews = append(defs.FeatureViews, Located[*timefencev1.FeatureView]{v, item.Line, path})
			return err
		}); err != nil {
			return nil, err
		}
	}
	if n := fields["splits"]; n != nil {
		if err := p.list(n, "splits", func(item *yaml.Node, path string) error {
			s, err := p.split(item, path)
			defs.Splits = append(defs.Splits, Located[*timefencev1.Split]{s, item.Line, path})
			return err
		}); err != nil {
			return nil, err
		}
	}
	if err := defs.checkUnique(); err != nil {
		return nil, err
	}
	return defs, nil
}

// checkUnique refuses two definitions of one name.
func (d *File) checkUnique() error {
	seen := map[string]int{}
	check := func(kind, name string, line int, path string) error {
		if first, dup := seen[kind+"\x00"+name]; dup {
			return &Error{File: d.Name, Line: line, Path: path + ".name",
				Msg: fmt.Sprintf("%s %q is defined twice (first at line %d)", kind, name, first)}
		}
		seen[kind+"\x00"+name] = line
		return nil
	}
	for _, e := range d.Entities {
		if err := check("entity", e.Def.GetName(), e.Line, e.Path); err != nil {
			return err
		}
	}
	for _, v := range d.FeatureViews {
		if err := check("feature view", v.Def.GetName(), v.Line, v.Path); err != nil {
			return err
		}
	}
	for _, s := range d.Splits {
		if err := check("split", s.Def.GetName(), s.Line, s.Path); err != nil {
			return err
		}
	}
	return nil
}

func (p *parser) entity(n *yaml.Node, path string) (*timefencev1.Entity, error) {
	f, err := p.mapping(n, path, defsKeys["entity"])
	if err != nil {
		return nil, err
	}
	e := &timefencev1.Entity{}
	if e.Name, err = p.name(f["name"], path+".name"); err != nil {
		return nil, err
	}
	if e.Description, err = p.str(f["description"], path+".description"); err != nil {
		return nil, err
	}
	keysPath := path + ".join_keys"
	err = p.list(f["join_keys"], keysPath, func(item *yaml.Node, kpath string) error {
		kf, err := p.mapping(item, kpath, defsKeys["join_key"])
		if err != nil {
			return err
		}
		k := &timefencev1.JoinKey{}
		if k.Name, err = p.name(kf["name"], kpath+".name"); err != nil {
			return err
		}
		for _, prior := range e.JoinKeys {
			if prior.Name == k.Name {
				return p.errorf(kf["name"], kpath+".name", "join key %q appears twice", k.Name)
			}
		}
		t, err := p.str(kf["type"], kpath+".type")
		if err != nil {
			return err
		}
		if !slices.Contains(keyTypes, t) {
			return p.errorf(kf["type"], kpath+".type", "unknown join key type %q; expected one of %s", t, strings.Join(keyTypes, ", "))
		}
		k.Type = parseType(t)
		e.JoinKeys = append(e.JoinKeys, k)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(e.JoinKeys) == 0 {
		return nil, p.errorf(f["join_keys"], keysPath, "an entity needs at least one join key")
	}
	return e, nil
}

func (p *parser) view(n *yaml.Node, path string) (*timefencev1.FeatureView, error) {
	f, err := p.mapping(n, path, defsKeys["feature_view"])
	if err != nil {
		return nil, err
	}
	v := &timefencev1.FeatureView{}
	if v.Name, err = p.name(f["name"], path+".name"); err != nil {
		return nil, err
	}
	if v.Entity, err = p.name(f["entity"], path+".entity"); err != nil {
		return nil, err
	}
	if v.Description, err = p.str(f["description"], path+".description"); err != nil {
		return nil, err
	}
	if v.Owner, err = p.str(f["owner"], path+".owner"); err != nil {
		return nil, err
	}
	if n := f["serving_log_rate"]; n != nil {
		if v.ServingLogRate, err = p.rate(n, path+".serving_log_rate"); err != nil {
			return nil, err
		}
	}
	if n := f["ttl"]; n != nil {
		d, err := p.ttl(n, path+".ttl")
		if err != nil {
			return nil, err
		}
		if d > 0 {
			v.Ttl = durationpb.New(d)
		}
	}
	if n := f["tags"]; n != nil {
		if v.Tags, err = p.tags(n, path+".tags"); err != nil {
			return nil, err
		}
	}
	featsPath := path + ".features"
	err = p.list(f["features"], featsPath, func(item *yaml.Node, fpath string) error {
		ff, err := p.mapping(item, fpath, defsKeys["feature"])
		if err != nil {
			return err
		}
		feat := &timefencev1.Feature{}
		if feat.Name, err = p.name(ff["name"], fpath+".name"); err != nil {
			return err
		}
		for _, prior := range v.Features {
			if prior.Name == feat.Name {
				return p.errorf(ff["name"], fpath+".name", "feature %q appears twice", feat.Name)
			}
		}
		t, err := p.str(ff["type"], fpath+".type")
		if err != nil {
			return err
		}
		if feat.Type = parseType(t); feat.Type == timefencev1.ValueType_VALUE_TYPE_UNSPECIFIED {
			return p.errorf(ff["type"], fpath+".type", "unknown type %q; expected one of %s", t, typeList())
		}
		if feat.Description, err = p.str(ff["description"], fpath+".description"); err != nil {
			return err
		}
		if r := ff["required"]; r != nil {
			if r.Kind != yaml.ScalarNode || r.ShortTag() != "!!bool" {
				return p.errorf(r, fpath+".required", "expected true or false, got %s", describe(r))
			}
			feat.Required = r.Value == "true" || r.Value == "True" || r.Value == "TRUE"
		}
		v.Features = append(v.Features, feat)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(v.Features) == 0 {
		return nil, p.errorf(f["features"], featsPath, "a feature view needs at least one feature")
	}
	if n := f["expectations"]; n != nil {
		if err := p.list(n, path+".expectations", func(item *yaml.Node, epath string) error {
			e, err := p.expectation(item, epath, v)
			v.Expectations = append(v.Expectations, e)
			return err
		}); err != nil {
			return nil, err
		}
	}
	return v, nil
}

func (p *parser) split(n *yaml.Node, path string) (*timefencev1.Split, error) {
	f, err := p.mapping(n, path, defsKeys["split"])
	if err != nil {
		return nil, err
	}
	s := &timefencev1.Split{}
	if s.Name, err = p.name(f["name"], path+".name"); err != nil {
		return nil, err
	}
	if s.Description, err = p.str(f["description"], path+".description"); err != nil {
		return nil, err
	}
	start := time.Unix(0, 0).UTC()
	if n := f["start"]; n != nil {
		if start, err = p.time(n, path+".start"); err != nil {
			return nil, err
		}
	}
	end, err := p.time(f["end"], path+".end")
	if err != nil {
		return nil, err
	}
	if end.Before(start) {
		return nil, p.errorf(f["end"], path+".end", "%s is before start %s", end.Format(time.RFC3339Nano), start.Format(time.RFC3339Nano))
	}
	s.Start, s.End = timestamppb.New(start), timestamppb.New(end)
	return s, nil
}
