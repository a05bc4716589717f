package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/timefence/timefence/internal/filescan"

	"github.com/stretchr/testify/require"
)

// TestSandbox cuts a sandbox from a running server at split train, serves
// it, and checks that joins, exports and re-reads by dataset id give
// production's answers; that nothing after the cutoff is in its files; and
// that it refuses writes.
func TestSandbox(t *testing.T) {
	prod := startCLIServer(t)
	prod.ok("apply", prod.exampleFile("definitions.yaml"))
	prod.ok("write", "--backfill", "user_stats", prod.exampleFile("user_stats_history.csv"))
	// Markers: one version before the cutoff (2024-01-31T23:59:59Z), one
	// after; and a dataset recorded in production before the cut.
	markers := prod.write("markers.csv", "user_id,event_timestamp,available_at,clicks,country,is_subscriber\n"+
		"7,2024-01-10T00:00:00Z,2024-01-10T00:00:00Z,1,before-cutoff-9c2e,true\n"+
		"7,2024-02-05T00:00:00Z,2024-02-05T00:00:00Z,2,after-cutoff-9c2e,true\n")
	prod.ok("write", "--backfill", "user_stats", markers)
	spine := prod.exampleFile("spine.csv")
	prod.ok("join", "--split", "train", "--spine", spine, "--features", "user_stats", "-o", "prod-join.parquet")
	prod.ok("export", "--split", "train", "--view", "user_stats", "-o", "prod-export.parquet")
	recorded := manifestOf(t, filepath.Join(prod.dir, "prod-join.manifest.json"))

	out := prod.ok("sandbox", "create", "--split", "train", "-o", "sb")
	require.Contains(t, out, "at split train (cutoff 2024-01-31T23:59:59Z) into sb: 9 versions kept, 6 versions after the cutoff left out, splits [train], 2 datasets")
	require.Contains(t, out, "wrote 2 Parquet files under sb/parquet")
	dir := filepath.Join(prod.dir, "sb")

	// Served, it answers as production does under the split.
	addr := freeAddr(t)
	srv := startBinary(t, dir, addr)
	t.Cleanup(func() {
		_ = srv.Process.Signal(syscall.SIGTERM)
		_ = srv.Wait()
	})
	sb := &cli{t: t, dir: prod.dir, addr: addr}
	sb.ok("join", "--split", "train", "--spine", spine, "--features", "user_stats", "-o", "sb-join.parquet")
	sb.ok("export", "--split", "train", "--view", "user_stats", "-o", "sb-export.parquet")
	sb.ok("join", "--dataset-id", recorded["dataset_id"].(string), "--spine", spine, "-o", "sb-again.parquet")
	for _, pair := range [][2]string{{"prod-join", "sb-join"}, {"prod-export", "sb-export"}, {"prod-join", "sb-again"}, {"prod-export", "sb/parquet/user_stats"}} {
		a, b := filepath.Join(prod.dir, pair[0]), filepath.Join(prod.dir, pair[1])
		require.Equal(t, readParquet(t, a+".parquet"), readParquet(t, b+".parquet"), "%s and %s", pair[0], pair[1])
		require.Equal(t, manifestOf(t, a+".manifest.json")["output_checksum"], manifestOf(t, b+".manifest.json")["output_checksum"], "%s and %s", pair[0], pair[1])
	}
	require.Equal(t, recorded, manifestOf(t, filepath.Join(prod.dir, "sb-again.manifest.json")), "the recorded dataset, re-read")

	// Only the splits that end by the cutoff; no writes.
	require.Contains(t, sb.fail("export", "--split", "test", "--view", "user_stats", "-o", "x.parquet"), `unknown split "test"`)
	require.Contains(t, sb.fail("write", "--backfill", "user_stats", markers),
		`this store is a sandbox cut from store `)
	require.Contains(t, sb.fail("split", "create", "mine", "--end", "2024-01-15T00:00:00Z"), `at split "train" (cutoff 2024-01-31T23:59:59Z); it serves reads only`)

	// Nothing after the cutoff is in its files; what is before is.
	found, err := filescan.Contains(dir, "before-cutoff-9c2e", "after-cutoff-9c2e")
	require.NoError(t, err)
	require.True(t, found["before-cutoff-9c2e"], "the scan finds what is before the cutoff")
	require.False(t, found["after-cutoff-9c2e"], "nothing after the cutoff is in the sandbox's files")

	// Stopped, it verifies as a store does.
	require.NoError(t, srv.Process.Signal(syscall.SIGTERM))
	_ = srv.Wait()
	res := prod.run("verify", "--data", dir)
	require.Equal(t, 0, res.code, res.stdout+res.stderr)
	require.Contains(t, res.stdout, "9 versions in 2 feature views")

	// A sandbox goes into a new directory.
	require.Contains(t, prod.fail("sandbox", "create", "--split", "train", "-o", "sb"), "sb is not empty")
}

func manifestOf(t *testing.T, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(data, &m))
	return m
}
