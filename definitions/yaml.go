package definitions

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

type parser struct{ file string }

func (p *parser) errorf(n *yaml.Node, path, format string, args ...any) error {
	return &Error{File: p.file, Line: n.Line, Path: path, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) syntaxError(err error) error {
	msg := strings.ReplaceAll(err.Error(), "\n", " ")
	if m := yamlLineError.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{File: p.file, Line: line, Msg: "invalid YAML: " + m[2]}
	}
	return &Error{File: p.file, Msg: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
}

// describe names a node's kind for "expected X, got Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	if n.ShortTag() == "!!null" {
		return "nothing"
	}
	return strconv.Quote(n.Value)
}

// mapping checks that n is a mapping whose keys are among keys.allowed,
// with every one of keys.required present, and returns its values by key.
func (p *parser) mapping(n *yaml.Node, path string, keys mappingKeys) (map[string]*yaml.Node, error) {
	allowed, required := keys.allowed, keys.required
	if n.Kind == yaml.AliasNode {
		return nil, p.errorf(n, path, "anchors and aliases are not supported; write the value out")
	}
	if n.Kind != yaml.MappingNode {
		return nil, p.errorf(n, path, "expected a mapping of keys (%s), got %s", strings.Join(allowed, ", "), describe(n))
	}
	out := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return nil, p.errorf(k, path, "expected a key, got %s", describe(k))
		}
		kpath := joinPath(path, k.Value)
		if !slices.Contains(allowed, k.Value) {
			if s := closest(k.Value, allowed); s != "" {
				return nil, p.errorf(k, kpath, "unknown key; did you mean %q?", s)
			}
			return nil, p.errorf(k, kpath, "unknown key; expected one of %s", strings.Join(allowed, ", "))
		}
		if _, dup := out[k.Value]; dup {
			return nil, p.errorf(k, kpath, "the key appears twice")
		}
		if v.Kind == yaml.AliasNode {
			return nil, p.errorf(v, kpath, "anchors and aliases are not supported; write the value out")
		}
		out[k.Value] = v
	}
	for _, r := range required {
		if out[r] == nil {
			return nil, p.errorf(n, path, "missing required key %q", r)
		}
	}
	return out, nil
}

// list calls fn for each item of the sequence n.
func (p *parser) list(n *yaml.Node, path string, fn func(item *yaml.Node, path string) error) error {
	if n.Kind != yaml.SequenceNode {
		return p.errorf(n, path, "expected a list, got %s", describe(n))
	}
	for i, item := range n.Content {
		if err := fn(item, fmt.Sprintf("%s[%d]", path, i)); err != nil {
			return err
		}
	}
	return nil
}

// str returns a string scalar.
func (p *parser) str(n *yaml.Node, path string) (string, error) {
	if n == nil {
		return "", nil
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		return "", p.errorf(n, path, "expected a string, got %s", describe(n))
	}
	return n.Value, nil
}

func (p *parser) name(n *yaml.Node, path string) (string, error) {
	s, err := p.str(n, path)
	if err != nil {
		return "", err
	}
	if !namePattern.MatchString(s) {
		return "", p.errorf(n, path, "invalid name %q; use letters, digits and underscores, starting with a letter or underscore (at most 128)", s)
	}
	return s, nil
}

// joinPath appends a key to a key path, quoting a key that is not a plain word.
func joinPath(path, key string) string {
	if !plainKey.MatchString(key) {
		key = strconv.Quote(key)
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

// closest returns the word of words within two edits of s, or "".
func closest(s string, words []string) string {
	best, bestD := "", 3
	for _, w := range words {
		if d := editDistance(s, w); d < bestD {
			best, bestD = w, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
