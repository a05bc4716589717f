package client

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
)

// docRow is one row of the table of docs/errors.md.
type docRow struct{ reason, code, goName, pyName string }

// errorTable reads the table of docs/errors.md: reason, code, Go name,
// Python name (the Python client's tests check the last column).
func errorTable(t *testing.T) []docRow {
	data, err := os.ReadFile("../docs/errors.md")
	require.NoError(t, err)
	var rows []docRow
	in := false
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "| reason | code | Go | Python |") {
			in = true
			continue
		}
		if !in || strings.HasPrefix(line, "|---") {
			continue
		}
		if !strings.HasPrefix(line, "|") {
			break
		}
		cells := strings.Split(strings.Trim(line, "|"), " | ")
		require.GreaterOrEqual(t, len(cells), 5, "docs/errors.md: %s", line)
		unquote := func(s string) string { return strings.Trim(strings.TrimSpace(s), "`") }
		code, _, _ := strings.Cut(unquote(cells[1]), "`")
		rows = append(rows, docRow{unquote(cells[0]), code, unquote(cells[2]), unquote(cells[3])})
	}
	require.NotEmpty(t, rows, "docs/errors.md has no table of reasons")
	return rows
}

// mapLiteral returns the entries of the map literal assigned to name in a
// Go file, as source text: key -> value.
func mapLiteral(t *testing.T, file, name string) map[string]string {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, nil, 0)
	require.NoError(t, err)
	out := map[string]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok || vs.Names[0].Name != name {
			return true
		}
		for _, e := range vs.Values[0].(*ast.CompositeLit).Elts {
			kv := e.(*ast.KeyValueExpr)
			key := source(kv.Key)
			if s, err := strconv.Unquote(key); err == nil {
				key = s
			}
			out[key] = source(kv.Value)
		}
		return false
	})
	require.NotEmpty(t, out, "%s: no map %s", file, name)
	return out
}

// source is the source text of a name, a literal or a selector.
func source(e ast.Expr) string {
	switch x := e.(type) {
	case *ast.Ident:
		return x.Name
	case *ast.BasicLit:
		return x.Value
	case *ast.SelectorExpr:
		return source(x.X) + "." + x.Sel.Name
	}
	return ""
}

// TestErrorVocabulary: the reasons the server sends, the table of
// docs/errors.md and the Go client's sentinels name the same things.
func TestErrorVocabulary(t *testing.T) {
	table := errorTable(t)
	goReasons := mapLiteral(t, "errors.go", "reasons")
	goCodes := mapLiteral(t, "errors.go", "byCode")

	// Every reason of the table has its sentinel, of the table's name, and
	// the Python class the same name without "Err".
	var documented []string
	for _, r := range table {
		require.Equal(t, "Err"+r.pyName, r.goName, "docs/errors.md: %s: the Go and Python names differ", r.reason)
		if r.reason == "—" {
			require.Equal(t, r.goName, goCodes["codes."+camel(r.code)], "docs/errors.md: a status %s without a reason", r.code)
			continue
		}
		documented = append(documented, r.reason)
		require.Equal(t, r.goName, goReasons[r.reason], "docs/errors.md: reason %s", r.reason)
	}
	// ... and the client knows no other reason.
	var known []string
	for r := range goReasons {
		known = append(known, r)
	}
	slices.Sort(known)
	slices.Sort(documented)
	require.Equal(t, documented, known, "reasons in client/errors.go and in docs/errors.md")

	// The server sends exactly the documented reasons.
	var sent []string
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "../server/errors.go", nil, 0)
	require.NoError(t, err)
	ast.Inspect(f, func(n ast.Node) bool {
		if vs, ok := n.(*ast.ValueSpec); ok && strings.HasPrefix(vs.Names[0].Name, "Reason") && len(vs.Values) == 1 {
			s, err := strconv.Unquote(source(vs.Values[0]))
			require.NoError(t, err)
			sent = append(sent, s)
		}
		return true
	})
	slices.Sort(sent)
	require.Equal(t, documented, sent, "reasons in server/errors.go and in docs/errors.md")

	// Every documented code is a gRPC code.
	for _, r := range table {
		var c codes.Code
		require.NoError(t, c.UnmarshalJSON([]byte(strconv.Quote(r.code))), "docs/errors.md: %s: code %q", r.reason, r.code)
	}
}

// camel turns RESOURCE_EXHAUSTED into ResourceExhausted.
func camel(s string) string {
	var b strings.Builder
	for _, w := range strings.Split(strings.ToLower(s), "_") {
		b.WriteString(strings.ToUpper(w[:1]) + w[1:])
	}
	return b.String()
}
