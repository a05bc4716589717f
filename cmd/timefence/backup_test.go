package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestBackupRestoreVerify backs up a running server, full and then
// incremental while it is written, restores the chain into a new directory,
// serves it, and re-reads a recorded dataset byte for byte. verify passes on
// the restored store and refuses a damaged one with the way out.
func TestBackupRestoreVerify(t *testing.T) {
	dataDir := t.TempDir()
	addr := freeAddr(t)
	srv := startBinary(t, dataDir, addr)
	c := &cli{t: t, dir: t.TempDir(), addr: addr}
	t.Cleanup(func() { _ = srv.Process.Signal(syscall.SIGTERM); _ = srv.Wait() })

	c.ok("apply", c.write("defs.yaml", cliDefinitions))
	t0 := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	var csv bytes.Buffer
	csv.WriteString("user_id,event_timestamp,clicks,spend,country\n")
	for i := range 50 {
		fmt.Fprintf(&csv, "%d,%s,%d,%d.5,DE\n", i%7, t0.Add(time.Duration(i)*time.Minute).Format(time.RFC3339), i, i)
	}
	c.ok("write", "user_stats", c.write("b1.csv", csv.String()))
	time.Sleep(20 * time.Millisecond)
	cutoff := time.Now().UTC()
	c.ok("split", "create", "recent", "--start", t0.Format(time.RFC3339), "--end", cutoff.Format(time.RFC3339Nano))
	var spine bytes.Buffer
	spine.WriteString("user_id,event_timestamp\n")
	for i := range 7 {
		fmt.Fprintf(&spine, "%d,%s\n", i, cutoff.Format(time.RFC3339Nano))
	}
	c.write("spine.csv", spine.String())
	c.ok("join", "--split", "recent", "--spine", "spine.csv", "--features", "user_stats", "-o", "train.parquet")
	var manifest map[string]any
	data, err := os.ReadFile(filepath.Join(c.dir, "train.manifest.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &manifest))
	id := manifest["dataset_id"].(string)

	out := c.ok("backup", "full.tfbackup")
	require.Regexp(t, `^wrote full backup full\.tfbackup of store [0-9a-f]{32}: [0-9,]+ keys, watermark 50\n$`, out)
	require.Contains(t, c.fail("backup", "full.tfbackup"), "exists; backups are never overwritten")

	// Written after the full backup: only the incremental one holds it.
	c.ok("write", "user_stats", c.write("b2.csv", fmt.Sprintf("user_id,event_timestamp,clicks\n1,%s,1000\n", time.Now().UTC().Format(time.RFC3339Nano))))
	out = c.ok("backup", "--after", "full.tfbackup", "inc.tfbackup")
	require.Regexp(t, `^wrote incremental backup inc\.tfbackup of store [0-9a-f]{32}: [0-9,]+ keys, watermark 51\n$`, out)

	require.Contains(t, c.fail("backup", "--after", "missing.tfbackup", "x.tfbackup"), "missing.tfbackup: no such file")
	require.Contains(t, c.fail("restore", "full.tfbackup"), "expected --data NEW_DIR")
	require.Contains(t, c.fail("restore", "--data", filepath.Join(t.TempDir(), "r"), "defs.yaml"), "defs.yaml is damaged or incomplete")
	restored := filepath.Join(t.TempDir(), "restored")
	require.Contains(t, c.fail("restore", "--data", restored, "inc.tfbackup"), "is an incremental backup; restore starts from a full one")
	out = c.ok("restore", "--data", restored, "full.tfbackup", "inc.tfbackup")
	require.Contains(t, out, "from 2 backups: watermark 51, 51 versions, 1 dataset")
	require.Contains(t, out, "ok: no problems found")
	require.Contains(t, c.fail("restore", "--data", restored, "full.tfbackup"), "is not empty; restore into a new directory")

	// The restored store serves the dataset byte for byte.
	addr2 := freeAddr(t)
	srv2 := startBinary(t, restored, addr2)
	c2 := &cli{t: t, dir: c.dir, addr: addr2}
	c2.ok("join", "--dataset-id", id, "--spine", "spine.csv", "-o", "again.parquet")
	first, err := os.ReadFile(filepath.Join(c.dir, "train.parquet"))
	require.NoError(t, err)
	again, err := os.ReadFile(filepath.Join(c.dir, "again.parquet"))
	require.NoError(t, err)
	require.Equal(t, first, again, "a restored store re-reads a dataset byte for byte")
	require.NoError(t, srv2.Process.Signal(syscall.SIGTERM))
	require.NoError(t, srv2.Wait())

	out = c.ok("verify", "--data", restored)
	require.Regexp(t, `: 51 versions in 1 feature view, [0-9]+ run files?, 1 dataset, [0-9,]+ keys\nok: no problems found\n$`, out)
	require.NoError(t, os.Remove(filepath.Join(restored, "MANIFEST")))
	msg := c.fail("verify", "--data", restored)
	require.Contains(t, msg, "no MANIFEST")
	require.Contains(t, msg, "timefence restore")
	require.Contains(t, c.fail("verify", "--data", t.TempDir()), "is empty: there is no store to verify")
}
