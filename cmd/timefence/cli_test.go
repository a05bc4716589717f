package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// cli runs the timefence binary in a working directory against a server.
type cli struct {
	t    *testing.T
	dir  string
	addr string
}

type cliResult struct {
	stdout, stderr string
	code           int
}

func (c *cli) run(args ...string) cliResult {
	c.t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = c.dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TIMEFENCE_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if c.addr != "" {
		cmd.Env = append(cmd.Env, "TIMEFENCE_ADDR="+c.addr)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	res := cliResult{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		res.code = ee.ExitCode()
	} else {
		require.NoError(c.t, err)
	}
	return res
}

// ok runs a command that must succeed and returns its stdout.
func (c *cli) ok(args ...string) string {
	c.t.Helper()
	res := c.run(args...)
	require.Equal(c.t, 0, res.code, "timefence %s failed:\n%s", strings.Join(args, " "), res.stderr)
	return res.stdout
}

// fail runs a command that must fail with one line on stderr and returns it.
func (c *cli) fail(args ...string) string {
	c.t.Helper()
	res := c.run(args...)
	require.NotEqual(c.t, 0, res.code, "timefence %s succeeded:\n%s", strings.Join(args, " "), res.stdout)
	line := strings.TrimSuffix(res.stderr, "\n")
	require.NotContains(c.t, line, "\n", "the error is not one line")
	require.True(c.t, strings.HasPrefix(line, "timefence: "), line)
	return line
}

// startCLIServer runs `timefence serve` on a temporary store.
func startCLIServer(t *testing.T) *cli {
	t.Helper()
	addr := freeAddr(t)
	srv := startBinary(t, t.TempDir(), addr)
	t.Cleanup(func() {
		_ = srv.Process.Signal(syscall.SIGTERM)
		_ = srv.Wait()
	})
	return &cli{t: t, dir: t.TempDir(), addr: addr}
}

var timePattern = regexp.MustCompile(`[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z`)

// golden compares got with testdata/NAME.golden, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run the test with -update to create %s", path)
	require.Equal(t, string(want), got, "%s differs; run the test with -update if the change is right", path)
}

func (c *cli) write(name, content string) string {
	c.t.Helper()
	require.NoError(c.t, os.WriteFile(filepath.Join(c.dir, name), []byte(content), 0o644))
	return name
}

const cliDefinitions = `entities:
  - name: user
    join_keys: [{name: user_id, type: int64}]
feature_views:
  - name: user_stats
    entity: user
    description: clicks and spend
    features:
      - {name: clicks, type: int64}
      - {name: spend, type: double}
      - {name: country, type: string}
`

// version is one row the test writes, with the phase it became available in:
// 1 before the spine's time M, 2 between M and the cutoff C, 3 after C.
type version struct {
	user    int64
	event   time.Time
	phase   int
	clicks  int64
	spend   any // float64 or nil
	country string
}

// readRule is the read rule by brute force: the latest version by event
// time among those with event <= at and phase <= visible.
func readRule(vs []version, user int64, at time.Time, visible int) (version, bool) {
	var best version
	found := false
	for _, v := range vs {
		if v.user == user && !v.event.After(at) && v.phase <= visible && (!found || v.event.After(best.event)) {
			best, found = v, true
		}
	}
	return best, found
}

