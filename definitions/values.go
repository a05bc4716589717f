package definitions

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
)

// TypeName returns the name the file gives a value type: "int64",
// "double", "timestamp", "float_list", ... (see valueTypes).
func TypeName(t timefencev1.ValueType) string {
	for _, vt := range valueTypes {
		if vt.typ == t {
			return vt.name
		}
	}
	return strings.ToLower(strings.TrimPrefix(t.String(), "VALUE_TYPE_"))
}

// ttl parses a duration: a Go duration, days ("7d", "1d12h"), or 0.
func (p *parser) ttl(n *yaml.Node, path string) (time.Duration, error) {
	if n.Kind == yaml.ScalarNode && (n.ShortTag() == "!!int" || n.ShortTag() == "!!float") {
		if x, err := strconv.ParseFloat(n.Value, 64); err == nil && x == 0 {
			return 0, nil
		}
		return 0, p.errorf(n, path, "%s has no unit; write it like 90s, 30m, 1h30m or 7d (0 means no limit)", n.Value)
	}
	s, err := p.str(n, path)
	if err != nil {
		return 0, err
	}
	d, err := parseTTL(s)
	if err != nil {
		return 0, p.errorf(n, path, "%v", err)
	}
	return d, nil
}

// parseTTL parses a Go duration, days ("7d", "1d12h") or "0".
func parseTTL(s string) (time.Duration, error) {
	m := durationPattern.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("invalid duration %q; write it like 90s, 30m, 1h30m or 7d (0 means no limit)", s)
	}
	if s == "0" {
		return 0, nil
	}
	var d time.Duration
	rest := s
	if m[2] != "" {
		days, err := strconv.ParseInt(m[2], 10, 64)
		if err != nil || days > int64(maxDays) {
			return 0, fmt.Errorf("duration %q is too long", s)
		}
		d, rest = time.Duration(days)*24*time.Hour, m[3]
	}
	if rest != "" {
		x, err := time.ParseDuration(rest)
		if err != nil || d+x < d {
			return 0, fmt.Errorf("duration %q is too long", s)
		}
		d += x
	}
	return d, nil
}

// maxDays is the most whole days a time.Duration holds.
const maxDays = (1<<63 - 1) / int64(24*time.Hour)

func (p *parser) tags(n *yaml.Node, path string) (map[string]string, error) {
	if n.Kind != yaml.MappingNode {
		return nil, p.errorf(n, path, "expected a mapping of tag names to values, got %s", describe(n))
	}
	out := map[string]string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Value == "" {
			return nil, p.errorf(k, path, "expected a tag name, got %s", describe(k))
		}
		if _, dup := out[k.Value]; dup {
			return nil, p.errorf(k, joinPath(path, k.Value), "the key appears twice")
		}
		if v.Kind != yaml.ScalarNode || v.ShortTag() == "!!null" {
			return nil, p.errorf(v, joinPath(path, k.Value), "expected a text, number or true/false value, got %s", describe(v))
		}
		out[k.Value] = v.Value
	}
	return out, nil
}

// time parses an RFC 3339 time with a zone (a space may replace the T).
func (p *parser) time(n *yaml.Node, path string) (time.Time, error) {
	if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!str" && n.ShortTag() != "!!timestamp") {
		return time.Time{}, p.errorf(n, path, "expected a time like 2024-01-01T00:00:00Z, got %s", describe(n))
	}
	t, err := ParseTime(n.Value)
	if err != nil {
		return time.Time{}, p.errorf(n, path, "%v", err)
	}
	return t, nil
}

// ParseTime parses a time as the file writes it: RFC 3339 with a zone, where
// a space may replace the T, in the years 1970 to 2261. It returns it in UTC.
func ParseTime(s string) (time.Time, error) {
	if !timestampPattern.MatchString(s) {
		return time.Time{}, fmt.Errorf("invalid time %q; expected RFC 3339 with a zone, like 2024-01-01T00:00:00Z", s)
	}
	t, err := time.Parse(time.RFC3339Nano, s[:10]+"T"+s[11:])
	if err != nil {
		return time.Time{}, fmt.Errorf("invalid time %q; expected RFC 3339 with a zone, like 2024-01-01T00:00:00Z", s)
	}
	if t.Year() < 1970 || t.Year() > 2261 {
		return time.Time{}, fmt.Errorf("time %q is outside the supported years 1970 to 2261", s)
	}
	return t.UTC(), nil
}

// parseType returns the value type named name, or VALUE_TYPE_UNSPECIFIED.
func parseType(name string) timefencev1.ValueType {
	for _, vt := range valueTypes {
		if vt.name == name {
			return vt.typ
		}
	}
	return timefencev1.ValueType_VALUE_TYPE_UNSPECIFIED
}

func typeList() string {
	names := make([]string, len(valueTypes))
	for i, vt := range valueTypes {
		names[i] = vt.name
	}
	return strings.Join(names, ", ")
}

// rate returns a number from 0 to 1.
func (p *parser) rate(n *yaml.Node, path string) (float64, error) {
	if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!float" && n.ShortTag() != "!!int") {
		return 0, p.errorf(n, path, "expected a number from 0 to 1, got %s", describe(n))
	}
	v, err := strconv.ParseFloat(n.Value, 64)
	if err != nil || !(v >= 0 && v <= 1) {
		return 0, p.errorf(n, path, "expected a number from 0 to 1, got %s", n.Value)
	}
	return v, nil
}
