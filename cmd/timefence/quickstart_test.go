package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestQuickstart runs the quickstart on a temporary directory and checks
// its leakage numbers against an oracle computed here from the generated
// data: the read rule and a naive event-time join, by brute force.
func TestQuickstart(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	res, err := quickstart(context.Background(), dir, &out)
	require.NoError(t, err, out.String())
	t.Log("\n" + out.String())

	d := res.Data
	spine := d.trainSpine()
	require.Equal(t, int64(len(spine)), res.SpineRows)
	rows := readParquet(t, filepath.Join(dir, "training_set.parquet"))
	require.Len(t, rows, len(spine))

	// winner is the read rule over the generated versions: the greatest
	// (event time, available at) among those with event time <= at and
	// available at <= avail.
	byUser := map[int64][]qsVersion{}
	for _, v := range d.Versions {
		byUser[v.User] = append(byUser[v.User], v)
	}
	winner := func(user int64, at, avail time.Time) (qsVersion, bool) {
		var best qsVersion
		found := false
		for _, v := range byUser[user] {
			if v.EventTime.After(at) || v.AvailableAt.After(avail) {
				continue
			}
			if !found || v.EventTime.After(best.EventTime) ||
				(v.EventTime.Equal(best.EventTime) && v.AvailableAt.After(best.AvailableAt)) {
				best, found = v, true
			}
		}
		return best, found
	}
	fresh := func(v qsVersion, ok bool, at time.Time) bool { return ok && at.Sub(v.EventTime) <= qsTTL }
	versionDiffs, valueDiffs := 0, 0
	for i, tx := range spine {
		pit, pok := winner(tx.User, tx.Time, tx.Time)
		naive, nok := winner(tx.User, tx.Time, qsCutoff)
		if pok != nok || pit != naive {
			versionDiffs++
		}
		pfresh, nfresh := fresh(pit, pok, tx.Time), fresh(naive, nok, tx.Time)
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
	for _, tx := range d.crossingSpine() {
		if tx.Time.After(qsCutoff) {
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

	// The data is the same on every run.
	again := generateQuickstart()
	require.Equal(t, d.Txns, again.Txns)
	require.Equal(t, d.Versions, again.Versions)
}
