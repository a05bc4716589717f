package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/timefence/timefence/internal/filescan"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/stretchr/testify/require"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
	"github.com/timefence/timefence/client"
	"github.com/timefence/timefence/storage"
)

// The fault matrix damages copies of a real server's data directory the way
// disks, kills and operators do, starts the real binary on each, and records
// what happened: refused at start (and then restored from a backup),
// recovered, or, for a full disk, writes refused. In every case the data
// lost must be 0: a start that is not refused serves every acknowledged
// batch, value for value.
//
//	TIMEFENCE_FAULT_REPORT=report.md go test ./cmd/timefence -run FaultMatrix -v

const (
	faultBatches   = 24
	faultBatchRows = 300
)

// faultTable is batch id's rows: item ids id*1e6+r, the batch id, and a pad
// that fills table blocks.
func faultTable(id int64, rows, padBytes int) array.RecordReader {
	schema := arrow.NewSchema([]arrow.Field{{Name: "item_id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "event_timestamp", Type: &arrow.TimestampType{Unit: arrow.Nanosecond}},
		{Name: "batch", Type: arrow.PrimitiveTypes.Int64}, {Name: "pad", Type: arrow.BinaryTypes.String}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	now := arrow.Timestamp(time.Now().UnixNano())
	for r := range rows {
		b.Field(0).(*array.Int64Builder).Append(id*1_000_000 + int64(r))
		b.Field(1).(*array.TimestampBuilder).Append(now)
		b.Field(2).(*array.Int64Builder).Append(id)
		b.Field(3).(*array.StringBuilder).Append(padFor(id, r, padBytes))
	}
	rec := b.NewRecord()
	rr, _ := array.NewRecordReader(schema, []arrow.Record{rec})
	return rr
}

func padFor(id int64, r, n int) string {
	s := fmt.Sprintf("%d.%d|", id, r)
	return strings.Repeat(s, n/len(s)+1)[:n]
}

func defineFaultView(t *testing.T, c *client.Client) {
	ctx := context.Background()
	_, err := c.ApplyEntity(ctx, &timefencev1.Entity{Name: "item", JoinKeys: []*timefencev1.JoinKey{{Name: "item_id", Type: timefencev1.ValueType_VALUE_TYPE_INT64}}})
	require.NoError(t, err)
	_, err = c.ApplyFeatureView(ctx, &timefencev1.FeatureView{Name: "v", Entity: "item", Features: []*timefencev1.Feature{
		{Name: "batch", Type: timefencev1.ValueType_VALUE_TYPE_INT64}, {Name: "pad", Type: timefencev1.ValueType_VALUE_TYPE_STRING}}})
	require.NoError(t, err)
	_, err = c.CreateSplit(ctx, "all", time.Unix(0, 0), time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC))
	require.NoError(t, err)
}

// countLost exports the view and counts the acknowledged batches that are
// not there whole and right: a missing row or a wrong value loses its batch.
func countLost(t *testing.T, c *client.Client, acked map[int64]int, padBytes int) int {
	t.Helper()
	good := map[int64]int{}
	_, err := c.Export(context.Background(), "all", "v", func(rec arrow.Record) error {
		items := rec.Column(0).(*array.Int64)
		batch := rec.Column(int(rec.NumCols()) - 2).(*array.Int64)
		pad := rec.Column(int(rec.NumCols()) - 1).(*array.String)
		for i := range items.Len() {
			id, r := items.Value(i)/1_000_000, int(items.Value(i)%1_000_000)
			if batch.Value(i) == id && pad.Value(i) == padFor(id, r, padBytes) {
				good[id]++
			}
		}
		return nil
	}, client.WithFeatures("batch", "pad"))
	require.NoError(t, err)
	lost := 0
	for id, n := range acked {
		if good[id] != n {
			lost++
		}
	}
	return lost
}

// faultImage runs the server on a new directory, writes the batches, takes a
// backup, and stops it: with SIGTERM (a clean stop, Badger's data in table
// files) or SIGKILL (its last writes only in the write-ahead log). With big,
// the last batch is of 20,000 rows, whose chunks live in the value log.
func faultImage(t *testing.T, dir, backupDir string, kill, big bool) (backup string, acked map[int64]int) {
	addr := freeAddr(t)
	srv := startBinary(t, dir, addr, "--flush-idle", "1h")
	c, err := client.Dial(addr)
	require.NoError(t, err)
	defer c.Close()
	defineFaultView(t, c)
	acked = map[int64]int{}
	for id := int64(1); id <= faultBatches; id++ {
		_, err := c.WriteTable(context.Background(), "v", faultTable(id, faultBatchRows, 64), client.WithBatchID(fmt.Sprint(id)))
		require.NoError(t, err)
		acked[id] = faultBatchRows
	}
	if big {
		_, err := c.WriteTable(context.Background(), "v", faultTable(faultBatches+1, 20_000, 64), client.WithBatchID("big"))
		require.NoError(t, err)
		acked[faultBatches+1] = 20_000
	}
	backup = filepath.Join(backupDir, "full.tfbackup")
	f, err := os.Create(backup)
	require.NoError(t, err)
	_, err = c.Backup(context.Background(), f, nil)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	sig := syscall.SIGTERM
	if kill {
		sig = syscall.SIGKILL
	}
	require.NoError(t, srv.Process.Signal(sig))
	_ = srv.Wait()
	return backup, acked
}

// tryStart starts the binary on dir. It returns the running server, or nil
// and the last line the server wrote when it exited instead.
func tryStart(t *testing.T, dir, addr string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(binary, "serve", "--data", dir, "--addr", addr, "--log-level", "warn")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	c, err := client.Dial(addr)
	require.NoError(t, err)
	defer c.Close()
	hc := healthpb.NewHealthClient(c.Conn())
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-exited:
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			return nil, lines[len(lines)-1]
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{})
		cancel()
		if err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			t.Cleanup(func() { _ = cmd.Process.Signal(syscall.SIGTERM); <-exited })
			return cmd, ""
		}
		require.True(t, time.Now().Before(deadline), "the server neither served nor exited")
		time.Sleep(20 * time.Millisecond)
	}
}

