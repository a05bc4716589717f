package storage

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func ptr(f float64) *float64 { return &f }

// TestViewExpectationsAreChecked: the store refuses an expectation its view
// cannot hold, naming the view and the expectation; a change of
// expectations is a new definition version.
func TestViewExpectationsAreChecked(t *testing.T) {
	runStoreTest(t, func(st *Store, _ *fakeClock) {
		v := defineUser(t, st, 0)
		for _, tc := range []struct {
			e    Expectation
			want string
		}{
			{Expectation{Feature: "nope", Min: ptr(0)}, `feature view "stats": expectations[0]: storage: unknown feature "nope"`},
			{Expectation{Feature: "label", Min: ptr(0)}, `feature view "stats": expectations[0]: min/max: feature "label" is string`},
			{Expectation{Feature: "clicks", Min: ptr(5), Max: ptr(1)}, "min 5 is greater than max 1"},
			{Expectation{Feature: "clicks", Min: ptr(math.NaN())}, "is not a finite number"},
			{Expectation{Feature: "clicks", Min: ptr(0), Level: "soft"}, `level "soft": expected hard or warn`},
			{Expectation{Feature: "clicks"}, "expected exactly one of min/max, allowed, not_null, max_null_rate, max_arrival_lag or max_batch_interval, got 0"},
			{Expectation{Feature: "clicks", NotNull: true, Min: ptr(0)}, "got 2"},
			{Expectation{Feature: "score", Allowed: []string{"1"}}, `allowed: feature "score" is double`},
			{Expectation{Feature: "clicks", Allowed: []string{"x"}}, `allowed: "x" is not an integer`},
			{Expectation{Feature: "clicks", MaxNullRate: ptr(1.5)}, "max_null_rate 1.5: expected a number from 0 to 1"},
			{Expectation{Feature: "clicks", MaxArrivalLag: time.Hour}, `max_arrival_lag checks rows, not a feature: remove feature "clicks"`},
			{Expectation{MaxArrivalLag: -time.Hour}, "must not be negative"},
		} {
			bad := *v
			bad.Expectations = []Expectation{tc.e}
			_, _, err := st.ApplyView(bad)
			require.Error(t, err, tc.want)
			require.ErrorContains(t, err, tc.want)
		}
		good := *v
		good.Expectations = []Expectation{{Feature: "clicks", Min: ptr(0)}, {Feature: "label", Allowed: []string{"a"}, Level: LevelWarn}, {MaxArrivalLag: time.Hour}}
		nv, changed, err := st.ApplyView(good)
		require.NoError(t, err)
		require.True(t, changed)
		require.Equal(t, v.Version+1, nv.Version)
		require.Equal(t, LevelHard, nv.Expectations[0].Level, "hard unless it says warn")
		_, changed, err = st.ApplyView(good)
		require.NoError(t, err)
		require.False(t, changed, "the same expectations again change nothing")
	})
}

// TestValidationEvents: events commit with their batch, come back by time
// and view, survive a restart, verify clean, and a sandbox keeps only those
// no later than its cutoff.
func TestValidationEvents(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	clk := &fakeClock{}
	clk.Set(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	st, err := Open(DefaultOptions(dir).WithNow(clk.Now).WithSyncWrites(false))
	require.NoError(t, err)
	v := defineUser(t, st, 0)
	exp := Expectation{Feature: "clicks", Max: ptr(10), Level: LevelWarn}
	row := func(clicks int64) Row {
		return Row{Key: []Value{Int64(1), String("eu")}, EventTime: clk.Now().UnixNano() - 1, Values: []Value{Int64(clicks), {}, {}}}
	}
	var times []int64
	for i := range 3 {
		ev := ValidationEvent{Index: 0, Expectation: exp, RowsChecked: 2, RowsFailed: 1, FailedRows: []FailedRow{{Row: 1, Value: "11"}}}
		res, err := st.Write(ctx, Batch{ID: "b" + string(rune('0'+i)), View: "stats", Rows: []Row{row(1), row(11)}, Validation: []ValidationEvent{ev}})
		require.NoError(t, err)
		times = append(times, res.CommitTime)
		clk.Advance(time.Hour)
	}
	// A batch that fails to commit records nothing.
	_, err = st.Write(ctx, Batch{View: "stats", Rows: []Row{{Key: []Value{Int64(1)}}}, Validation: []ValidationEvent{{Expectation: exp}}})
	require.ErrorIs(t, err, ErrInvalid)

	events := func(st *Store, since, until int64, view string) []ValidationEvent {
		var out []ValidationEvent
		require.NoError(t, st.ValidationEvents(ctx, since, until, view, func(e ValidationEvent) error {
			out = append(out, e)
			return nil
		}))
		return out
	}
	all := events(st, math.MinInt64, math.MaxInt64, "")
	require.Len(t, all, 3)
	first := all[0]
	require.Equal(t, times[0], first.Time)
	require.Equal(t, "stats", first.View)
	require.Equal(t, v.Version, first.ViewVersion)
	require.Equal(t, "b0", first.BatchID)
	require.Equal(t, uint64(1), first.FirstSeq)
	require.Equal(t, uint64(2), first.LastSeq)
	require.Equal(t, int64(1), first.RowsFailed)
	require.Equal(t, []FailedRow{{Row: 1, Value: "11"}}, first.FailedRows)
	require.True(t, first.Expectation.equal(exp))
	require.Len(t, events(st, times[1], times[2], ""), 2)
	require.Len(t, events(st, times[1], times[1], ""), 1)
	require.Empty(t, events(st, math.MinInt64, math.MaxInt64, "other"))

	rep, err := st.Verify(ctx)
	require.NoError(t, err)
	require.Empty(t, rep.Problems)

	// A sandbox cut between the first and the second batch keeps the first's event.
	_, _, err = st.CreateSplit(Split{Name: "train", Start: 0, End: times[0] + 1})
	require.NoError(t, err)
	file := filepath.Join(t.TempDir(), "sb.tfbak")
	f, err := os.Create(file)
	require.NoError(t, err)
	_, err = st.Sandbox(ctx, f, "train", nil)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	sbDir := filepath.Join(t.TempDir(), "sandbox")
	_, err = Restore(sbDir, []string{file})
	require.NoError(t, err)
	sb, err := Open(DefaultOptions(sbDir).WithNow(clk.Now).WithSyncWrites(false))
	require.NoError(t, err)
	require.Len(t, events(sb, math.MinInt64, math.MaxInt64, ""), 1)
	require.NoError(t, sb.Close())

	require.NoError(t, st.Close())
	st, err = Open(DefaultOptions(dir).WithNow(clk.Now).WithSyncWrites(false))
	require.NoError(t, err)
	defer func() { require.NoError(t, st.Close()) }()
	require.Equal(t, all, events(st, math.MinInt64, math.MaxInt64, "stats"), "events survive a restart")
}
