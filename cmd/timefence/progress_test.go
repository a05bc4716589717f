package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"

	"github.com/timefence/timefence/client"
	"github.com/timefence/timefence/internal/tableio"
)

func TestProgressIsSilentOffTerminals(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf, "writing", "rows", 10)
	p.add(5)
	p.stage("committing", "", 0)
	p.finish()
	p.finish()
	require.Empty(t, buf.String())
}

// TestProgressStages draws to a buffer, as on a terminal: each stage shows
// its label and its measure, and finishing clears the line.
func TestProgressStages(t *testing.T) {
	var buf bytes.Buffer
	p := &progress{w: &buf}
	p.stage("sending the spine", "rows", 4000)
	p.update(1000)
	require.Contains(t, buf.String(), "sending the spine")
	require.Contains(t, buf.String(), "25%")
	p.stage("joining", "", 0)
	p.add(0)
	require.Contains(t, buf.String(), "joining")
	p.stage("receiving", "bytes", 2_000_000)
	p.update(1_500_000)
	require.Contains(t, buf.String(), "75%")
	require.Contains(t, buf.String(), "1.5/2.0 MB")
	p.server(client.Progress{Phase: "joining", Unit: "lookups", Done: 5, Total: 10})
	require.Contains(t, buf.String(), "server: joining")
	require.Contains(t, buf.String(), "50%")
	require.True(t, p.inStage("server: joining"))
	p.server(client.Progress{Phase: "joining", Unit: "lookups", Done: 8, Total: 10})
	require.Contains(t, buf.String(), "80%")
	p.server(client.Progress{Phase: "syncing"})
	require.True(t, p.inStage("server: syncing"))
	p.finish()
	p.finish()
	require.Nil(t, p.bar)
}

// TestProgressWatchesATable checks that the bar advances as a table is
// read and moves to the next stage when reading ends.
func TestProgressWatchesATable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ids.csv")
	require.NoError(t, os.WriteFile(path, []byte("user_id\n1\n2\n"), 0o644))
	tbl, err := tableio.Open(context.Background(), path, func(string) (arrow.DataType, error) { return arrow.PrimitiveTypes.Int64, nil })
	require.NoError(t, err)
	defer tbl.Close()
	var buf bytes.Buffer
	p := &progress{w: &buf}
	p.stage("writing", tbl.Unit, tbl.Total)
	defer p.finish()
	p.watch(tbl, func() { p.stage("committing", "", 0) })
	require.True(t, tbl.Next())
	require.Contains(t, buf.String(), "writing")
	require.NotContains(t, buf.String(), "committing")
	require.False(t, tbl.Next())
	require.Contains(t, buf.String(), "committing")
}

func TestListFlagAndPlural(t *testing.T) {
	fs := pflag.NewFlagSet("write", pflag.ContinueOnError)
	var feats listFlag
	fs.Var(&feats, "features", "")
	require.NoError(t, fs.Parse([]string{"v", "--features", "a,b", "f.csv", "--features", "c", "--", "-x"}))
	require.Equal(t, []string{"v", "f.csv", "-x"}, fs.Args())
	require.Equal(t, listFlag{"a", "b", "c"}, feats)
	require.Equal(t, "1 row", plural(1, "row"))
	require.Equal(t, "2,048 rows", plural(int64(2048), "row"))
	require.Equal(t, "0 entities", plural(0, "entity"))
	require.Equal(t, "3 keys", plural(3, "key"))
	require.Equal(t, "2 anomalies", plural(2, "anomaly"))
}

func TestFormat(t *testing.T) {
	require.Equal(t, "1,234,567", count(1234567))
	require.Equal(t, "-1,000", count(-1000))
	require.Equal(t, "999", count(999))
	require.Equal(t, "4h31m", humanDuration(4*time.Hour+31*time.Minute))
	require.Equal(t, "2d7h", humanDuration(55*time.Hour))
	require.Equal(t, "[0.5, 1]", formatValue([]float32{0.5, 1}))
	var b bytes.Buffer
	tbl := newTable("name", "n").alignRight(1)
	tbl.add("a", "1,000")
	tbl.add("bbbbbb", "2")
	tbl.write(&b)
	require.Equal(t, "name        n\na       1,000\nbbbbbb      2\n", b.String())
}
