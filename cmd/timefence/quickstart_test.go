package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/timefence/timefence/internal/quickstart"
)

// TestQuickstart runs the quickstart on a temporary directory and checks
// its training set and leakage numbers against the read rule and a naive
// event-time join computed by brute force over the generated data.
func TestQuickstart(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	res, err := runQuickstart(context.Background(), dir, &out)
	require.NoError(t, err, out.String())
	t.Log("\n" + out.String())

	d := res.Data
	spine := d.TrainSpine()
	require.Equal(t, int64(len(spine)), res.SpineRows)
	rows := readParquet(t, filepath.Join(dir, "training_set.parquet"))
	require.Len(t, rows, len(spine))

	versionDiffs, valueDiffs := 0, 0
	for i, tx := range spine {
		pit, pok := d.Winner(tx.User, tx.Time, tx.Time)
		naive, nok := d.Winner(tx.User, tx.Time, quickstart.Cutoff)
		if pok != nok || pit != naive {
			versionDiffs++
		}
		pfresh, nfresh := pok && quickstart.Fresh(pit, tx.Time), nok && quickstart.Fresh(naive, tx.Time)
		if pfresh != nfresh || (pfresh && (pit.Spend != naive.Spend || pit.Count != naive.Count || pit.MaxAmount != naive.MaxAmount)) {
			valueDiffs++
		}
		got := rows[i]
		require.Equal(t, tx.ID, got["txn_id"])
		if !pfresh {
			require.Nil(t, got["spend_1d"], "row %d", i)
			continue
		}
		require.Equal(t, pit.Spend, got["spend_1d"], "row %d", i)
		require.Equal(t, pit.Count, got["txn_count_1d"], "row %d", i)
		require.Equal(t, pit.MaxAmount, got["max_amount_1d"], "row %d", i)
	}
	require.Positive(t, valueDiffs)
	require.Equal(t, int64(valueDiffs), res.Leaked, "rows whose naive value differs")
	require.Equal(t, int64(versionDiffs), res.NaiveDifferences, "the server's naive_differences")

	after := 0
	for _, tx := range d.CrossingSpine() {
		if tx.Time.After(quickstart.Cutoff) {
			after++
		}
	}
	require.Positive(t, after)
	require.Equal(t, strconv.Itoa(after), res.Refused)

	for _, name := range []string{"README.txt", "definitions.yaml", "definitions.schema.json", "transactions.csv",
		"user_daily_spend.csv", "spine.parquet", "spine_crossing_cutoff.parquet", "training_set.manifest.json"} {
		_, err := os.Stat(filepath.Join(dir, name))
		require.NoError(t, err, name)
	}
	require.Contains(t, out.String(), "CUTOFF_EXCEEDED")
}