type faultRow struct {
	id, fault, outcome string
	lost               int
	message            string
}

// flipAt flips n bytes at frac of the written part of path (a log may be
// preallocated far past it), in place.
func flipAt(t *testing.T, path string, frac float64, n int) {
	end, err := filescan.WrittenLen(path)
	require.NoError(t, err)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	require.NoError(t, err)
	defer f.Close()
	off := int64(frac * float64(end))
	b := make([]byte, n)
	_, err = f.ReadAt(b, off)
	require.NoError(t, err)
	for i := range b {
		b[i] ^= 0x5a
	}
	_, err = f.WriteAt(b, off)
	require.NoError(t, err)
}

func one(t *testing.T, dir, pattern string) string {
	m, err := filepath.Glob(filepath.Join(dir, pattern))
	require.NoError(t, err)
	require.NotEmpty(t, m, "no %s in %s", pattern, dir)
	return m[0]
}

func TestFaultMatrix(t *testing.T) {
	type image struct {
		dir, backup string
		acked       map[int64]int
	}
	images := map[[2]bool]image{} // by kill, big
	for _, k := range [][2]bool{{false, false}, {true, false}, {true, true}} {
		im := image{dir: t.TempDir()}
		im.backup, im.acked = faultImage(t, im.dir, t.TempDir(), k[0], k[1])
		images[k] = im
	}
	cases := []struct {
		id, fault string
		kill, big bool
		damage    func(t *testing.T, dir string)
	}{
		{"X1", "1 flipped byte in a table (SST) data block", false, false, func(t *testing.T, d string) { flipAt(t, one(t, d, "*.sst"), 0.4, 1) }},
		{"X2", "16 flipped bytes in a table block", false, false, func(t *testing.T, d string) { flipAt(t, one(t, d, "*.sst"), 0.6, 16) }},
		{"X3", "table truncated to half", false, false, func(t *testing.T, d string) {
			p := one(t, d, "*.sst")
			fi, err := os.Stat(p)
			require.NoError(t, err)
			require.NoError(t, os.Truncate(p, fi.Size()/2))
		}},
		{"X4", "MANIFEST deleted", false, false, func(t *testing.T, d string) { require.NoError(t, os.Remove(filepath.Join(d, "MANIFEST"))) }},
		{"X4", "MANIFEST truncated", false, false, func(t *testing.T, d string) { require.NoError(t, os.Truncate(filepath.Join(d, "MANIFEST"), 8)) }},
		{"X5", "1 flipped byte in the write-ahead log (.mem)", true, false, func(t *testing.T, d string) { flipAt(t, one(t, d, "*.mem"), 0.5, 1) }},
		{"X5", "write-ahead log truncated", true, false, func(t *testing.T, d string) {
			p := one(t, d, "*.mem")
			end, err := filescan.WrittenLen(p)
			require.NoError(t, err)
			require.NoError(t, os.Truncate(p, end/2))
		}},
		{"V1", "1 flipped byte in the value log (.vlog)", false, false, func(t *testing.T, d string) { flipAt(t, one(t, d, "*.vlog"), 0.5, 1) }},
		{"V2", "1 flipped byte in a chunk of a 20,000-row batch in the value log, before it reached a run file", true, true, func(t *testing.T, d string) {
			flipAt(t, one(t, d, "*.vlog"), 0.5, 1)
		}},
		{"C1", "0-byte memtable file left by a kill during open", true, false, func(t *testing.T, d string) {
			require.NoError(t, os.WriteFile(filepath.Join(d, "00099.mem"), nil, 0o644))
		}},
		{"R1", "1 flipped byte in a columnar run file", false, false, func(t *testing.T, d string) { flipAt(t, one(t, d, "history/*/*.run"), 0.5, 1) }},
		{"R2", "columnar run file truncated", false, false, func(t *testing.T, d string) {
			require.NoError(t, os.Truncate(one(t, d, "history/*/*.run"), 100))
		}},
		{"A1", "one slot of the acknowledged-writes record torn", false, false, func(t *testing.T, d string) {
			flipAt(t, filepath.Join(d, "ACKNOWLEDGED"), 0.1, 4)
		}},
		{"A2", "acknowledged-writes record of another store", false, false, func(t *testing.T, d string) {
			require.NoError(t, os.WriteFile(filepath.Join(d, "ACKNOWLEDGED"), otherAckRecord(t), 0o644))
		}},
	}
	// The faults are tried at once, each on its own copy of an image.
	rows := make([]faultRow, len(cases))
	t.Run("faults", func(t *testing.T) {
		for i, tc := range cases {
			t.Run(tc.id+" "+tc.fault, func(t *testing.T) {
				t.Parallel()
				im := images[[2]bool{tc.kill, tc.big}]
				src, backup, acked := im.dir, im.backup, im.acked
				dir := t.TempDir()
				// cp keeps the preallocated log files sparse, so copies are cheap.
				out, err := exec.Command("cp", "-a", "--sparse=always", src+"/.", dir).CombinedOutput()
				require.NoError(t, err, "%s", out)
				tc.damage(t, dir)
				addr := freeAddr(t)
				row := faultRow{id: tc.id, fault: tc.fault}
				srv, refusal := tryStart(t, dir, addr)
				if srv == nil {
					require.Contains(t, refusal, "data loss", "a refusal says what was lost")
					require.Contains(t, refusal, "timefence restore", "a refusal says how to recover")
					_, again := tryStart(t, dir, addr)
					require.Equal(t, refusal, again, "the next start refuses the same way")
					// The way out: restore the latest backup into a new directory.
					restored := filepath.Join(t.TempDir(), "restored")
					_, err := storage.Restore(restored, []string{backup})
					require.NoError(t, err)
					_, after := tryStart(t, restored, addr)
					require.Empty(t, after, "the restored store starts")
					row.outcome, row.message = "refused at start; restored from backup", strings.ReplaceAll(strings.TrimPrefix(refusal, "timefence: "), dir, "<data>")
				} else {
					row.outcome = "recovered"
				}
				c, err := client.Dial(addr)
				require.NoError(t, err)
				defer c.Close()
				row.lost = countLost(t, c, acked, 64)
				require.Zero(t, row.lost, "acknowledged batches lost")
				rows[i] = row
			})
		}
	})
	rows = append(rows, diskFullRow(t))
	report(t, rows, faultBatches)
}

