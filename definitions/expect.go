package definitions

import (
	"strconv"

	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/types/known/durationpb"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
)

// expectation parses one expectation of view v: a feature and exactly one
// kind (min and/or max, allowed, not_null, max_null_rate), or
// max_arrival_lag or max_batch_interval alone; and a level, hard unless it
// says warn (max_batch_interval must).
func (p *parser) expectation(n *yaml.Node, path string, v *timefencev1.FeatureView) (*timefencev1.Expectation, error) {
	f, err := p.mapping(n, path, defsKeys["expectation"])
	if err != nil {
		return nil, err
	}
	e := &timefencev1.Expectation{Level: timefencev1.ExpectationLevel_EXPECTATION_LEVEL_HARD}
	if l := f["level"]; l != nil {
		switch s, _ := p.str(l, path+".level"); s {
		case "hard":
		case "warn":
			e.Level = timefencev1.ExpectationLevel_EXPECTATION_LEVEL_WARN
		default:
			return nil, p.errorf(l, path+".level", "expected hard or warn, got %s", describe(l))
		}
	}
	var kinds []string
	for _, k := range []string{"min", "max", "allowed", "not_null", "max_null_rate", "max_arrival_lag", "max_batch_interval"} {
		if f[k] != nil && !(k == "max" && f["min"] != nil) {
			kinds = append(kinds, k)
		}
	}
	if len(kinds) != 1 {
		return nil, p.errorf(n, path, "expected one kind of expectation: min and/or max, allowed, not_null, max_null_rate, max_arrival_lag or max_batch_interval; got %d", len(kinds))
	}
	if d := f["max_batch_interval"]; d != nil {
		if f["feature"] != nil {
			return nil, p.errorf(f["feature"], path+".feature", "max_batch_interval checks batches, not a feature: remove the feature")
		}
		if e.Level != timefencev1.ExpectationLevel_EXPECTATION_LEVEL_WARN {
			return nil, p.errorf(n, path, "max_batch_interval is a warn expectation: a late batch is still data, so it is recorded, not refused; add level: warn")
		}
		every, err := p.ttl(d, path+".max_batch_interval")
		if err != nil {
			return nil, err
		}
		if every == 0 {
			return nil, p.errorf(d, path+".max_batch_interval", "expected a duration above 0, like 1h")
		}
		e.MaxBatchInterval = durationpb.New(every)
		return e, nil
	}
	if d := f["max_arrival_lag"]; d != nil {
		if f["feature"] != nil {
			return nil, p.errorf(f["feature"], path+".feature", "max_arrival_lag checks rows, not a feature: remove the feature")
		}
		lag, err := p.ttl(d, path+".max_arrival_lag")
		if err != nil {
			return nil, err
		}
		if lag == 0 {
			return nil, p.errorf(d, path+".max_arrival_lag", "expected a duration above 0, like 1h")
		}
		e.MaxArrivalLag = durationpb.New(lag)
		return e, nil
	}
	if f["feature"] == nil {
		return nil, p.errorf(n, path, "missing required key \"feature\"")
	}
	if e.Feature, err = p.name(f["feature"], path+".feature"); err != nil {
		return nil, err
	}
	var feat *timefencev1.Feature
	for _, ff := range v.GetFeatures() {
		if ff.GetName() == e.Feature {
			feat = ff
		}
	}
	if feat == nil {
		return nil, p.errorf(f["feature"], path+".feature", "unknown feature %q of feature view %q", e.Feature, v.GetName())
	}
	typ := feat.GetType()
	switch kinds[0] {
	case "min", "max":
		numeric := typ == timefencev1.ValueType_VALUE_TYPE_INT64 || typ == timefencev1.ValueType_VALUE_TYPE_INT32 ||
			typ == timefencev1.ValueType_VALUE_TYPE_DOUBLE || typ == timefencev1.ValueType_VALUE_TYPE_FLOAT
		for _, k := range []string{"min", "max"} {
			b := f[k]
			if b == nil {
				continue
			}
			if !numeric {
				return nil, p.errorf(b, path+"."+k, "feature %q is %s; min and max apply to int64, int32, double and float features", e.Feature, TypeName(typ))
			}
			x, err := p.number(b, path+"."+k)
			if err != nil {
				return nil, err
			}
			if k == "min" {
				e.Min = &x
			} else {
				e.Max = &x
			}
		}
		if e.Min != nil && e.Max != nil && *e.Min > *e.Max {
			return nil, p.errorf(f["min"], path+".min", "%s is greater than max %s", f["min"].Value, f["max"].Value)
		}
	case "allowed":
		a := f["allowed"]
		ints := typ == timefencev1.ValueType_VALUE_TYPE_INT64 || typ == timefencev1.ValueType_VALUE_TYPE_INT32
		if !ints && typ != timefencev1.ValueType_VALUE_TYPE_STRING {
			return nil, p.errorf(a, path+".allowed", "feature %q is %s; allowed applies to string, int64 and int32 features", e.Feature, TypeName(typ))
		}
		err := p.list(a, path+".allowed", func(item *yaml.Node, ipath string) error {
			want := "!!str"
			if ints {
				want = "!!int"
			}
			if item.Kind != yaml.ScalarNode || item.ShortTag() != want {
				return p.errorf(item, ipath, "expected a value of %s feature %q, got %s", TypeName(typ), e.Feature, describe(item))
			}
			if ints {
				x, err := strconv.ParseInt(item.Value, 0, 64)
				if err != nil {
					return p.errorf(item, ipath, "%s is not a 64-bit integer", item.Value)
				}
				e.Allowed = append(e.Allowed, strconv.FormatInt(x, 10))
			} else {
				e.Allowed = append(e.Allowed, item.Value)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if len(e.Allowed) == 0 {
			return nil, p.errorf(a, path+".allowed", "expected at least one value")
		}
	case "not_null":
		b := f["not_null"]
		if b.Kind != yaml.ScalarNode || b.ShortTag() != "!!bool" || b.Value != "true" {
			return nil, p.errorf(b, path+".not_null", "expected true, got %s", describe(b))
		}
		e.NotNull = true
	case "max_null_rate":
		r, err := p.rate(f["max_null_rate"], path+".max_null_rate")
		if err != nil {
			return nil, err
		}
		e.MaxNullRate = &r
	}
	return e, nil
}

// number returns a finite number.
func (p *parser) number(n *yaml.Node, path string) (float64, error) {
	if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!float" && n.ShortTag() != "!!int") {
		return 0, p.errorf(n, path, "expected a number, got %s", describe(n))
	}
	x, err := strconv.ParseFloat(n.Value, 64)
	if err != nil || x != x || x > 1e308 || x < -1e308 {
		return 0, p.errorf(n, path, "expected a finite number, got %s", n.Value)
	}
	return x, nil
}
