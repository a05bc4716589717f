package storage

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"
	"github.com/stretchr/testify/require"
)

// TestServingLog: records come back by read time, negative times too, in
// inclusive ranges; a batch with a bad request id is refused whole; the
// store verifies clean with a log in it.
func TestServingLog(t *testing.T) {
	ctx := context.Background()
	st, err := Open(DefaultOptions(t.TempDir()).WithSyncWrites(false))
	require.NoError(t, err)
	defer func() { require.NoError(t, st.Close()) }()

	require.NoError(t, st.AppendLog([]LogRecord{
		{ReadTime: 30, RequestID: "c", Data: []byte("3")},
		{ReadTime: -5, RequestID: "a", Data: []byte("1")},
		{ReadTime: 30, RequestID: "b", Data: []byte("2")},
		{ReadTime: 31, RequestID: "d", Data: []byte("4")},
	}))
	scan := func(since, until int64) string {
		var got []string
		require.NoError(t, st.ScanLog(ctx, since, until, func(r LogRecord) error {
			got = append(got, r.RequestID+string(r.Data))
			return nil
		}))
		return strings.Join(got, " ")
	}
	require.Equal(t, "a1 b2 c3 d4", scan(math.MinInt64, math.MaxInt64))
	require.Equal(t, "b2 c3", scan(30, 30))
	require.Equal(t, "a1", scan(-5, 29))
	require.Equal(t, "", scan(32, math.MaxInt64))
	require.Equal(t, "", scan(31, 30))

	// The same read time and id replaces the record.
	require.NoError(t, st.AppendLog([]LogRecord{{ReadTime: 31, RequestID: "d", Data: []byte("5")}}))
	require.Equal(t, "d5", scan(31, 31))

	for _, bad := range []string{"", strings.Repeat("x", MaxRequestIDBytes+1)} {
		err := st.AppendLog([]LogRecord{{ReadTime: 40, RequestID: "ok", Data: []byte("6")}, {ReadTime: 41, RequestID: bad}})
		require.ErrorIs(t, err, ErrInvalid)
		require.ErrorContains(t, err, "request id of")
	}
	require.Equal(t, "", scan(40, 41), "nothing of a refused batch")

	rep, err := st.Verify(ctx)
	require.NoError(t, err)
	require.Empty(t, rep.Problems)

	// A flipped bit in a stored record is refused, by the scan and by
	// verify, naming the record; never read as another record.
	key := logKey(30, "b")
	require.NoError(t, st.db.Update(func(txn *badger.Txn) error {
		item, err := txn.Get(key)
		if err != nil {
			return err
		}
		v, err := item.ValueCopy(nil)
		if err != nil {
			return err
		}
		v[0] ^= 0x01
		return txn.Set(key, v)
	}))
	err = st.ScanLog(ctx, math.MinInt64, math.MaxInt64, func(LogRecord) error { return nil })
	require.ErrorIs(t, err, ErrCorrupt)
	require.ErrorContains(t, err, `serving log record "b" read at 1970-01-01T00:00:00.00000003Z fails its checksum`)
	require.Equal(t, "a1", scan(-5, 29), "the records before it are read")
	rep, err = st.Verify(ctx)
	require.NoError(t, err)
	require.Len(t, rep.Problems, 1)
	require.Contains(t, rep.Problems[0], `serving log record "b"`)
}
