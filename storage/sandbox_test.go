package storage

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/timefence/timefence/internal/filescan"

	"github.com/dgraph-io/badger/v4"
	"github.com/stretchr/testify/require"
)

// TestSandbox cuts a sandbox at a split from a random history (late data,
// ties, backfills, tombstones, every type) and checks that every read under
// the kept splits, at every watermark, equals the source's; that nothing
// after the cutoff is in its files; and that it refuses writes.
func TestSandbox(t *testing.T) {
	ctx := context.Background()
	clk := &fakeClock{}
	clk.Set(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	opts := DefaultOptions(t.TempDir()).WithNow(clk.Now).WithSyncWrites(false).WithCompactInterval(time.Hour).WithFlushIdle(time.Hour)
	opts.chunkBytes = 300 // batches span several chunks, which the cut splits further
	src, err := Open(opts)
	require.NoError(t, err)
	defer func() { require.NoError(t, src.Close()) }()
	view := defineEveryType(t, src, 0)
	ents := oracleEntities(t, view)
	rng := rand.New(rand.NewPCG(3, 4))
	base := clk.Now().UnixNano()
	all := writeRandomHistory(t, src, clk, view, ents, rng, 60, nil)
	mid := clk.Now().UnixNano()
	require.NoError(t, src.Compact()) // some versions in a run file, the rest in the tail
	all = append(all, writeRandomHistory(t, src, clk, view, ents, rng, 60, nil)...)
	// A marker the sandbox's files must hold, the cutoff, then more versions
	// and a marker the files must not hold.
	writeMarker := func(m string) {
		row := Row{Key: ents[0].vals, EventTime: clk.Now().UnixNano() - int64(time.Second)}
		for _, f := range view.Features {
			v := Value{}
			if f.Type == TypeString {
				v = String(m)
			}
			row.Values = append(row.Values, v)
		}
		_, err := src.Write(ctx, Batch{View: view.Name, Rows: []Row{row}})
		require.NoError(t, err)
	}
	writeMarker("before-cutoff-7d1f")
	cutoff := clk.Now().UnixNano()
	clk.Advance(time.Minute)
	writeRandomHistory(t, src, clk, view, ents, rng, 30, nil)
	writeMarker("after-cutoff-7d1f")

	for _, sp := range []Split{
		{Name: "early", Start: base, End: mid},
		{Name: "train", Start: base, End: cutoff},
		{Name: "later", Start: base, End: cutoff + int64(time.Hour)},
	} {
		_, _, err := src.CreateSplit(sp)
		require.NoError(t, err)
	}
	early, err := src.Split("early")
	require.NoError(t, err)
	for _, m := range []Manifest{
		{DatasetID: "ds-train", Kind: "export", Split: Split{Name: "train", Start: base, End: cutoff}, Watermark: 5},
		{DatasetID: "ds-early", Kind: "export", Split: early, Watermark: 3},
		{DatasetID: "ds-later", Kind: "export", Split: Split{Name: "later", Start: base, End: cutoff + int64(time.Hour)}, Watermark: 9},
	} {
		_, err := src.PutManifest(m)
		require.NoError(t, err)
	}

	// Lookups logged before and after the cutoff.
	require.NoError(t, src.AppendLog([]LogRecord{{ReadTime: cutoff - 1, RequestID: "before", Data: []byte("logged before-cutoff-7d1f")},
		{ReadTime: cutoff + 1, RequestID: "after", Data: []byte("logged after-cutoff-7d1f")}}))

	// A caller allowed only some splits gets only those, and their manifests.
	var scoped bytes.Buffer
	only, err := src.Sandbox(ctx, &scoped, "train", func(name string) bool { return name == "train" })
	require.NoError(t, err)
	require.Equal(t, []string{"train"}, only.Splits)
	require.Equal(t, int64(1), only.Manifests)

	// Cut, restore, open.
	file := filepath.Join(t.TempDir(), "sandbox.tfbak")
	f, err := os.Create(file)
	require.NoError(t, err)
	info, err := src.Sandbox(ctx, f, "train", nil)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	require.Equal(t, []string{"early", "train"}, info.Splits)
	require.Equal(t, int64(2), info.Manifests)
	require.Equal(t, src.Watermark(), info.Watermark)
	require.Positive(t, info.LeftOut)
	// A cut or damaged file is refused before anything is restored.
	whole, err := os.ReadFile(file)
	require.NoError(t, err)
	for name, bad := range map[string][]byte{
		"cut":     whole[:len(whole)/2],
		"flipped": append(append(append([]byte(nil), whole[:len(whole)/3]...), whole[len(whole)/3]^0x40), whole[len(whole)/3+1:]...),
	} {
		path := filepath.Join(t.TempDir(), name+".tfbak")
		require.NoError(t, os.WriteFile(path, bad, 0o644))
		target := filepath.Join(t.TempDir(), name)
		_, err := Restore(target, []string{path})
		require.ErrorIs(t, err, ErrDataLoss, name)
		_, statErr := os.Stat(target)
		require.True(t, os.IsNotExist(statErr), "%s: nothing restored", name)
	}

	dir := filepath.Join(t.TempDir(), "sandbox")
	_, err = Restore(dir, []string{file})
	require.NoError(t, err)
	sb, err := Open(DefaultOptions(dir).WithNow(clk.Now).WithSyncWrites(false))
	require.NoError(t, err)
	defer func() { require.NoError(t, sb.Close()) }()
	got, ok := sb.SandboxInfo()
	require.True(t, ok)
	require.Equal(t, "train", got.Split.Name)
	require.Equal(t, src.ID(), got.SourceID)
	require.NotEqual(t, src.ID(), sb.ID(), "a sandbox is a store of its own")
	require.Equal(t, src.Watermark(), sb.Watermark())

	// The lookups logged by the cutoff; a sandbox logs none.
	var logged []string
	require.NoError(t, sb.ScanLog(ctx, math.MinInt64, math.MaxInt64, func(r LogRecord) error {
		logged = append(logged, r.RequestID+": "+string(r.Data))
		return nil
	}))
	require.Equal(t, []string{"before: logged before-cutoff-7d1f"}, logged)
	require.ErrorIs(t, sb.AppendLog([]LogRecord{{ReadTime: cutoff, RequestID: "x"}}), ErrReadOnly)

	// The splits and manifests kept.
	require.Len(t, sb.Splits(), 2)
	_, err = sb.Split("later")
	require.ErrorIs(t, err, ErrUnknownSplit)
	_, err = sb.Manifest("ds-train")
	require.NoError(t, err)
	_, err = sb.Manifest("ds-later")
	require.Error(t, err)

	// Reads under the split: the same results as the source's, at every
	// watermark, batched and in columns, and the same export scan.
	proj, err := view.Project()
	require.NoError(t, err)
	for round := range 30 {
		n := 200
		keys := make([][]byte, n)
		bounds := make([]Bounds, n)
		for i := range keys {
			keys[i] = []byte(ents[rng.IntN(len(ents))].enc)
			bounds[i] = At(base + rng.Int64N(cutoff-base+1))
			if i%4 == 0 {
				bounds[i] = At(all[rng.IntN(len(all))].available)
			}
		}
		q := Query{Proj: proj, Keys: keys, Bounds: bounds, Watermark: info.Watermark - uint64(round), WithSeq: true, NaiveAvailable: cutoff}
		want, err := src.Lookup(ctx, q)
		require.NoError(t, err)
		have, err := sb.Lookup(ctx, q)
		require.NoError(t, err)
		require.Equal(t, want, have, "round %d", round)
	}
	scan := func(st *Store) [][]Value {
		var out [][]Value
		require.NoError(t, st.ScanColumns(ctx, proj, Window{Start: base, End: cutoff}, info.Watermark, 64, func(b *ColumnBatch) error {
			for i := range b.Len() {
				row := []Value{Int64(b.EventTime[i]), Int64(b.AvailableAt[i]), Int64(int64(b.Seq[i])), Bool(b.Deleted[i]), Bool(b.Backfilled[i])}
				for f := range b.Features {
					row = append(row, b.Features[f].value(i))
				}
				out = append(out, row)
			}
			return nil
		}))
		return out
	}
	want := scan(src)
	require.NotEmpty(t, want)
	require.Equal(t, want, scan(sb))

	// Nothing after the cutoff is in the sandbox: no chunk row, and not the
	// marker's bytes in any of its files (the marker written before the
	// cutoff is found the same way).
	require.NoError(t, sb.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{prefixChunk}})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			_, first, last, err := parseChunkKey(it.Item().Key())
			require.NoError(t, err)
			require.NoError(t, it.Item().Value(func(v []byte) error {
				return decodeChunk(v, first, last, func(r *chunkRow) error {
					if r.event > cutoff || r.available > cutoff {
						return fmt.Errorf("seq %d (event %d, available %d) is after the cutoff %d", r.seq, r.event, r.available, cutoff)
					}
					return nil
				})
			}))
		}
		return nil
	}))
	require.NoError(t, sb.Compact()) // run files too
	rep, err := sb.Verify(ctx)
	require.NoError(t, err)
	require.Empty(t, rep.Problems)
	require.Equal(t, info.Versions, rep.Versions)
	found, err := filescan.Contains(dir, "before-cutoff-7d1f", "after-cutoff-7d1f")
	require.NoError(t, err)
	require.True(t, found["before-cutoff-7d1f"], "the scan finds what is before the cutoff")
	require.False(t, found["after-cutoff-7d1f"], "nothing after the cutoff is in the sandbox's files")

	// Read-only: writes and changes to the definitions are refused, saying
	// why; an unchanged definition and a dataset's manifest are not changes.
	_, err = sb.Write(ctx, Batch{View: view.Name, Rows: []Row{{Key: ents[0].vals, EventTime: base, Delete: true}}})
	require.ErrorIs(t, err, ErrReadOnly)
	require.ErrorContains(t, err, `this store is a sandbox cut from store `+src.ID()+` at split "train"`)
	_, _, err = sb.CreateSplit(Split{Name: "mine", Start: base, End: cutoff})
	require.ErrorIs(t, err, ErrReadOnly)
	_, changed, err := sb.ApplyView(*view)
	require.NoError(t, err)
	require.False(t, changed)
	_, err = sb.PutManifest(Manifest{DatasetID: "ds-new", Kind: "export", Split: got.Split, Watermark: 1})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(FormatTime(got.Split.End), "2026-"))
}
