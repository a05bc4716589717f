package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// statuses runs 'timefence get --json' for user_stats:clicks and returns
// each key's status.
func (c *cli) statuses(extra ...string) []string {
	c.t.Helper()
	var out onlineOutput
	require.NoError(c.t, json.Unmarshal([]byte(c.ok(append([]string{"get", "--features", "user_stats:clicks", "--json"}, extra...)...)), &out))
	var st []string
	for _, r := range out.Rows {
		st = append(st, r.Values[0].Status)
	}
	return st
}

// TestDelete deletes entities with 'timefence delete' and reads them as
// not found; misuse is refused in one sentence.
func TestDelete(t *testing.T) {
	c := startCLIServer(t)
	c.ok("apply", c.exampleFile("definitions.yaml"))
	recent := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339) // within the view's ttl
	c.ok("write", "user_stats", c.write("recent.csv", "user_id,event_timestamp,clicks,is_subscriber\n"+
		"1,"+recent+",1,true\n2,"+recent+",2,false\n3,"+recent+",3,true\n"))
	keys := []string{"--key", "user_id=1", "--key", "user_id=2", "--key", "user_id=3"}
	require.Equal(t, []string{"present", "present", "present"}, c.statuses(keys...))

	out := c.ok("delete", "user_stats", "--key", "user_id=1", "--key", "user_id=2")
	require.Regexp(t, `^deleted 2 entities from user_stats as of \S+Z in one batch \(seq 4-5, available from \S+Z\)\n$`, out)
	require.Equal(t, []string{"not_found", "not_found", "present"}, c.statuses(keys...))

	// An event time, a batch id, a composite key in any order.
	require.Regexp(t, `^deleted 1 entity from user_stats as of 2024-01-04T00:00:00Z`,
		c.ok("delete", "--event-time", "2024-01-04T00:00:00Z", "--batch-id", "d1", "user_stats", "--key", "user_id=3"))
	require.Equal(t, "batch \"d1\" was already written; nothing was written again (1 deletion, seq 6-6)\n",
		c.ok("delete", "--event-time", "2024-01-04T00:00:00Z", "--batch-id", "d1", "user_stats", "--key", "user_id=3"))
	require.Equal(t, []string{"present"}, c.statuses("--key", "user_id=3"), "its version is later than the deletion")
	require.Contains(t, c.ok("delete", "store_sales", "--key", "region=eu,store_id=7"), "deleted 1 entity from store_sales")

	require.Equal(t, "timefence: delete: at least one --key is required; run 'timefence delete --help' for help", c.fail("delete", "user_stats"))
	require.Equal(t, 2, c.run("delete", "--key", "user_id=1").code)
	require.Equal(t, "timefence: --key store_id: user_stats is keyed by user_id (entity user); name each of them, and only them",
		c.fail("delete", "user_stats", "--key", "store_id=1"))
	require.Equal(t, "timefence: --key store_id: store_sales is keyed by store_id, region (entity store); name each of them, and only them",
		c.fail("delete", "store_sales", "--key", "store_id=1"))
	require.Equal(t, "timefence: --key user_id=x: user_id is an int64 key; expected an integer", c.fail("delete", "user_stats", "--key", "user_id=x"))
	require.Contains(t, c.fail("delete", "user_stats", "--key", "user_id=1", "--event-time", "yesterday"), "timefence: --event-time: ")
	require.Contains(t, c.fail("delete", "nope", "--key", "user_id=1"), `"nope"`)

	completions := strings.Split(strings.TrimSpace(c.ok("__complete", "delete", "")), "\n")
	require.Equal(t, []string{"store_sales", "user_stats"}, completions[:len(completions)-1], "view names, then the directive")

	help := c.ok("delete", "-h")
	require.Contains(t, help, "timefence delete")
	require.Contains(t, help, "Examples:")
}

// TestExportWritesBack: deletions loaded with a deleted column are read as
// such; 'timefence export' output, written back with 'timefence write
// --backfill' to another server, exports the same versions.
func TestExportWritesBack(t *testing.T) {
	c := startCLIServer(t)
	c.ok("apply", c.exampleFile("definitions.yaml"))
	c.ok("write", "--backfill", "user_stats", c.exampleFile("user_stats_history.csv"))
	deletions := c.write("deletions.csv", "user_id,event_timestamp,available_at,deleted,clicks,spend,country,is_subscriber\n"+
		"2,2024-01-25T00:00:00Z,2024-01-25T01:00:00Z,true,,,,\n"+
		"4,2024-01-20T00:00:00Z,2024-01-20T01:00:00Z,false,9,1.5,JP,true\n")
	require.Contains(t, c.ok("write", "--backfill", "user_stats", deletions), "wrote 2 rows")
	asOf := func(at string) []string {
		return c.statuses("--key", "user_id=2", "--key", "user_id=4", "--split", "train", "--as-of", at)
	}
	require.Equal(t, []string{"present", "present"}, asOf("2024-01-24T00:00:00Z"))
	require.Equal(t, []string{"not_found", "present"}, asOf("2024-01-26T00:00:00Z"))

	// A live write refuses the flags of history.
	flagged := c.write("flagged.csv", "user_id,event_timestamp,backfilled,clicks,is_subscriber\n1,2024-01-02T09:00:00Z,true,1,true\n")
	require.Equal(t, "timefence: flagged.csv: column \"backfilled\" belongs to history: load the file with --backfill "+
		"(every row is then flagged backfilled), or remove the column", c.fail("write", "user_stats", flagged))

	c.ok("export", "--split", "train", "--view", "user_stats", "-o", "a.parquet")
	other := startCLIServer(t)
	other.dir = c.dir
	other.ok("apply", c.exampleFile("definitions.yaml"))
	require.Contains(t, other.ok("write", "--backfill", "user_stats", "a.parquet"), "wrote 10 rows to user_stats in one backfill batch")
	other.ok("export", "--split", "train", "--view", "user_stats", "-o", "b.parquet")

	a, b := readParquet(t, filepath.Join(c.dir, "a.parquet")), readParquet(t, filepath.Join(c.dir, "b.parquet"))
	require.Len(t, a, 10)
	require.Equal(t, a, b, "the same versions: keys, times, deletions, flags and values")
	deleted := 0
	for _, r := range b {
		if r["deleted"] == true {
			deleted++
			require.Nil(t, r["is_subscriber"])
		}
	}
	require.Equal(t, 1, deleted)
}
