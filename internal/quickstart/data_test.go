package quickstart

import (
	"testing"

	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/stretchr/testify/require"

	"github.com/timefence/timefence/definitions"
)

func TestGenerateIsDeterministic(t *testing.T) {
	d, again := Generate(), Generate()
	require.NotEmpty(t, d.Txns)
	require.Equal(t, d.Txns, again.Txns)
	require.Equal(t, d.Versions, again.Versions)
}

func TestSpineRecord(t *testing.T) {
	spine := Generate().TrainSpine()
	rec := SpineRecord(spine)
	defer rec.Release()
	require.EqualValues(t, len(spine), rec.NumRows())
	for i, tx := range spine {
		require.Equal(t, tx.ID, rec.Column(2).(*array.Int64).Value(i))
		require.Equal(t, tx.Time.UnixNano(), int64(rec.Column(1).(*array.Timestamp).Value(i)))
	}
}

// TestLeaks checks that a join result holding what the naive join reads
// leaks nowhere, and one holding nothing leaks where the naive join reads.
func TestLeaks(t *testing.T) {
	d := Generate()
	spine := d.TrainSpine()
	naive := make([]Features, len(spine))
	reads := 0
	for i, tx := range spine {
		if v, ok := d.Naive(tx.User, tx.Time); ok {
			naive[i] = Features{OK: true, Spend: v.Spend, Count: v.Count, MaxAmount: v.MaxAmount}
			reads++
		}
	}
	require.Empty(t, d.Leaks(spine, naive))
	require.Len(t, d.Leaks(spine, make([]Features, len(spine))), reads)
	require.Positive(t, reads)
}

// TestDefinitionsAgree checks that Definitions describes the generated world.
func TestDefinitionsAgree(t *testing.T) {
	defs, err := definitions.Parse("definitions.yaml", []byte(Definitions))
	require.NoError(t, err)
	require.Len(t, defs.FeatureViews, 1)
	view := defs.FeatureViews[0].Def
	require.Equal(t, "user_daily_spend", view.GetName())
	require.Equal(t, TTL, view.GetTtl().AsDuration())
	train := defs.Splits[0].Def
	require.Equal(t, "train", train.GetName())
	require.Equal(t, Start, train.GetStart().AsTime())
	require.Equal(t, Cutoff, train.GetEnd().AsTime())
}