func TestCLI(t *testing.T) {
	c := startCLIServer(t)
	defs := c.write("defs.yaml", cliDefinitions)
	golden(t, "apply", c.ok("apply", defs))
	require.Contains(t, c.ok("apply", defs), "unchanged")

	t0 := time.Now().UTC().Truncate(time.Second)
	at := func(d time.Duration) string { return t0.Add(d).Format(time.RFC3339) }
	vs := []version{
		{1, t0.Add(-3 * time.Hour), 1, 1, 1.5, "DE"},
		{1, t0.Add(-2 * time.Hour), 1, 2, 2.5, "DE"},
		{2, t0.Add(-2 * time.Hour), 1, 5, nil, "FR"},
		{3, t0.Add(-150 * time.Minute), 1, 9, 9.5, "US"},
		// Late: an event before M that arrives after M.
		{1, t0.Add(-90 * time.Minute), 2, 100, nil, "XX"},
		{4, t0.Add(-1 * time.Hour), 2, 7, nil, "JP"},
	}
	batch1 := c.write("batch1.csv", "user_id,event_timestamp,clicks,spend,country\n"+
		fmt.Sprintf("1,%s,1,1.5,DE\n1,%s,2,2.5,DE\n2,%s,5,,FR\n3,%s,9,9.5,US\n", at(-3*time.Hour), at(-2*time.Hour), at(-2*time.Hour), at(-150*time.Minute)))
	require.Contains(t, c.ok("write", "user_stats", batch1, "--batch-id", "b1"), "wrote 4 rows to user_stats in one batch (seq 1-4")
	require.Contains(t, c.ok("write", "user_stats", batch1, "--batch-id", "b1"), `batch "b1" was already written; nothing was written again`)

	time.Sleep(50 * time.Millisecond)
	m := time.Now().UTC()
	time.Sleep(50 * time.Millisecond)
	writeParquet(t, filepath.Join(c.dir, "batch2.parquet"), vs[4:])
	require.Contains(t, c.ok("write", "--event-time-column", "ts", "user_stats", "batch2.parquet"), "wrote 2 rows to user_stats in one batch (seq 5-6")
	time.Sleep(50 * time.Millisecond)
	cutoff := time.Now().UTC()

	require.Contains(t, c.ok("split", "create", "recent", "--start", at(-4*time.Hour), "--end", cutoff.Format(time.RFC3339Nano), "--description", "the last hours"),
		"split recent created")
	require.Equal(t, "split jan created [2024-01-01T00:00:00Z, 2024-01-31T23:59:59Z]\n",
		c.ok("split", "create", "jan", "--start", "2024-01-01T00:00:00Z", "--end", "2024-01-31T23:59:59Z"))
	list := c.ok("split", "list")
	require.Regexp(t, `(?m)^jan +2024-01-01T00:00:00Z +2024-01-31T23:59:59Z$`, list)
	require.Regexp(t, `(?m)^recent .* the last hours$`, list)
	var splits []map[string]string
	require.NoError(t, json.Unmarshal([]byte(c.ok("split", "list", "--json")), &splits))
	require.Len(t, splits, 2)

	// The spine: rows at M (before the late value arrived) and at the cutoff.
	type row struct {
		user  int64
		at    time.Time
		phase int // the versions visible at the row's time
	}
	spine := []row{{1, m, 1}, {1, cutoff, 2}, {2, m, 1}, {3, m, 1}, {4, m, 1}, {4, cutoff, 2}, {5, m, 1}}
	var sb strings.Builder
	sb.WriteString("user_id,event_timestamp,label\n")
	for i, r := range spine {
		fmt.Fprintf(&sb, "%d,%s,%d\n", r.user, r.at.Format(time.RFC3339Nano), i)
	}
	c.write("spine.csv", sb.String())

	t.Run("join", func(t *testing.T) {
		out := c.ok("join", "--split", "recent", "--spine", "spine.csv", "--features", "user_stats", "-o", "train.parquet")
		require.Contains(t, out, "joined 7 spine rows with 3 features under split recent")
		require.Regexp(t, `naive-join differences +2 of 7 rows \(28\.6%\)`, out)
		rows := readParquet(t, filepath.Join(c.dir, "train.parquet"))
		require.Len(t, rows, len(spine))
		naive := 0
		for i, r := range spine {
			got := rows[i]
			require.Equal(t, r.user, got["user_id"])
			require.Equal(t, int64(i), got["label"], "labels pass through")
			want, ok := readRule(vs, r.user, r.at, r.phase)
			if !ok {
				require.Nil(t, got["clicks"], "row %d", i)
				require.Nil(t, got["country"], "row %d", i)
			} else {
				require.Equal(t, want.clicks, got["clicks"], "row %d", i)
				require.Equal(t, want.spend, got["spend"], "row %d", i)
				require.Equal(t, want.country, got["country"], "row %d", i)
			}
			if n, _ := readRule(vs, r.user, r.at, 2); n != want {
				naive++
			}
		}
		require.Equal(t, int64(2), rows[0]["clicks"], "the late value must not leak into the row at M")
		require.Equal(t, 2, naive)

		var manifest map[string]any
		data, err := os.ReadFile(filepath.Join(c.dir, "train.manifest.json"))
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(data, &manifest))
		require.Equal(t, "7", manifest["rows"])
		require.Equal(t, "2", manifest["naive_differences"])
		id := manifest["dataset_id"].(string)
		require.Contains(t, out, id)

		// A write after the cutoff changes nothing in a re-read.
		late := c.write("batch3.csv", fmt.Sprintf("user_id,event_timestamp,clicks\n1,%s,1000\n", time.Now().UTC().Format(time.RFC3339Nano)))
		c.ok("write", "user_stats", late)
		c.ok("join", "--dataset-id", id, "--spine", "spine.csv", "-o", "again.parquet")
		first, err := os.ReadFile(filepath.Join(c.dir, "train.parquet"))
		require.NoError(t, err)
		again, err := os.ReadFile(filepath.Join(c.dir, "again.parquet"))
		require.NoError(t, err)
		require.Equal(t, first, again, "a re-read of a dataset is byte-identical")

		// The same spine as Parquet.
		c.ok("join", "--split", "recent", "--spine", "train.parquet", "--features", "user_stats:clicks", "--full-feature-names", "-o", "clicks.parquet")
		clicks := readParquet(t, filepath.Join(c.dir, "clicks.parquet"))
		require.Equal(t, int64(2), clicks[0]["user_stats__clicks"])
	})

	t.Run("export", func(t *testing.T) {
		out := c.ok("export", "--split", "recent", "--view", "user_stats", "-o", "export.parquet")
		require.Contains(t, out, "exported 6 versions under split recent")
		rows := readParquet(t, filepath.Join(c.dir, "export.parquet"))
		require.Len(t, rows, 6, "the write after the cutoff is not exported")
		for _, r := range rows {
			require.False(t, r["available_at"].(time.Time).After(cutoff))
			require.False(t, r["event_timestamp"].(time.Time).After(cutoff))
			require.NotEqual(t, int64(1000), r["clicks"])
		}
		_, err := os.Stat(filepath.Join(c.dir, "export.manifest.json"))
		require.NoError(t, err)
	})

	t.Run("status", func(t *testing.T) {
		out := c.ok("status")
		require.Contains(t, out, "feature view  run files  versions in files")
		require.Contains(t, out, "user_stats")
		var res struct {
			Views []struct {
				FeatureView  string `json:"feature_view"`
				FileVersions string `json:"file_versions"`
				TailVersions string `json:"tail_versions"`
			} `json:"views"`
		}
		require.NoError(t, json.Unmarshal([]byte(c.ok("status", "--json")), &res))
		require.Equal(t, "user_stats", res.Views[0].FeatureView)
		files, _ := strconv.Atoi(res.Views[0].FileVersions)
		mem, _ := strconv.Atoi(res.Views[0].TailVersions)
		require.GreaterOrEqual(t, files+mem, 7, "every version written is in the history, in files or in memory")
	})

	t.Run("get", func(t *testing.T) {
		out := c.ok("get", "--features", "user_stats:clicks,user_stats:country", "--key", "user_id=1", "--key", "user_id=5")
		golden(t, "get", timePattern.ReplaceAllString(out, "<time>"))
		var res struct {
			Rows []struct {
				Key    map[string]any `json:"key"`
				Values []struct {
					Feature string `json:"feature"`
					Value   any    `json:"value"`
					Status  string `json:"status"`
				} `json:"values"`
			} `json:"rows"`
		}
		require.NoError(t, json.Unmarshal([]byte(c.ok("get", "--features", "user_stats", "--key", "user_id=1", "--json")), &res))
		require.Equal(t, float64(1000), res.Rows[0].Values[0].Value)
		require.Equal(t, "present", res.Rows[0].Values[0].Status)
		require.Equal(t, "user_stats:spend", res.Rows[0].Values[1].Feature)
		require.Nil(t, res.Rows[0].Values[1].Value, "spend was not written")

		// As of M, under the split, the late value had not arrived.
		asOf := c.ok("get", "--features", "user_stats:clicks", "--key", "user_id=1", "--split", "recent", "--as-of", m.Format(time.RFC3339Nano))
		require.Regexp(t, `(?m)^1 +user_stats:clicks +2 +present`, asOf)
	})

	t.Run("stats", func(t *testing.T) {
		out := c.ok("stats", "--split", "recent", "--view", "user_stats")
		// The rows' lags depend on when the test wrote them: the line is
		// checked here, the rest against the golden file.
		lagLine := regexp.MustCompile(`\narrival lag \(available_at - event_time\): median 2h0m[0-9.]+s, 95th percentile 2h52m3[0-9.]+s, max 3h0m[0-9.]+s\n`)
		require.Regexp(t, lagLine, out)
		golden(t, "stats", lagLine.ReplaceAllString(out, ""))
		var st struct {
			Features []struct {
				Feature string `json:"feature"`
				Count   string `json:"count"`
			} `json:"features"`
		}
		require.NoError(t, json.Unmarshal([]byte(c.ok("stats", "--split", "recent", "--view", "user_stats", "--json")), &st))
		require.Equal(t, "clicks", st.Features[0].Feature)
		require.Equal(t, "6", st.Features[0].Count)
		// Split jan holds nothing of user_stats (its versions were written
		// live, after jan's cutoff): the comparison says so, and does not
		// report "no anomalies".
		cmp := c.run("stats", "--split", "recent", "--view", "user_stats", "--compare", "jan")
		require.Equal(t, 0, cmp.code)
		require.Contains(t, cmp.stdout, "not compared: split jan has no data of user_stats")
		require.NotContains(t, cmp.stdout, "no anomalies")
		require.Regexp(t, `note: none of the \d+ versions of user_stats was available by the cutoff of split jan \(2024-01-31T23:59:59Z\); .*timefence write --backfill`, cmp.stderr)
	})

	t.Run("failures", func(t *testing.T) {
		closed := &cli{t: t, dir: c.dir, addr: freeAddr(t)}
		start := time.Now()
		require.Equal(t, "timefence: cannot reach a timefence server at "+closed.addr+
			" (connection refused); start one with 'timefence serve', or check --addr, --tls and --token",
			closed.fail("get", "--features", "user_stats", "--key", "user_id=1"))
		require.Less(t, time.Since(start), 5*time.Second)

		require.Equal(t, "timefence: file missing.csv does not exist", c.fail("write", "user_stats", "missing.csv"))
		require.Equal(t, "timefence: file missing.yaml does not exist", c.fail("apply", "missing.yaml"))
		require.Equal(t, `timefence: features[0]: feature view "user_stats" has no feature "nope"`,
			c.fail("join", "--split", "recent", "--spine", "spine.csv", "--features", "user_stats:nope", "-o", "x.parquet"))
		require.Equal(t, `timefence: features[0]: feature view "user_stats" has no feature "nope"`,
			c.fail("get", "--features", "user_stats:nope", "--key", "user_id=1"))

		after := c.write("after.csv", sb.String()+fmt.Sprintf("1,%s,99\n", time.Now().UTC().Format(time.RFC3339Nano)))
		require.Equal(t, fmt.Sprintf(`timefence: refused by the guard: 1 spine row lies outside split "recent", whose cutoff is %s (first rows: 7); nothing was read`,
			cutoff.Format(time.RFC3339Nano)),
			c.fail("join", "--split", "recent", "--spine", after, "--features", "user_stats", "-o", "refused.parquet"))
		_, err := os.Stat(filepath.Join(c.dir, "refused.parquet"))
		require.True(t, os.IsNotExist(err), "a refused join writes no output")

		bad := c.write("bad.csv", "user_id,event_timestamp,clicks\n1,2024-01-01T00:00:00Z,3\n2,2024-01-01T00:00:00Z,abc\n")
		require.Equal(t, `timefence: bad.csv:3: column "clicks": expected an int64, got "abc"`, c.fail("write", "user_stats", bad))
		other := c.write("other.csv", "user_id,event_timestamp,likes\n1,2024-01-01T00:00:00Z,3\n")
		require.Equal(t, `timefence: other.csv: column "likes" is not a join key (user_id), the event time column (event_timestamp) or a feature of user_stats (clicks, spend, country)`,
			c.fail("write", "user_stats", other))

		changed := c.write("changed.yaml", strings.Replace(cliDefinitions, "{name: clicks, type: int64}", "{name: clicks, type: string}", 1))
		require.Regexp(t, `^timefence: changed.yaml:5: schema mismatch: feature view "user_stats": feature "clicks" cannot change type from int64 to string \(only int32 to int64, float to double, and their lists, widen\); .*; nothing was applied$`, c.fail("apply", changed))

		// All or nothing: with one refused definition, the new entity and
		// the new view before it are not created either.
		mixedText := `entities:
  - name: merchant
    join_keys: [{name: merchant_id, type: string}]
feature_views:
  - name: sales
    entity: merchant
    features: [{name: revenue, type: double}]
  - name: user_stats
    entity: user
    features: [{name: clicks, type: string}]
  - name: orphan
    entity: nobody
    features: [{name: x, type: int64}]
`
		mixed := c.write("mixed.yaml", mixedText)
		msg := c.fail("apply", mixed)
		require.Contains(t, msg, "timefence: 2 definitions refused: mixed.yaml:8: schema mismatch: ")
		require.Contains(t, msg, `; mixed.yaml:11: feature view "orphan": unknown entity "nobody"; nothing was applied`)
		res := c.run("apply", "--dry-run", mixed)
		require.Equal(t, 1, res.code, res.stderr)
		require.Regexp(t, `(?m)^entity +merchant +would create +1$`, res.stdout)
		require.Regexp(t, `(?m)^feature view +sales +would create +1$`, res.stdout)
		require.Regexp(t, `(?m)^feature view +user_stats +refused +-$`, res.stdout)
		require.Contains(t, res.stdout, "\nmixed.yaml:11: feature view \"orphan\": unknown entity \"nobody\"\n")
		require.Equal(t, "timefence: 2 definitions would be refused; nothing was applied\n", res.stderr)
		require.Contains(t, c.fail("get", "--features", "sales", "--key", "merchant_id=m1"), "sales", "the view was not created")

		// A dry run of a file that applies shows the plan and applies nothing.
		fine := c.write("fine.yaml", strings.SplitN(mixedText, "  - name: user_stats", 2)[0])
		out := c.ok("apply", "--dry-run", fine)
		require.Regexp(t, `(?m)^feature view +sales +would create +1$`, out)
		require.Contains(t, out, "dry run: nothing was applied")
		require.Regexp(t, `(?m)^feature view +sales +created +1$`, c.ok("apply", fine))
		require.Regexp(t, `(?m)^feature view +sales +unchanged +1$`, c.ok("apply", "--dry-run", fine))

		badDefs := c.write("bad.yaml", strings.Replace(cliDefinitions, "type: double", "type: integer", 1))
		golden(t, "apply_error", c.fail("apply", badDefs)+"\n")
		require.Equal(t, "timefence: apply: expected one definitions file; run 'timefence apply --help' for help", c.fail("apply"))
	})

	t.Run("examples", func(t *testing.T) {
		defs, err := filepath.Abs("../../examples/definitions.yaml")
		require.NoError(t, err)
		csv, err := filepath.Abs("../../examples/user_stats.csv")
		require.NoError(t, err)
		require.Regexp(t, `(?m)^feature view +store_sales +created +1$`, c.ok("apply", defs))
		require.Contains(t, c.ok("write", "user_stats", csv), "wrote 7 rows to user_stats")
	})
}

