package server_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/ipc"
	"github.com/stretchr/testify/require"

	"github.com/timefence/timefence/client"
)

// ipcBytes serialises records as one Arrow IPC stream.
type ipcBytes struct {
	buf bytes.Buffer
	w   *ipc.Writer
}

func (b *ipcBytes) add(rec arrow.Record) error {
	if b.w == nil {
		b.w = ipc.NewWriter(&b.buf, ipc.WithSchema(rec.Schema()))
	}
	return b.w.Write(rec)
}

func (b *ipcBytes) bytes() []byte {
	if b.w != nil {
		b.w.Close()
	}
	return b.buf.Bytes()
}

func join(t *testing.T, c *client.Client, split string, spine []spineRow, opts ...client.Option) ([]byte, *client.JoinSummary) {
	t.Helper()
	var out ipcBytes
	var recs []arrow.Record
	for off := 0; off < len(spine); off += 100 {
		recs = append(recs, spineRecord(spine[off:min(off+100, len(spine))]))
	}
	sum, err := c.GetHistorical(context.Background(), split, joinFeatures, recordReader(recs...), out.add, opts...)
	require.NoError(t, err)
	return out.bytes(), sum
}

// TestDatasetReReadIsByteIdentical: after late data, backfills and new
// writes, re-reading a dataset id returns the same bytes; a fresh read does not.
func TestDatasetReReadIsByteIdentical(t *testing.T) {
	env := startServer(t)
	h := defineShop(t, env.client)
	rng := rand.New(rand.NewPCG(11, 12))
	writeHistory(t, env.client, h, rng, 60)
	ctx := context.Background()
	lo := h.versions[0].event - int64(time.Millisecond)
	cut := time.Now().Add(time.Hour).UnixNano()
	_, err := env.client.CreateSplit(ctx, "open", time.Unix(0, lo), time.Unix(0, cut))
	require.NoError(t, err)
	// Spine times lie up to now: a time later than now is refused. Row 0
	// reads user 1 when nothing of it is available yet; the backfill below
	// makes it available then, so a fresh read differs there.
	now := time.Now().UnixNano()
	spine := []spineRow{{user: 1, merchant: merchants[0], ts: lo + int64(time.Millisecond)}}
	for i := range 499 {
		spine = append(spine, spineRow{user: int64(rng.IntN(8)), merchant: merchants[rng.IntN(len(merchants))],
			ts: lo + rng.Int64N(now-lo), label: int64(i + 1)})
	}
	first, sum := join(t, env.client, "open", spine)
	require.NotEmpty(t, sum.DatasetID)

	// More history: live writes, late data and a backfill into the past.
	writeHistory(t, env.client, h, rng, 30)
	past := time.Unix(0, lo+int64(time.Millisecond))
	_, err = env.client.Write(ctx, "user_stats", []client.Row{{Key: []any{int64(1)}, EventTime: past, Values: []any{int64(-1), -1.0}, AvailableAt: past}}, client.Backfill())
	require.NoError(t, err)

	again, sum2 := join(t, env.client, "", spine, client.WithDatasetID(sum.DatasetID))
	require.Equal(t, sum.DatasetID, sum2.DatasetID)
	require.Equal(t, sum.Checksum, sum2.Checksum)
	require.True(t, bytes.Equal(first, again), "re-read of a dataset must be byte-identical")

	// After a full compaction, and after a restart that maps the run files
	// again and re-reads the rest from Badger: still the same bytes.
	require.NoError(t, env.store.Compact())
	again, _ = join(t, env.client, "", spine, client.WithDatasetID(sum.DatasetID))
	require.True(t, bytes.Equal(first, again), "re-read after compaction must be byte-identical")
	_, err = env.client.Write(ctx, "user_stats", []client.Row{{Key: []any{int64(2)}, EventTime: time.Unix(0, lo+int64(2*time.Millisecond)), Values: []any{int64(-2), -2.0}}})
	require.NoError(t, err)
	env.restart(t)
	require.NotZero(t, env.store.HistoryStatus()[0].FileRuns+env.store.HistoryStatus()[1].FileRuns)
	again, _ = join(t, env.client, "", spine, client.WithDatasetID(sum.DatasetID))
	require.True(t, bytes.Equal(first, again), "re-read after a restart must be byte-identical")

	fresh, sum3 := join(t, env.client, "open", spine)
	require.NotEqual(t, sum.DatasetID, sum3.DatasetID)
	require.False(t, bytes.Equal(first, fresh), "the later writes must change a fresh read, or the test proves nothing")

	m, err := env.client.GetManifest(ctx, sum.DatasetID)
	require.NoError(t, err)
	require.Equal(t, "historical", m.GetKind())
	require.Equal(t, int64(len(spine)), m.GetRows())
	require.Equal(t, sum.Checksum, m.GetOutputChecksum())
	require.Equal(t, int64(sum.Watermark), m.GetWatermark())
	require.Len(t, m.GetFeatures(), 6)
	require.Equal(t, "open", m.GetSplit().GetName())

	// Another spine under the same dataset id is refused.
	spine[0].label = 1000
	_, err = env.client.GetHistorical(ctx, "", nil, recordReader(spineRecord(spine)), func(arrow.Record) error { return nil }, client.WithDatasetID(sum.DatasetID))
	require.ErrorIs(t, err, client.ErrDatasetMismatch)
	_, err = env.client.GetManifest(ctx, "nope")
	require.ErrorIs(t, err, client.ErrUnknownDataset)
}

