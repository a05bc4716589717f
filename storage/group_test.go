package storage

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/stretchr/testify/require"
)

// TestGroupCommit queues batches behind a held write lock, in a known order,
// so that they commit as one group: each gets its own consecutive seqs and
// the group's one commit time, a batch id repeated within the group commits
// once (the repeats get its result, marked duplicate), a repeat with other
// content is refused, and every read afterwards matches the oracle.
func TestGroupCommit(t *testing.T) {
	runStoreTest(t, func(st *Store, clk *fakeClock) {
		view := defineUser(t, st, 0)
		ents := oracleEntities(t, view)
		base := clk.Now().UnixNano()
		type write struct {
			b   Batch
			res WriteResult
			err error
		}
		var writes []*write
		for i := range 12 {
			id, k := fmt.Sprint("b", i), i
			vals := []Value{Int64(int64(i)), Float64(0.5), {}}
			switch i {
			case 7, 9: // repeats of batch 3, same content
				id, k, vals = "b3", 3, []Value{Int64(3), Float64(0.5), {}}
			case 10: // a repeat of batch 3 with other content
				id, k = "b3", 3
			}
			writes = append(writes, &write{b: Batch{ID: id, View: "stats", Rows: []Row{
				{Key: ents[k].vals, EventTime: base - int64(k), Values: vals},
				{Key: ents[(k+5)%len(ents)].vals, EventTime: base - int64(k), Values: vals},
			}}})
		}
		queued := func() int {
			st.queueMu.Lock()
			defer st.queueMu.Unlock()
			return len(st.queue)
		}
		leading := func() bool {
			st.queueMu.Lock()
			defer st.queueMu.Unlock()
			return st.leading
		}
		st.writeMu.Lock()
		locked := true
		defer func() {
			if locked { // a failed check must not leave Close waiting
				st.writeMu.Unlock()
			}
		}()
		var wg sync.WaitGroup
		for i, w := range writes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				w.res, w.err = st.Write(context.Background(), w.b)
			}()
			// The first write leads a group of its own and waits for the
			// lock; the others queue behind it in order.
			require.Eventually(t, func() bool { return queued() == i && leading() }, 10*time.Second, time.Millisecond)
		}
		st.writeMu.Unlock()
		locked = false
		wg.Wait()

		// txnOf returns the Badger version (one per transaction) of a batch's record.
		txnOf := func(id string) uint64 {
			var v uint64
			require.NoError(t, st.db.View(func(txn *badger.Txn) error {
				item, err := txn.Get(batchKey(id))
				if err == nil {
					v = item.Version()
				}
				return err
			}))
			return v
		}
		require.NotEqual(t, txnOf("b0"), txnOf("b1"), "the first batch led a group of its own")
		var all []oracleVersion
		next := uint64(1)
		for i, w := range writes {
			switch i {
			case 7, 9:
				require.NoError(t, w.err)
				require.True(t, w.res.Duplicate)
				require.Equal(t, writes[3].res.FirstSeq, w.res.FirstSeq)
				continue
			case 10:
				require.ErrorIs(t, w.err, ErrConflict)
				continue
			}
			require.NoError(t, w.err, "batch %d", i)
			require.False(t, w.res.Duplicate)
			require.Equal(t, next, w.res.FirstSeq, "batch %d: consecutive seqs", i)
			next = w.res.LastSeq + 1
			if i >= 1 {
				require.Equal(t, writes[1].res.CommitTime, w.res.CommitTime, "batch %d was committed in the group", i)
				require.Equal(t, txnOf(writes[1].b.ID), txnOf(w.b.ID), "batch %d was committed in the group's transaction", i)
			}
			for r, row := range w.b.Rows {
				enc, err := view.EncodeKey(row.Key)
				require.NoError(t, err)
				all = append(all, oracleVersion{key: string(enc), event: row.EventTime, available: w.res.CommitTime,
					seq: w.res.FirstSeq + uint64(r), values: row.Values})
			}
		}
		require.Equal(t, next-1, st.Watermark())
		clk.Advance(time.Second)
		checkOracle(t, st, view, ents, all, base-20, clk.Now().UnixNano(), rand.New(rand.NewPCG(2, 2)), 3, 100)
	})
}
