package server_test

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
	"github.com/timefence/timefence/client"
)

// TestStatisticsMatchBruteForce compares every statistic with a direct
// computation over the versions within the split.
func TestStatisticsMatchBruteForce(t *testing.T) {
	env := startServer(t)
	h := defineShop(t, env.client)
	rng := rand.New(rand.NewPCG(21, 22))
	writeHistory(t, env.client, h, rng, 150)
	ctx := context.Background()
	start, cut := h.versions[5].event, h.versions[len(h.versions)*3/4].available
	_, err := env.client.CreateSplit(ctx, "w", time.Unix(0, start), time.Unix(0, cut))
	require.NoError(t, err)
	resp, err := timefencev1.NewDatasetServiceClient(env.client.Conn()).GetStatistics(ctx, &timefencev1.GetStatisticsRequest{Split: "w", FeatureView: "user_stats"})
	require.NoError(t, err)

	var versions, clicksNull, scoreNull int64
	var clicks, scores []float64
	counts := map[string]int64{}
	entities := map[string]bool{}
	for _, v := range h.versions {
		if v.view != "user_stats" || v.event < start || v.event > cut || v.available < start || v.available > cut {
			continue
		}
		versions++
		entities[v.key] = true
		if v.deleted {
			continue
		}
		if v.values[0] == nil {
			clicksNull++
		} else {
			clicks = append(clicks, float64(v.values[0].(int64)))
			counts[strconv.FormatInt(v.values[0].(int64), 10)]++
		}
		if v.values[1] == nil {
			scoreNull++
		} else {
			scores = append(scores, v.values[1].(float64))
		}
	}
	require.Equal(t, versions, resp.GetVersions())
	require.Equal(t, int64(len(entities)), resp.GetEntities())
	check := func(st *timefencev1.FeatureStatistics, vals []float64, nulls int64) {
		require.Equal(t, int64(len(vals))+nulls, st.GetCount(), st.GetFeature())
		require.Equal(t, nulls, st.GetNullCount())
		require.InDelta(t, float64(nulls)/float64(int64(len(vals))+nulls), st.GetNullRate(), 1e-12)
		sorted := slices.Sorted(slices.Values(vals))
		require.Equal(t, sorted[0], st.GetMin())
		require.Equal(t, sorted[len(sorted)-1], st.GetMax())
		mean := 0.0
		for _, x := range vals {
			mean += x
		}
		mean /= float64(len(vals))
		require.InDelta(t, mean, st.GetMean(), 1e-9*math.Max(1, math.Abs(mean)))
		for i, q := range []float64{0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99} {
			pos := q * float64(len(sorted)-1)
			lo := int(pos)
			want := sorted[lo] + (sorted[min(lo+1, len(sorted)-1)]-sorted[lo])*(pos-float64(lo))
			require.InDelta(t, want, st.GetQuantiles()[i], 1e-9, "quantile %v", q)
		}
		distinct := map[float64]bool{}
		for _, x := range vals {
			distinct[x] = true
		}
		require.Equal(t, int64(len(distinct)), st.GetDistinctCount())
		require.False(t, st.GetDistinctApproximate())
	}
	check(resp.GetFeatures()[0], clicks, clicksNull)
	check(resp.GetFeatures()[1], scores, scoreNull)
	type vc struct {
		v string
		n int64
	}
	var want []vc
	for v, n := range counts {
		want = append(want, vc{v, n})
	}
	sort.Slice(want, func(i, j int) bool { return want[i].n > want[j].n || (want[i].n == want[j].n && want[i].v < want[j].v) })
	var got []vc
	for _, x := range resp.GetFeatures()[0].GetTopValues() {
		got = append(got, vc{x.GetValue(), x.GetCount()})
	}
	require.Equal(t, want[:min(10, len(want))], got)

	_, err = timefencev1.NewDatasetServiceClient(env.client.Conn()).GetStatistics(ctx, &timefencev1.GetStatisticsRequest{FeatureView: "user_stats"})
	require.ErrorIs(t, fromGRPC(err), client.ErrSplitRequired)
}

