package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// exampleFile copies a file of examples/ into the CLI's working directory.
func (c *cli) exampleFile(name string) string {
	c.t.Helper()
	data, err := os.ReadFile(filepath.Join("../../examples", name))
	require.NoError(c.t, err)
	return c.write(name, string(data))
}

// TestBackfillAndCutoffHints loads history the way a new user first does,
// as live writes, and checks that every training-side read then says why it
// finds nothing; then loads it with --backfill and checks that the rows
// carry the file's available_at, are flagged backfilled, and are read as
// production read them.
func TestBackfillAndCutoffHints(t *testing.T) {
	c := startCLIServer(t)
	c.ok("apply", c.exampleFile("definitions.yaml"))
	live, history, spine := c.exampleFile("user_stats.csv"), c.exampleFile("user_stats_history.csv"), c.exampleFile("spine.csv")

	// A file with available_at is refused as a live write, naming --backfill.
	require.Equal(t, "timefence: user_stats_history.csv: column \"available_at\" is assigned by the server on a live write; "+
		"remove it, or load the file as history with --backfill", c.fail("write", "user_stats", history))

	require.Contains(t, c.ok("write", "user_stats", live), "wrote 7 rows to user_stats in one batch")
	hint := "note: none of the 7 versions of user_stats was available by the cutoff of split train (2024-01-31T23:59:59Z); " +
		"rows loaded with 'timefence write' are available from when they were written, so load history with 'timefence write --backfill'\n"
	res := c.run("export", "--split", "train", "--view", "user_stats", "-o", "empty.parquet")
	require.Equal(t, 0, res.code, res.stderr)
	require.Contains(t, res.stdout, "exported 0 versions under split train")
	require.Equal(t, hint, res.stderr)
	res = c.run("join", "--split", "train", "--spine", spine, "--features", "user_stats", "-o", "empty_join.parquet")
	require.Equal(t, 0, res.code, res.stderr)
	require.Equal(t, hint, res.stderr)
	res = c.run("stats", "--split", "train", "--view", "user_stats")
	require.Equal(t, 0, res.code, res.stderr)
	require.Equal(t, "user_stats under split train: no data: no version was available within the split (view version 1, watermark 7)\n", res.stdout)
	require.Equal(t, hint, res.stderr)

	// A batch id makes the backfill idempotent, as a live write is.
	out := c.ok("write", "--backfill", "--batch-id", "history", "user_stats", history)
	require.Regexp(t, `^wrote 13 rows to user_stats in one backfill batch \(seq 8-20, available as of each row's available_at\)`, out)
	require.Contains(t, c.ok("write", "--backfill", "--batch-id", "history", "user_stats", history),
		`backfill batch "history" was already written; nothing was written again (13 rows, seq 8-20)`)

	res = c.run("join", "--split", "train", "--spine", spine, "--features", "user_stats", "-o", "train.parquet")
	require.Equal(t, 0, res.code, res.stderr)
	require.Empty(t, res.stderr, "no hint once the split holds data")
	require.Regexp(t, `backfilled values +16\n`, res.stdout, "4 rows × 4 features read from the backfill")
	rows := readParquet(t, filepath.Join(c.dir, "train.parquet"))
	require.Len(t, rows, 6)
	clicks := func(i int) any { return rows[i]["clicks"] }
	require.Equal(t, int64(7), clicks(0), "user 1 on Jan 4 reads the Jan 3 row")
	require.Equal(t, int64(6), clicks(1), "user 1 on Jan 31 reads Jan 27: the Jan 30 row arrived on Feb 2")
	require.Equal(t, int64(5), clicks(2))
	require.Equal(t, int64(1), clicks(3))
	require.Nil(t, clicks(4), "user 4 at 10:30 cannot see the row that became available at 11:00")
	require.Nil(t, clicks(5), "user 5 has no history")

	c.ok("export", "--split", "train", "--view", "user_stats", "-o", "history.parquet")
	exported := readParquet(t, filepath.Join(c.dir, "history.parquet"))
	require.Len(t, exported, 8, "the 8 history rows available by January's cutoff")
	for _, r := range exported {
		require.Equal(t, true, r["backfilled"])
		ev, av := r["event_timestamp"].(time.Time), r["available_at"].(time.Time)
		require.False(t, av.Before(ev))
		require.False(t, av.After(time.Date(2024, 1, 31, 23, 59, 59, 0, time.UTC)))
	}

	// A custom available-at column.
	renamed := c.write("renamed.csv", strings.Replace(mustRead(t, filepath.Join(c.dir, history)), "available_at", "landed", 1))
	out = c.ok("write", "--backfill", "--available-at-column", "landed", "user_stats", renamed)
	require.Contains(t, out, "available as of each row's landed")
}

// TestCompletion completes verbs and flags, and names from a running server.
func TestCompletion(t *testing.T) {
	c := startCLIServer(t)
	c.ok("apply", c.exampleFile("definitions.yaml"))
	complete := func(args ...string) []string {
		lines := strings.Split(strings.TrimSpace(c.ok(append([]string{"__complete"}, args...)...)), "\n")
		return lines[:len(lines)-1] // the last line is the directive
	}
	require.Subset(t, complete("st"), []string{"stats\tsummarise features within a split, or compare two splits", "status\tshow each view's columnar history: run files, versions in memory"})
	require.Contains(t, complete("join", "--sp"), "--split\tthe split the read runs under")
	require.Equal(t, []string{"store_sales", "user_stats"}, complete("write", ""))
	require.Equal(t, []string{"test", "train"}, complete("join", "--split", ""))
	require.Equal(t, []string{"train"}, complete("stats", "--compare", "tr"))
	require.Equal(t, []string{"user_stats:clicks", "user_stats:country"}, complete("get", "--features", "user_stats:c"))
	require.Equal(t, []string{"user_stats,store_sales", "user_stats,store_sales:revenue", "user_stats,store_sales:basket_embedding"},
		complete("join", "--features", "user_stats,store_"))
	require.Equal(t, []string{"revenue", "basket_embedding"}, complete("export", "--view", "store_sales", "--features", ""))
	require.Equal(t, []string{"admin", "writer", "reader", "trainer"}, complete("token", "create", "--role", ""))

	// No server: no names, and no error on the terminal.
	closed := &cli{t: t, dir: c.dir, addr: freeAddr(t)}
	res := closed.run("__complete", "write", "")
	require.Equal(t, 0, res.code)
	require.Equal(t, ":5\n", res.stdout[strings.LastIndex(strings.TrimSuffix(res.stdout, "\n"), "\n")+1:])

	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		require.Contains(t, c.ok("completion", shell), "timefence", shell)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(data)
}