type exportedRow struct {
	key              string
	event, available int64
	deleted          bool
	values           string
}

func exportRows(t *testing.T, c *client.Client, split, view string) ([]exportedRow, []byte, *client.ExportSummary) {
	var rows []exportedRow
	var out ipcBytes
	sum, err := c.Export(context.Background(), split, view, func(rec arrow.Record) error {
		for i := range int(rec.NumRows()) {
			nk := int(rec.NumCols()) - 6
			var key []any
			for j := range nk {
				key = append(key, cell(rec.Column(j), i))
			}
			rows = append(rows, exportedRow{
				key:       fmt.Sprint(key...),
				event:     int64(rec.Column(nk).(*array.Timestamp).Value(i)),
				available: int64(rec.Column(nk + 1).(*array.Timestamp).Value(i)),
				deleted:   rec.Column(nk + 2).(*array.Boolean).Value(i),
				values:    fmt.Sprint(cell(rec.Column(nk+4), i), cell(rec.Column(nk+5), i)),
			})
		}
		return out.add(rec)
	})
	require.NoError(t, err)
	return rows, out.bytes(), sum
}

func TestExportMatchesOracle(t *testing.T) {
	env := startServer(t)
	h := defineShop(t, env.client)
	rng := rand.New(rand.NewPCG(13, 14))
	writeHistory(t, env.client, h, rng, 80)
	ctx := context.Background()
	start := h.versions[10].event
	cut := h.versions[len(h.versions)*2/3].available
	_, err := env.client.CreateSplit(ctx, "window", time.Unix(0, start), time.Unix(0, cut))
	require.NoError(t, err)
	for _, view := range []string{"user_stats", "merchant_risk"} {
		got, first, sum := exportRows(t, env.client, "window", view)
		var want []exportedRow
		for _, v := range h.versions {
			if v.view != view || v.event < start || v.event > cut || v.available < start || v.available > cut {
				continue
			}
			vals := []any{nil, nil}
			if !v.deleted {
				vals = v.values
			}
			want = append(want, exportedRow{key: v.key, event: v.event, available: v.available, deleted: v.deleted, values: fmt.Sprint(vals...)})
		}
		sortRows := func(r []exportedRow) {
			sort.Slice(r, func(i, j int) bool { return fmt.Sprint(r[i]) < fmt.Sprint(r[j]) })
		}
		sortRows(got)
		sortRows(want)
		require.NotEmpty(t, want)
		require.Equal(t, want, got, view)
		require.Equal(t, int64(len(want)), sum.Rows)

		// Backfill into the window, then re-export the dataset: same bytes.
		key := []any{int64(3)}
		if view == "merchant_risk" {
			key = []any{"m1", "de"}
		}
		at := time.Unix(0, start+1)
		_, err := env.client.Write(ctx, view, []client.Row{{Key: key, EventTime: at, AvailableAt: at, Values: []any{nil, nil}}}, client.Backfill())
		require.NoError(t, err)
		var again ipcBytes
		sum2, err := env.client.ExportDataset(ctx, sum.DatasetID, again.add)
		require.NoError(t, err)
		require.Equal(t, sum.Checksum, sum2.Checksum)
		require.True(t, bytes.Equal(first, again.bytes()))
		_, _, sum3 := exportRows(t, env.client, "window", view)
		require.Equal(t, sum.Rows+1, sum3.Rows, "a fresh export sees the backfill")
	}
	_, err = env.client.Export(ctx, "", "user_stats", func(arrow.Record) error { return nil })
	require.ErrorIs(t, err, client.ErrSplitRequired)
}