// TestCompareStatistics: a real shift is reported; the same distribution
// in another window is not.
func TestCompareStatistics(t *testing.T) {
	env := startServer(t)
	ctx := context.Background()
	c := env.client
	_, err := c.ApplyEntity(ctx, &timefencev1.Entity{Name: "order", JoinKeys: []*timefencev1.JoinKey{{Name: "order_id", Type: tInt64}}})
	require.NoError(t, err)
	_, err = c.ApplyFeatureView(ctx, &timefencev1.FeatureView{Name: "orders", Entity: "order", Features: []*timefencev1.Feature{
		{Name: "channel", Type: tString}, {Name: "amount", Type: tDouble}, {Name: "coupon", Type: tString}}})
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(1, 1))
	id := int64(0)
	write := func(n int, channels []string, amountMean float64, couponNull float64) (from, to time.Time) {
		var rows []client.Row
		for range n {
			id++
			var coupon any = "SAVE10"
			if rng.Float64() < couponNull {
				coupon = nil
			}
			rows = append(rows, client.Row{Key: []any{id}, EventTime: time.Now(),
				Values: []any{channels[rng.IntN(len(channels))], amountMean + rng.NormFloat64()*10, coupon}})
		}
		res, err := c.Write(ctx, "orders", rows)
		require.NoError(t, err)
		return rows[0].EventTime, res.CommitTime
	}
	split := func(name string, from, to time.Time) {
		_, err := c.CreateSplit(ctx, name, from.Add(-time.Second), to)
		require.NoError(t, err)
	}
	web := []string{"web", "web", "app", "store"}
	f1, t1 := write(2000, web, 50, 0.05)
	split("base", f1, t1)
	time.Sleep(2 * time.Millisecond)
	f2, t2 := write(2000, web, 50, 0.05)
	_, err = c.CreateSplit(ctx, "same", t1.Add(time.Nanosecond), t2)
	require.NoError(t, err)
	_ = f2
	time.Sleep(2 * time.Millisecond)
	_, t3 := write(2000, []string{"partner", "partner", "partner", "web"}, 80, 0.6)
	_, err = c.CreateSplit(ctx, "shifted", t2.Add(time.Nanosecond), t3)
	require.NoError(t, err)

	quiet, err := timefencev1.NewDatasetServiceClient(c.Conn()).CompareStatistics(ctx, &timefencev1.CompareStatisticsRequest{FeatureView: "orders", BaselineSplit: "base", CurrentSplit: "same"})
	require.NoError(t, err)
	require.Empty(t, quiet.GetAnomalies(), "no false alarms on the same distribution")
	require.Equal(t, int64(2000), quiet.GetCurrent().GetVersions())

	loud, err := timefencev1.NewDatasetServiceClient(c.Conn()).CompareStatistics(ctx, &timefencev1.CompareStatisticsRequest{FeatureView: "orders", BaselineSplit: "base", CurrentSplit: "shifted"})
	require.NoError(t, err)
	kinds := map[string]string{}
	for _, a := range loud.GetAnomalies() {
		kinds[a.GetFeature()+"/"+a.GetKind()] = a.GetDescription()
	}
	require.Contains(t, kinds, "channel/NEW_VALUES")
	require.Contains(t, kinds, "channel/TOP_VALUE_CHANGED")
	require.Contains(t, kinds, "amount/MEAN_SHIFT")
	require.Contains(t, kinds, "coupon/COMPLETENESS_DROP")
	require.Len(t, kinds, 4, "%v", kinds)
}

// TestArrivalLag: statistics report how late versions arrived, and a
// comparison flags a window whose values arrive much later than the
// baseline's, not one whose lag only wobbles.
func TestArrivalLag(t *testing.T) {
	env := startServer(t)
	ctx := context.Background()
	c := env.client
	_, err := c.ApplyEntity(ctx, &timefencev1.Entity{Name: "item", JoinKeys: []*timefencev1.JoinKey{{Name: "item_id", Type: tInt64}}})
	require.NoError(t, err)
	_, err = c.ApplyFeatureView(ctx, &timefencev1.FeatureView{Name: "feed", Entity: "item", Features: []*timefencev1.Feature{{Name: "price", Type: tDouble}}})
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(4, 4))
	day := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	// window writes 500 versions over the day d with the given lag, ±30 s.
	window := func(name string, d int, lag time.Duration) {
		start := day.AddDate(0, 0, d)
		var rows []client.Row
		for i := range 500 {
			at := start.Add(time.Duration(i) * time.Minute)
			jitter := time.Duration(rng.IntN(60)-30) * time.Second
			rows = append(rows, client.Row{Key: []any{int64(i % 50)}, EventTime: at, AvailableAt: at.Add(lag + jitter), Values: []any{rng.Float64()}})
		}
		_, err := c.Write(ctx, "feed", rows, client.Backfill())
		require.NoError(t, err)
		_, err = c.CreateSplit(ctx, name, start, start.Add(24*time.Hour-time.Nanosecond))
		require.NoError(t, err)
	}
	window("base", 0, 2*time.Minute)
	window("steady", 1, 2*time.Minute+20*time.Second)
	window("late", 2, 30*time.Minute)

	st, err := c.GetStatistics(ctx, "base", "feed")
	require.NoError(t, err)
	lag := st.GetArrivalLag()
	require.Equal(t, int64(500), lag.GetCount())
	require.InDelta(t, 120, lag.GetQuantiles()[3], 10, "the median lag, in seconds")
	require.InDelta(t, 90, lag.GetMin(), 1)
	require.InDelta(t, 149, lag.GetMax(), 1)

	steady, err := c.CompareStatistics(ctx, "feed", "base", "steady")
	require.NoError(t, err)
	require.Empty(t, steady.GetAnomalies(), "20 s more lag is no alarm")
	late, err := c.CompareStatistics(ctx, "feed", "base", "late")
	require.NoError(t, err)
	require.Len(t, late.GetAnomalies(), 1, "%v", late.GetAnomalies())
	a := late.GetAnomalies()[0]
	require.Equal(t, "LAG_INCREASE", a.GetKind())
	require.Equal(t, "", a.GetFeature())
	require.InDelta(t, 1800, a.GetCurrentValue(), 10)
	require.Regexp(t, `^values arrive later: the median of the arrival lag rose from 2m\d+s to (29m\d+s|30m\d+s)$`, a.GetDescription())
}
