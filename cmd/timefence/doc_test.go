package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/timefence/timefence/definitions"
)

// The doc tests run the docs as written. Every ```sh, ```go, ```json and
// ```yaml block of the files in docFiles is checked (a yaml block must be a
// definitions file the parser accepts; ```text blocks show output and are
// not checked); ```python blocks run from the Python client's tests
// (client/python/tests/test_docs.py).
//
// The blocks of one file run in order, in one working directory holding a
// copy of examples/, against one fresh server on localhost:7070 (the address
// the docs use), with the timefence under test first on PATH. A sh block
// runs as one script that stops at its first failing command; a go block is
// a main package, run in a module that requires this one.
//
// A marker on the line before a block's fence changes how it runs:
//
//	<!-- doctest: in a copy of the repository -->           its commands run at the root of a copy of the repository
//	<!-- doctest: server, in a copy of the repository -->   the same, and its last command starts a server: that process must
//	                                                          serve, then stop gracefully on SIGTERM and free its port
//	<!-- doctest: skip: REASON -->                          not run, for the reason given
var docFiles = []string{"README.md", "client/python/README.md", "docs/*.md"}

const docAddr = "localhost:7070"

// docBlock is one fenced block of a Markdown file.
type docBlock struct {
	file, lang, marker string
	line               int // of the opening fence
	text               string
}

func (b docBlock) name() string { return fmt.Sprintf("%s:%d", b.file, b.line) }

// readDocBlocks returns the fenced blocks of a Markdown file.
func readDocBlocks(t *testing.T, root, file string) []docBlock {
	f, err := os.Open(filepath.Join(root, file))
	require.NoError(t, err)
	defer f.Close()
	var blocks []docBlock
	var cur *docBlock
	prev := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur == nil && strings.HasPrefix(line, "```") && len(line) > 3:
			cur = &docBlock{file: file, lang: line[3:], line: n}
			if m, ok := strings.CutPrefix(prev, "<!-- doctest: "); ok {
				cur.marker = strings.TrimSuffix(m, " -->")
			}
		case cur != nil && line == "```":
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			cur.text += line + "\n"
		}
		prev = line
	}
	require.NoError(t, sc.Err())
	require.Nil(t, cur, "%s: a block is not closed", file)
	return blocks
}

func TestDocs(t *testing.T) {
	if testing.Short() {
		t.Skip("the doc tests build and start servers")
	}
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	var files []string
	for _, pattern := range docFiles {
		m, err := filepath.Glob(filepath.Join(root, pattern))
		require.NoError(t, err)
		for _, f := range m {
			rel, _ := filepath.Rel(root, f)
			files = append(files, rel)
		}
	}
	ran := 0
	for _, file := range files {
		blocks := readDocBlocks(t, root, file)
		t.Run(file, func(t *testing.T) {
			d := &docRun{t: t, root: root}
			for _, b := range blocks {
				switch {
				case b.lang == "python":
					continue // run by the Python tests
				case strings.HasPrefix(b.marker, "skip"):
					reason, _ := strings.CutPrefix(b.marker, "skip: ")
					require.NotEqual(t, b.marker, reason, "%s: a skipped block must say why: <!-- doctest: skip: REASON -->", b.name())
					t.Logf("%s: not run: %s", b.name(), reason)
					continue
				}
				d.run(b)
				ran++
			}
		})
	}
	require.NotZero(t, ran, "no doc blocks ran")
}

// TestDocDefinitions checks the docs' yaml blocks alone, without the
// servers TestDocs starts.
func TestDocDefinitions(t *testing.T) {
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	for _, pattern := range docFiles {
		files, err := filepath.Glob(filepath.Join(root, pattern))
		require.NoError(t, err)
		for _, f := range files {
			rel, _ := filepath.Rel(root, f)
			d := &docRun{t: t, root: root}
			for _, b := range readDocBlocks(t, root, rel) {
				if b.lang == "yaml" && b.marker == "" {
					d.run(b)
				}
			}
		}
	}
}

// docRun holds what the blocks of one file share.
type docRun struct {
	t          *testing.T
	root       string
	work, repo string // made on first use
	server     *exec.Cmd
}

func (d *docRun) run(b docBlock) {
	t := d.t
	switch {
	case b.lang == "text":
		// output shown to the reader: nothing to run
	case b.lang == "json":
		require.True(t, json.Valid([]byte(b.text)), "%s: not valid JSON", b.name())
	case b.lang == "yaml" && b.marker == "":
		_, err := definitions.Parse(b.name(), []byte(b.text))
		require.NoError(t, err, "%s: not a definitions file the parser accepts", b.name())
	case b.lang == "sh" && b.marker == "in a copy of the repository":
		d.shell(b, d.repoCopy())
	case b.lang == "sh" && b.marker == "server, in a copy of the repository":
		d.serverBlock(b)
	case b.lang == "sh" && b.marker == "":
		d.startServer()
		d.shell(b, d.work)
	case b.lang == "go" && b.marker == "":
		d.startServer()
		d.goProgram(b)
	default:
		t.Fatalf("%s: cannot run a %q block marked %q", b.name(), b.lang, b.marker)
	}
}

// env is the environment of the docs' commands: no TIMEFENCE_ settings of
// the caller, the binary under test first on PATH.
func (d *docRun) env(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TIMEFENCE_") && !strings.HasPrefix(kv, "PATH=") {
			env = append(env, kv)
		}
	}
	env = append(env, "PATH="+filepath.Dir(binary)+string(os.PathListSeparator)+os.Getenv("PATH"))
	return append(env, extra...)
}