// otherAckRecord returns the acknowledged-writes record of a new store.
func otherAckRecord(t *testing.T) []byte {
	dir := t.TempDir()
	st, err := storage.Open(storage.DefaultOptions(dir))
	require.NoError(t, err)
	require.NoError(t, st.Close())
	b, err := os.ReadFile(filepath.Join(dir, "ACKNOWLEDGED"))
	require.NoError(t, err)
	return b
}

// diskFullRow runs the server on a small tmpfs, writes until it refuses,
// checks every acknowledged batch, restarts it on the full disk, and resumes
// writing after the disk grows.
func diskFullRow(t *testing.T) faultRow {
	row := faultRow{id: "D1", fault: "data directory on a 192 MiB tmpfs, written until full"}
	if os.Geteuid() != 0 {
		row.outcome = "not run: mounting a tmpfs needs root"
		return row
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=192m", "tmpfs", dir).CombinedOutput(); err != nil {
		row.outcome = fmt.Sprintf("not run: cannot mount a tmpfs: %v: %s", err, bytes.TrimSpace(out))
		return row
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	addr := freeAddr(t)
	srv := startBinary(t, dir, addr, "--reserve", "128MiB", "--flush-idle", "100ms")
	c, err := client.Dial(addr)
	require.NoError(t, err)
	defer c.Close()
	defineFaultView(t, c)
	acked := map[int64]int{}
	var refused error
	for id := int64(1); id <= 100 && refused == nil; id++ {
		if _, refused = c.WriteTable(context.Background(), "v", faultTable(id, 2000, 2048), client.WithBatchID(fmt.Sprint(id))); refused == nil {
			acked[id] = 2000
		}
	}
	var ce *client.Error
	require.True(t, errors.As(refused, &ce), "%v", refused)
	require.Equal(t, "STORAGE_FULL", ce.Reason)
	require.Contains(t, ce.Message, dir)
	row.message = strings.ReplaceAll(ce.Message, dir, "<data>")
	require.NotEmpty(t, acked)
	row.lost = countLost(t, c, acked, 2048)

	// A clean stop and a start on the full disk.
	require.NoError(t, srv.Process.Signal(syscall.SIGTERM))
	require.NoError(t, srv.Wait())
	srv = startBinary(t, dir, addr, "--reserve", "128MiB")
	defer func() { _ = srv.Process.Signal(syscall.SIGTERM); _ = srv.Wait() }()
	row.lost = max(row.lost, countLost(t, c, acked, 2048))
	out, err := exec.Command("mount", "-o", "remount,size=512m", dir).CombinedOutput()
	require.NoError(t, err, "%s", out)
	_, err = c.WriteTable(context.Background(), "v", faultTable(1000, 10, 2048), client.WithBatchID("after"))
	require.NoError(t, err, "writes resume once space returns")
	require.Zero(t, row.lost)
	row.outcome = fmt.Sprintf("writes refused (STORAGE_FULL) after %d batches; restarted on the full disk; resumed after it grew", len(acked))
	return row
}

// report logs the matrix and, with TIMEFENCE_FAULT_REPORT, writes it as a
// Markdown table.
func report(t *testing.T, rows []faultRow, batches int) {
	var b strings.Builder
	fmt.Fprintf(&b, "Each fault on a copy of a store holding %d acknowledged batches of %d rows (%s).\n\n", batches, faultBatchRows, time.Now().UTC().Format("2006-01-02"))
	b.WriteString("| # | fault | outcome | acknowledged batches lost | what the server said |\n|---|---|---|---|---|\n")
	refusedN, recoveredN, lostN := 0, 0, 0
	for _, r := range rows {
		switch {
		case strings.HasPrefix(r.outcome, "refused"):
			refusedN++
		case r.outcome == "recovered":
			recoveredN++
		}
		lostN += r.lost
		msg := []rune(r.message)
		if len(msg) > 150 {
			msg = append(msg[:150], '…')
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %d | %s |\n", r.id, r.fault, r.outcome, r.lost, strings.ReplaceAll(string(msg), "|", "\\|"))
	}
	fmt.Fprintf(&b, "\nFaults tried: %d. Refused at start: %d. Recovered: %d. Acknowledged batches lost: %d.\n", len(rows), refusedN, recoveredN, lostN)
	t.Log("\n" + b.String())
	if path := os.Getenv("TIMEFENCE_FAULT_REPORT"); path != "" {
		require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o644))
	}
}
