package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestImport checks the Go side of `timefence import feast`: its usage errors
// and what it says when Python, the client or the Feast SDK is missing. The
// import itself is tested in client/python/tests/test_feast_import.py.
func TestImport(t *testing.T) {
	c := &cli{t: t, dir: t.TempDir()}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"import"}, "timefence: import: expected a source and a path: import feast REPO_PATH; run 'timefence import --help' for help"},
		{[]string{"import", "dbt", "repo"}, `timefence: import: unknown source "dbt"; expected feast; run 'timefence import --help' for help`},
		{[]string{"import", "feast"}, "timefence: import: expected one Feast repository path after feast; run 'timefence import --help' for help"},
	} {
		res := c.run(tc.args...)
		require.Equal(t, 2, res.code, tc.args)
		require.Equal(t, tc.want+"\n", res.stderr, tc.args)
	}
	help := c.ok("import", "--help")
	require.Contains(t, help, "timefence import feast feature_repo --lag 1h")
	require.Contains(t, help, "pip install './client/python[feast]'")

	// A PATH without python3, then a python3 that cannot import the client.
	bin := t.TempDir()
	t.Setenv("PATH", bin)
	line := c.fail("import", "feast", "repo")
	require.Contains(t, line, "python3 not found")
	require.Contains(t, line, "pip install './client/python[feast]' from the repository's root")
	require.NoError(t, os.WriteFile(filepath.Join(bin, "python3"),
		[]byte("#!/bin/sh\necho \"ModuleNotFoundError: No module named 'timefence'\" >&2\nexit 1\n"), 0o755))
	line = c.fail("import", "feast", "repo")
	require.Contains(t, line, "No module named 'timefence'")
	require.Contains(t, line, "pip install './client/python[feast]' from the repository's root")
	// The importer's own error (here: no Feast SDK) is its last line.
	require.NoError(t, os.WriteFile(filepath.Join(bin, "python3"), []byte("#!/bin/sh\n"+
		"[ \"$1\" = -c ] && exit 0\necho 'a Feast warning' >&2\n"+
		"echo \"timefence import feast: importing a Feast repository needs the Feast SDK: pip install './client/python[feast]' from the repository's root\" >&2\nexit 3\n"), 0o755))
	line = c.fail("import", "feast", "repo")
	require.Equal(t, "timefence: import feast: importing a Feast repository needs the Feast SDK: pip install './client/python[feast]' from the repository's root", line)
}