// shell runs a sh block as one script in dir.
func (d *docRun) shell(b docBlock, dir string) {
	t := d.t
	cmd := exec.Command("sh", "-ec", b.text)
	cmd.Dir, cmd.Env = dir, d.env("TIMEFENCE_DATA="+filepath.Join(t.TempDir(), "data"))
	out, err := cmd.CombinedOutput()
	t.Logf("%s:\n%s\n%s", b.name(), b.text, out)
	require.NoError(t, err, "%s failed:\n%s", b.name(), out)
}

// serverBlock runs all but the last command of b, then starts the last as a
// process of its own, which must be the server: it answers health checks,
// and SIGTERM to it stops the server and frees the port.
func (d *docRun) serverBlock(b docBlock) {
	t := d.t
	require.Nil(t, d.server, "%s: a server block must come before the blocks that use the file's server", b.name())
	lines := strings.Split(strings.TrimSpace(b.text), "\n")
	repo := d.repoCopy()
	if len(lines) > 1 {
		d.shell(docBlock{file: b.file, line: b.line, text: strings.Join(lines[:len(lines)-1], "\n") + "\n"}, repo)
	}
	args := strings.Fields(lines[len(lines)-1])
	srv := exec.Command(filepath.Join(repo, args[0]), args[1:]...)
	if !strings.ContainsRune(args[0], '/') {
		srv = exec.Command(args[0], args[1:]...)
	}
	srv.Dir, srv.Env = repo, d.env("TIMEFENCE_DATA="+filepath.Join(t.TempDir(), "data"))
	srv.Stderr = os.Stderr
	requirePortFree(t)
	require.NoError(t, srv.Start())
	waitHealthy(t, docAddr)
	require.NoError(t, srv.Process.Signal(syscall.SIGTERM))
	require.NoError(t, srv.Wait(), "%s: the server did not stop cleanly on SIGTERM", b.name())
	conn, err := net.DialTimeout("tcp", docAddr, time.Second)
	if err == nil {
		conn.Close()
	}
	require.Error(t, err, "%s: something still listens on %s after the server stopped", b.name(), docAddr)
}

// goProgram runs a go block, a main package, in a module that requires this
// repository's.
func (d *docRun) goProgram(b docBlock) {
	t := d.t
	dir := t.TempDir()
	gomod := fmt.Sprintf("module doctest\n\ngo 1.26.8\n\nrequire github.com/timefence/timefence v0.0.0\n\nreplace github.com/timefence/timefence => %s\n", d.root)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644))
	sum, err := os.ReadFile(filepath.Join(d.root, "go.sum"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte(b.text), 0o644))
	for _, args := range [][]string{{"mod", "tidy"}, {"run", "."}} {
		cmd := exec.Command("go", args...)
		cmd.Dir, cmd.Env = dir, d.env()
		out, err := cmd.CombinedOutput()
		t.Logf("%s: go %s\n%s", b.name(), strings.Join(args, " "), out)
		require.NoError(t, err, "%s: go %s failed:\n%s", b.name(), strings.Join(args, " "), out)
	}
}

// startServer starts the file's server on the docs' address, once, and
// makes the working directory with a copy of examples/.
func (d *docRun) startServer() {
	if d.server != nil {
		return
	}
	t := d.t
	requirePortFree(t)
	d.work = t.TempDir()
	require.NoError(t, os.CopyFS(filepath.Join(d.work, "examples"), os.DirFS(filepath.Join(d.root, "examples"))))
	d.server = startBinary(t, filepath.Join(t.TempDir(), "data"), docAddr)
	srv := d.server
	t.Cleanup(func() { _ = srv.Process.Signal(syscall.SIGTERM); _ = srv.Wait() })
}

// repoCopy returns a copy of the repository's files (tracked, or new and
// not ignored), made once per file.
func (d *docRun) repoCopy() string {
	if d.repo != "" {
		return d.repo
	}
	t := d.t
	out, err := exec.Command("git", "-C", d.root, "ls-files", "-co", "--exclude-standard").Output()
	require.NoError(t, err, "the repository copy needs git")
	d.repo = t.TempDir()
	for _, rel := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		src := filepath.Join(d.root, rel)
		st, err := os.Lstat(src)
		if err != nil || !st.Mode().IsRegular() {
			continue // deleted in the work tree, or not a file
		}
		data, err := os.ReadFile(src)
		require.NoError(t, err)
		dst := filepath.Join(d.repo, rel)
		require.NoError(t, os.MkdirAll(filepath.Dir(dst), 0o755))
		require.NoError(t, os.WriteFile(dst, data, st.Mode().Perm()|fs.FileMode(0o200)))
	}
	return d.repo
}

// requirePortFree fails when something already listens on the docs' address.
func requirePortFree(t *testing.T) {
	l, err := net.Listen("tcp", docAddr)
	require.NoError(t, err, "port 7070 is in use: the docs' blocks talk to %s; stop what listens there", docAddr)
	l.Close()
}

// waitHealthy waits until a gRPC health check at addr says SERVING.
func waitHealthy(t *testing.T, addr string) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
		cancel()
		if err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			return
		}
		require.True(t, time.Now().Before(deadline), "no server became healthy at %s: %v", addr, err)
		time.Sleep(100 * time.Millisecond)
	}
}