func TestHelp(t *testing.T) {
	c := &cli{t: t, dir: t.TempDir()}
	golden(t, "usage", c.ok("--help"))
	require.Equal(t, c.ok("--help"), c.ok("help"))
	res := c.run("join", "-h")
	require.Equal(t, 0, res.code)
	require.Empty(t, res.stderr)
	golden(t, "join_help", res.stdout)
	for _, verb := range []string{"apply", "write", "split create", "split list", "export", "get", "stats", "schema", "quickstart", "token create", "serve"} {
		res := c.run(append(strings.Fields(verb), "-h")...)
		require.Equal(t, 0, res.code, verb)
		require.Contains(t, res.stdout, "timefence "+verb, verb)
		require.Contains(t, res.stdout, "Examples:", verb)
	}
	require.Equal(t, "timefence "+Version+"\n", c.ok("--version"))
	require.Equal(t, "timefence "+Version+"\n", c.ok("version"))
	schema := c.ok("schema")
	want, err := os.ReadFile("../../schema/definitions.schema.json")
	require.NoError(t, err)
	require.Equal(t, string(want), schema)
}

// TestUsageErrors checks that a misused command exits with status 2 and
// says what is wrong in one line on stderr.
func TestUsageErrors(t *testing.T) {
	c := &cli{t: t, dir: t.TempDir()}
	bare := c.run()
	require.Equal(t, 2, bare.code)
	require.Empty(t, bare.stdout)
	require.Contains(t, bare.stderr, "Usage:")
	require.True(t, strings.HasSuffix(bare.stderr, "timefence: expected a command\n"), bare.stderr)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"frobnicate"}, `timefence: unknown command "frobnicate"; run 'timefence --help' for the list`},
		{[]string{"apply"}, "timefence: apply: expected one definitions file; run 'timefence apply --help' for help"},
		{[]string{"write", "--nope", "v", "f.csv"}, "timefence: write: unknown flag: --nope; run 'timefence write --help' for help"},
		{[]string{"split", "rename"}, `timefence: split: unknown subcommand "rename"; expected create or list; run 'timefence split --help' for help`},
		{[]string{"get", "--key", "user_id=1"}, "timefence: get: --features is required; run 'timefence get --help' for help"},
		{[]string{"write", "--available-at-column", "av", "v", "f.csv"}, "timefence: write: --available-at-column needs --backfill; run 'timefence write --help' for help"},
		{[]string{"token", "create", "--name", "x"}, "timefence: token create: --name and --role are required; run 'timefence token create --help' for help"},
	} {
		res := c.run(tc.args...)
		require.Equal(t, 2, res.code, tc.args)
		require.Empty(t, res.stdout, tc.args)
		require.Equal(t, tc.want+"\n", res.stderr, tc.args)
	}
	// A failure that is not a misuse exits with status 1.
	res := c.run("apply", "missing.yaml")
	require.Equal(t, 1, res.code)
	require.Equal(t, "timefence: file missing.yaml does not exist\n", res.stderr)
}

