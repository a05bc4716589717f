package main

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestSkew logs lookups with `get --log` while live rows arrive, replays
// them with `skew` (0 mismatches), then backfills a version available before
// the lookups and finds it named as the cause.
func TestSkew(t *testing.T) {
	c := startCLIServer(t)
	c.ok("apply", c.exampleFile("definitions.yaml"))
	now := time.Now().UTC()
	row := func(user, clicks int, at time.Time) string {
		return fmt.Sprintf("%d,%s,%d,1.5,DE,true\n", user, at.Format(time.RFC3339Nano), clicks)
	}
	header := "user_id,event_timestamp,clicks,spend,country,is_subscriber\n"
	c.ok("write", "user_stats", c.write("live1.csv", header+row(1, 10, now.Add(-time.Minute))+row(2, 20, now.Add(-time.Minute))))
	out := c.ok("get", "--features", "user_stats:clicks", "--key", "user_id=1", "--key", "user_id=2", "--log", "--request-id", "checkout-1")
	require.Contains(t, out, "logged as request checkout-1")
	c.ok("write", "user_stats", c.write("live2.csv", header+row(1, 11, now.Add(-30*time.Second))))
	c.ok("get", "--features", "user_stats", "--key", "user_id=1", "--key", "user_id=3", "--log")
	require.NotContains(t, c.ok("get", "--features", "user_stats", "--key", "user_id=1"), "logged as request")

	// The log is stored in the background: wait for both lookups.
	var report string
	for deadline := time.Now().Add(time.Minute); !strings.Contains(report, "replayed 2 lookups"); time.Sleep(50 * time.Millisecond) {
		require.True(t, time.Now().Before(deadline), "the lookups were not logged: %s", report)
		report = c.ok("skew", "--since", "1h")
	}
	require.Contains(t, report, "replayed 2 lookups (10 values) at watermark")
	require.Contains(t, report, ": 0 mismatches\n")
	require.Regexp(t, `user_stats:clicks\s+4\s+0`, report)

	// What was served, under a split up to now, as Parquet.
	c.ok("split", "create", "recent", "--start", now.Add(-time.Hour).Format(time.RFC3339), "--end", time.Now().UTC().Format(time.RFC3339Nano))
	require.Contains(t, c.ok("served", "--split", "recent", "--features", "user_stats:clicks", "-o", "served.parquet"),
		"wrote 4 rows of 2 logged lookups served under split recent to served.parquet")
	served := readParquet(t, c.dir+"/served.parquet")
	require.Len(t, served, 4)
	require.Equal(t, "checkout-1", served[0]["request_id"])
	require.Equal(t, []any{int64(2), int64(20)}, []any{served[1]["user_id"], served[1]["user_stats:clicks"]})
	require.Equal(t, int64(11), served[2]["user_stats:clicks"], "the second lookup read the second write")
	require.Nil(t, served[3]["user_stats:clicks"], "user 3 was not found")
	require.Contains(t, c.fail("served", "--split", "recent", "--features", "user_stats", "-o", "x.csv"), "name it *.parquet")

	// A backfill of user 2, available before the first lookup: training
	// would read 99 where production served 20.
	backfill := "user_id,event_timestamp,available_at,clicks,spend,country,is_subscriber\n" +
		fmt.Sprintf("2,%s,%s,99,1.5,DE,true\n", now.Add(-50*time.Second).Format(time.RFC3339Nano), now.Add(-40*time.Second).Format(time.RFC3339Nano))
	c.ok("write", "--backfill", "user_stats", c.write("late.csv", backfill))
	res := c.run("skew", "--since", "1h")
	require.Equal(t, 1, res.code, res.stderr)
	require.Equal(t, "timefence: 1 mismatch: training reads values production did not serve\n", res.stderr)
	require.Contains(t, res.stdout, "replayed 2 lookups (10 values)")
	require.Contains(t, res.stdout, "mismatch 1: request checkout-1, read at ")
	require.Contains(t, res.stdout, "row 1 (user_id=2), user_stats:clicks")
	require.Contains(t, res.stdout, "  served:   20 (present, event time ")
	require.Contains(t, res.stdout, "  replayed: 99 (present, event time ")
	require.Contains(t, res.stdout, ", backfilled)")
	require.Contains(t, res.stdout, "was backfilled after the lookup")

	// --until before the lookups replays none; JSON carries the same counts.
	require.Contains(t, c.ok("skew", "--until", "2h"), "replayed 0 lookups (0 values)")
	res = c.run("skew", "--json")
	require.Equal(t, 1, res.code)
	require.Contains(t, res.stdout, `"mismatches": "1"`)
	require.Contains(t, c.fail("skew", "--since", "yesterday"), "--since: invalid time")
}

// TestServingLogSurvivesKill: lookups the log has stored are kept across a
// kill -9 of the server; the store opens, verifies clean, and replays them.
func TestServingLogSurvivesKill(t *testing.T) {
	dir, addr := t.TempDir(), freeAddr(t)
	srv := startBinary(t, dir, addr, "--serving-log-rate", "1")
	t.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })
	c := &cli{t: t, dir: t.TempDir(), addr: addr}
	c.ok("apply", c.exampleFile("definitions.yaml"))
	c.ok("write", "--backfill", "user_stats", c.exampleFile("user_stats_history.csv"))
	for range 3 {
		require.Contains(t, c.ok("get", "--features", "user_stats", "--key", "user_id=1", "--key", "user_id=2"), "logged as request ")
	}
	// The report stores the queue first: the three lookups are on disk.
	require.Contains(t, c.ok("skew"), "replayed 3 lookups (24 values) at watermark")

	require.NoError(t, srv.Process.Kill())
	_ = srv.Wait()
	srv = startBinary(t, dir, addr)
	require.Regexp(t, `replayed 3 lookups \(24 values\) at watermark \d+: 0 mismatches`, c.ok("skew"))
	require.NoError(t, srv.Process.Signal(syscall.SIGTERM))
	require.NoError(t, srv.Wait())
	require.Contains(t, c.ok("verify", "--data", dir), "no problems")
}
