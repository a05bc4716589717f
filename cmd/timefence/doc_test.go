package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// docMarker precedes a shell block of the docs that must run as written.
const docMarker = "<!-- doctest: run against a fresh server -->"

// docBlocks returns the marked ```sh blocks of a Markdown file, as lines.
func docBlocks(t *testing.T, path string) [][]string {
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var blocks [][]string
	var cur []string
	marked, in := false, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == docMarker:
			marked = true
		case marked && line == "```sh":
			in, cur = true, nil
		case in && line == "```":
			blocks = append(blocks, cur)
			in, marked = false, false
		case in:
			cur = append(cur, line)
		}
	}
	require.NoError(t, sc.Err())
	return blocks
}

// TestDocCommands runs every marked shell block of the docs, line by line
// with sh, in a directory holding a copy of examples/, against a fresh
// server, with the timefence under test first on PATH. Every line must
// succeed.
func TestDocCommands(t *testing.T) {
	docs, err := filepath.Glob("../../docs/*.md")
	require.NoError(t, err)
	docs = append(docs, "../../README.md")
	ran := 0
	for _, doc := range docs {
		for i, block := range docBlocks(t, doc) {
			t.Run(filepath.Base(doc)+"#"+string(rune('1'+i)), func(t *testing.T) {
				addr := freeAddr(t)
				srv := startBinary(t, t.TempDir(), addr)
				t.Cleanup(func() { _ = srv.Process.Signal(syscall.SIGTERM); _ = srv.Wait() })
				work := t.TempDir()
				require.NoError(t, os.CopyFS(filepath.Join(work, "examples"), os.DirFS("../../examples")))
				env := append(os.Environ(), "TIMEFENCE_ADDR="+addr,
					"PATH="+filepath.Dir(binary)+string(os.PathListSeparator)+os.Getenv("PATH"))
				for _, line := range block {
					if strings.TrimSpace(line) == "" {
						continue
					}
					cmd := exec.Command("sh", "-c", line)
					cmd.Dir, cmd.Env = work, env
					out, err := cmd.CombinedOutput()
					require.NoError(t, err, "%s: %s\n%s", doc, line, out)
					t.Logf("$ %s\n%s", line, out)
				}
			})
			ran++
		}
	}
	require.NotZero(t, ran, "no marked blocks found")
}