// writeParquet writes versions with the event time column "ts", in
// microseconds as pandas writes it, and no spend column.
func writeParquet(t *testing.T, path string, vs []version) {
	t.Helper()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "user_id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}},
		{Name: "clicks", Type: arrow.PrimitiveTypes.Int64},
		{Name: "country", Type: arrow.BinaryTypes.String},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for _, v := range vs {
		b.Field(0).(*array.Int64Builder).Append(v.user)
		b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(v.event.UnixMicro()))
		b.Field(2).(*array.Int64Builder).Append(v.clicks)
		b.Field(3).(*array.StringBuilder).Append(v.country)
	}
	rec := b.NewRecord()
	defer rec.Release()
	f, err := os.Create(path)
	require.NoError(t, err)
	w, err := pqarrow.NewFileWriter(schema, f, parquet.NewWriterProperties(), pqarrow.DefaultWriterProps())
	require.NoError(t, err)
	require.NoError(t, w.Write(rec))
	require.NoError(t, w.Close())
}

// readParquet reads a Parquet file into rows of Go values: int64, float64,
// string, bool, time.Time, or nil for null.
func readParquet(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	tbl, err := pqarrow.ReadTable(context.Background(), f, parquet.NewReaderProperties(nil), pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	require.NoError(t, err)
	defer tbl.Release()
	rows := make([]map[string]any, tbl.NumRows())
	for i := range rows {
		rows[i] = map[string]any{}
	}
	for c := range int(tbl.NumCols()) {
		col := tbl.Column(c)
		i := 0
		for _, chunk := range col.Data().Chunks() {
			for j := range chunk.Len() {
				rows[i][col.Name()] = cellValue(chunk, j)
				i++
			}
		}
	}
	return rows
}

func cellValue(a arrow.Array, i int) any {
	if a.IsNull(i) {
		return nil
	}
	switch a := a.(type) {
	case *array.Int64:
		return a.Value(i)
	case *array.Float64:
		return a.Value(i)
	case *array.String:
		return a.Value(i)
	case *array.Boolean:
		return a.Value(i)
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		return a.Value(i).ToTime(unit).UTC()
	}
	return fmt.Sprintf("%v", a.GetOneForMarshal(i))
}

// TestCLIWithTLSAndToken talks to a server that requires mutual TLS and
// tokens made by 'timefence token create', and checks that each way of
// failing to connect or authenticate is told apart in one sentence.
func TestCLIWithTLSAndToken(t *testing.T) {
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "timefence"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	kder, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	certFile, keyFile, authFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), filepath.Join(dir, "auth.json")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600))

	c := &cli{t: t, dir: dir}
	admin := c.run("token", "create", "--name", "ops", "--role", "admin", "--add-to", authFile)
	require.Equal(t, 0, admin.code, admin.stderr)
	require.Equal(t, "added credential \"ops\" (admin) to "+authFile+"; the token above is shown only once\n", admin.stderr)
	adminToken := strings.TrimSpace(admin.stdout)
	reader := strings.TrimSpace(c.ok("token", "create", "--name", "dashboard", "--role", "reader", "--add-to", authFile))
	require.NotEqual(t, adminToken, reader)
	require.Regexp(t, `duplicate|already has a credential named "ops"`, c.fail("token", "create", "--name", "ops", "--role", "reader", "--add-to", authFile))
	require.Equal(t, `timefence: (x): only a trainer is scoped to splits`, c.fail("token", "create", "--name", "x", "--role", "reader", "--split", "train"))
	notAuth := c.write("notes.json", "not json\n")
	require.Regexp(t, `^timefence: notes.json is not an auth file: `, c.fail("token", "create", "--name", "x", "--role", "reader", "--add-to", notAuth))
	require.Equal(t, "not json\n", mustRead(t, filepath.Join(dir, notAuth)), "a refused token writes nothing")
	printed := c.run("token", "create", "--name", "nightly", "--role", "trainer", "--split", "train,test")
	require.Equal(t, 0, printed.code)
	require.Contains(t, printed.stderr, `"role":"trainer","splits":["train","test"]}`)

	addr := freeAddr(t)
	srv := exec.Command(binary, "serve", "--data", filepath.Join(dir, "data"), "--addr", addr, "--log-level", "error",
		"--tls-cert", certFile, "--tls-key", keyFile, "--tls-client-ca", certFile, "--auth-file", authFile)
	srv.Stderr = os.Stderr
	require.NoError(t, srv.Start())
	defer func() { _ = srv.Process.Signal(syscall.SIGTERM); _ = srv.Wait() }()

	c.addr = "grpcs://" + addr
	mtls := []string{"--tls-ca", certFile, "--tls-cert", certFile, "--tls-key", keyFile}
	as := func(token string, args ...string) []string { return append(append(args, mtls...), "--token", token) }
	defs := c.write("defs.yaml", cliDefinitions)
	deadline := time.Now().Add(20 * time.Second)
	for c.run(as(adminToken, "apply", defs)...).code != 0 {
		require.True(t, time.Now().Before(deadline), "the TLS server did not come up")
		time.Sleep(50 * time.Millisecond)
	}
	require.Contains(t, c.ok(as(reader, "split", "list")...), "no splits yet")
	require.Equal(t, `timefence: permission denied: credential "dashboard" (reader) may not call /timefence.v1.RegistryService/CreateSplit`,
		c.fail(as(reader, "split", "create", "s", "--end", "2024-01-01T00:00:00Z")...))
	require.Equal(t, "timefence: the server at "+addr+" did not accept the token (unknown credential); check --token or TIMEFENCE_TOKEN",
		c.fail(as("wrong", "split", "list")...))
	require.Equal(t, "timefence: the server at "+addr+" requires a token; pass --token or set TIMEFENCE_TOKEN",
		c.fail(append([]string{"split", "list"}, mtls...)...))
	require.Equal(t, "timefence: the server at "+addr+" requires a client certificate (mutual TLS); pass --tls-cert and --tls-key",
		c.fail("split", "list", "--tls-ca", certFile, "--token", reader))
	require.Equal(t, "timefence: the server at "+addr+" has a certificate this client does not trust; pass its CA with --tls-ca",
		c.fail("split", "list", "--token", reader))
	c.addr = addr
	require.Equal(t, "timefence: the server at "+addr+" closed the connection; if it serves TLS, pass --tls or --tls-ca, or use grpcs://",
		c.fail("split", "list", "--token", reader))
	c.addr = "http://" + addr
	require.Equal(t, `timefence: server address "http://`+addr+`": the scheme must be grpc:// or grpcs://`, c.fail("split", "list"))
}

// TestShuttingDownServer checks the sentence for a server that reports
// NOT_SERVING, as timefence's does once a graceful stop has begun.
func TestShuttingDownServer(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	g := grpc.NewServer()
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	healthpb.RegisterHealthServer(g, hs)
	go func() { _ = g.Serve(lis) }()
	defer g.Stop()
	var stderr bytes.Buffer
	err = run(context.Background(), []string{"split", "list", "--addr", lis.Addr().String()}, io.Discard, &stderr)
	require.EqualError(t, err, "the server at "+lis.Addr().String()+" is shutting down; retry once it is back")
}
