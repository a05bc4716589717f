package server_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
	"github.com/timefence/timefence/client"
	"github.com/timefence/timefence/server"
	"github.com/timefence/timefence/storage"
)

// testEnv is a real server on a loopback port over a store in a temp dir.
type testEnv struct {
	store  *storage.Store
	client *client.Client
	addr   string
	dir    string
	opts   func(dir string) storage.Options
	stop   func()
}

// testStoreOptions compacts constantly, in small runs, so that every server
// test reads through in-memory runs, run files and merges alike, while they
// change under it.
func testStoreOptions(dir string) storage.Options {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	return storage.DefaultOptions(dir).WithSyncWrites(false).WithLogger(quiet).
		WithFlushVersions(64).WithCompactInterval(5 * time.Millisecond)
}

// startServer starts a server on a fresh store that compacts constantly.
func startServer(t testing.TB) *testEnv { return startServerWith(t, testStoreOptions) }

// startServerWith starts a server on a fresh store opened with opts(dir).
func startServerWith(t testing.TB, opts func(dir string) storage.Options) *testEnv {
	t.Helper()
	e := &testEnv{dir: t.TempDir(), opts: opts}
	e.start(t)
	t.Cleanup(func() { e.stop() })
	return e
}

func (e *testEnv) start(t testing.TB) {
	t.Helper()
	st, err := storage.Open(e.opts(e.dir))
	require.NoError(t, err)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cfg := server.DefaultConfig()
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	done := make(chan error, 1)
	go func() { done <- server.New(st, cfg).Serve(ctx, lis) }()
	c, err := client.Dial(lis.Addr().String())
	require.NoError(t, err)
	e.store, e.client, e.addr = st, c, lis.Addr().String()
	e.stop = func() {
		c.Close()
		cancel()
		require.NoError(t, <-done)
		require.NoError(t, st.Close())
	}
}

// restart stops the server and the store and opens both again on the same
// data directory, with a new client.
func (e *testEnv) restart(t testing.TB) {
	t.Helper()
	e.stop()
	e.start(t)
}

// defineUsers registers entity user(user_id int64, region string) and view
// "stats" (clicks int64, score double) with ttl, and the split "all".
func (e *testEnv) defineUsers(t *testing.T, ttl time.Duration) {
	t.Helper()
	ctx := context.Background()
	_, err := e.client.ApplyEntity(ctx, &timefencev1.Entity{Name: "user", JoinKeys: []*timefencev1.JoinKey{
		{Name: "user_id", Type: timefencev1.ValueType_VALUE_TYPE_INT64},
		{Name: "region", Type: timefencev1.ValueType_VALUE_TYPE_STRING},
	}})
	require.NoError(t, err)
	view := &timefencev1.FeatureView{Name: "stats", Entity: "user", Features: []*timefencev1.Feature{
		{Name: "clicks", Type: timefencev1.ValueType_VALUE_TYPE_INT64},
		{Name: "score", Type: timefencev1.ValueType_VALUE_TYPE_DOUBLE},
	}}
	if ttl > 0 {
		view.Ttl = durationpb.New(ttl)
	}
	_, err = e.client.ApplyFeatureView(ctx, view)
	require.NoError(t, err)
	_, err = e.client.CreateSplit(ctx, "all", time.Unix(0, 0), time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC))
	require.NoError(t, err)
}

type written struct {
	user             int64
	region           string
	event, available int64
	seq              int64
	deleted          bool
	clicks           any
	score            any
}

// oracle is the read rule, brute force, over what the test wrote.
func oracle(all []written, user int64, region string, t int64, ttl time.Duration) (status client.Status, event int64, clicks, score any) {
	var best *written
	for i := range all {
		w := &all[i]
		if w.user != user || w.region != region || w.event > t || w.available > t {
			continue
		}
		if best == nil || w.event > best.event || (w.event == best.event && (w.available > best.available ||
			(w.available == best.available && w.seq > best.seq))) {
			best = w
		}
	}
	switch {
	case best == nil:
		return client.NotFound, 0, nil, nil
	case best.deleted:
		return client.NotFound, best.event, nil, nil
	case ttl > 0 && t-best.event > int64(ttl):
		return client.Stale, best.event, nil, nil
	}
	return client.Present, best.event, best.clicks, best.score
}

// TestReadRuleOverGRPC checks online and as-of reads through the gRPC API
// against the oracle on a random history with late data and tombstones.
func TestReadRuleOverGRPC(t *testing.T) {
	for _, ttl := range []time.Duration{0, 50 * time.Millisecond} {
		t.Run(fmt.Sprint("ttl=", ttl), func(t *testing.T) {
			env := startServer(t)
			env.defineUsers(t, ttl)
			ctx := context.Background()
			rng := rand.New(rand.NewPCG(7, uint64(ttl)))
			var all []written
			var times []int64
			for range 60 {
				now := time.Now().UnixNano()
				var rows []client.Row
				used := map[string]bool{}
				for range 1 + rng.IntN(5) {
					u, r := rng.Int64N(6), []string{"eu", "us"}[rng.IntN(2)]
					// Late and out-of-order event times, often equal to each other.
					ev := now - int64(rng.IntN(40))*int64(time.Millisecond)
					id := fmt.Sprint(u, r, ev)
					if used[id] {
						continue
					}
					used[id] = true
					row := client.Row{Key: []any{u, r}, EventTime: time.Unix(0, ev)}
					if rng.IntN(8) == 0 {
						row.Delete = true
					} else {
						var clicks, score any = rng.Int64N(100), rng.Float64()
						if rng.IntN(5) == 0 {
							clicks = nil
						}
						row.Values = []any{clicks, score}
					}
					rows = append(rows, row)
				}
				res, err := env.client.Write(ctx, "stats", rows)
				require.NoError(t, err)
				for i, r := range rows {
					w := written{user: r.Key[0].(int64), region: r.Key[1].(string), event: r.EventTime.UnixNano(),
						available: res.CommitTime.UnixNano(), seq: res.FirstSeq + int64(i), deleted: r.Delete}
					if !r.Delete {
						w.clicks, w.score = r.Values[0], r.Values[1]
					}
					all = append(all, w)
					times = append(times, w.event, w.available, w.available-1)
				}
				time.Sleep(time.Duration(rng.IntN(3)) * time.Millisecond)
			}
			var keys [][]any
			for u := range int64(6) {
				keys = append(keys, []any{u, "eu"}, []any{u, "us"})
			}
			check := func(res *client.OnlineResult, at int64) {
				for i, k := range keys {
					st, ev, clicks, score := oracle(all, k[0].(int64), k[1].(string), at, ttl)
					got := res.Rows[i]
					require.Equal(t, st, got[0].Status, "key %v at %d", k, at)
					require.Equal(t, clicks, got[0].Value, "key %v at %d", k, at)
					require.Equal(t, score, got[1].Value)
					if st != client.NotFound {
						require.Equal(t, ev, got[0].EventTime.UnixNano())
					}
				}
			}
			for q := range 300 {
				at := times[rng.IntN(len(times))] + int64(rng.IntN(3)-1)
				if q%10 == 0 {
					at = times[0] - 1 - rng.Int64N(int64(time.Second))
				}
				res, err := env.client.GetOnline(ctx, []string{"stats"}, []string{"user_id", "region"}, keys,
					client.AsOf(time.Unix(0, at)), client.UnderSplit("all"))
				require.NoError(t, err)
				require.Equal(t, []string{"stats:clicks", "stats:score"}, res.Features)
				check(res, at)
			}
			res, err := env.client.GetOnline(ctx, []string{"stats"}, []string{"user_id", "region"}, keys)
			require.NoError(t, err)
			check(res, res.ReadTime.UnixNano())
		})
	}
}

// TestOnlineParity serves online reads while writes arrive, then replays
// each read as of its recorded time: it must return exactly what was served.
func TestOnlineParity(t *testing.T) {
	env := startServer(t)
	env.defineUsers(t, 0)
	ctx := context.Background()
	keys := [][]any{{int64(1), "eu"}, {int64(2), "eu"}, {int64(3), "us"}}
	var mu sync.Mutex
	var served []*client.OnlineResult
	var wg sync.WaitGroup
	stop := time.Now().Add(700 * time.Millisecond)
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 9))
			for i := 0; time.Now().Before(stop); i++ {
				k := keys[rng.IntN(len(keys))]
				// Half the writes are late: their event time lies in the past.
				ev := time.Now().Add(-time.Duration(rng.IntN(2)) * time.Duration(rng.IntN(50)) * time.Millisecond)
				_, err := env.client.Write(ctx, "stats", []client.Row{{Key: k, EventTime: ev, Values: []any{int64(w*1_000_000 + i), nil}}})
				if err != nil {
					require.ErrorIs(t, err, client.ErrInvalidArgument) // same key and time in one batch cannot happen; keep any error visible
				}
			}
		}()
	}
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				res, err := env.client.GetOnline(ctx, []string{"stats:clicks"}, []string{"user_id", "region"}, keys)
				require.NoError(t, err)
				mu.Lock()
				served = append(served, res)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	require.NotEmpty(t, served)
	changed := 0
	for _, s := range served {
		again, err := env.client.GetOnline(ctx, []string{"stats:clicks"}, []string{"user_id", "region"}, keys,
			client.AsOf(s.ReadTime), client.UnderSplit("all"))
		require.NoError(t, err)
		require.Equal(t, s.Rows, again.Rows, "read at %s (watermark %d) is not reproducible", s.ReadTime, s.Watermark)
		if again.Watermark != s.Watermark {
			changed++
		}
	}
	require.Positive(t, changed, "the replay must run after later writes to prove anything")
}

func requireReason(t *testing.T, err error, code codes.Code, reason, msg string) {
	t.Helper()
	st, ok := status.FromError(err)
	require.True(t, ok, "want a gRPC status, got %v", err)
	require.Equal(t, code, st.Code(), st.Message())
	require.Contains(t, st.Message(), msg)
	var got string
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			got = info.GetReason()
			require.Equal(t, server.ErrorDomain, info.GetDomain())
		}
	}
	require.Equal(t, reason, got)
}

func TestBadWritesChangeNothing(t *testing.T) {
	env := startServer(t)
	env.defineUsers(t, 0)
	ctx := context.Background()
	w := timefencev1.NewWriteServiceClient(env.client.Conn())
	now := timestamppb.Now()
	i64 := func(v int64) *timefencev1.Value {
		return &timefencev1.Value{Kind: &timefencev1.Value_Int64Value{Int64Value: v}}
	}
	str := func(v string) *timefencev1.Value {
		return &timefencev1.Value{Kind: &timefencev1.Value_StringValue{StringValue: v}}
	}
	dbl := func(v float64) *timefencev1.Value {
		return &timefencev1.Value{Kind: &timefencev1.Value_DoubleValue{DoubleValue: v}}
	}
	good := func() *timefencev1.WriteRow {
		return &timefencev1.WriteRow{JoinKeys: []*timefencev1.Value{i64(1), str("eu")}, EventTime: now, Values: []*timefencev1.Value{i64(3), dbl(0.5)}}
	}
	_, err := w.WriteBatch(ctx, &timefencev1.WriteBatchRequest{FeatureView: "stats", Rows: []*timefencev1.WriteRow{good()}})
	require.NoError(t, err)
	before := env.store.Watermark()
	cases := []struct {
		name   string
		req    func() *timefencev1.WriteBatchRequest
		code   codes.Code
		reason string
		msg    string
	}{
		{"no view", func() *timefencev1.WriteBatchRequest {
			return &timefencev1.WriteBatchRequest{Rows: []*timefencev1.WriteRow{good()}}
		},
			codes.InvalidArgument, "INVALID_ARGUMENT", "feature_view: missing"},
		{"unknown view", func() *timefencev1.WriteBatchRequest {
			return &timefencev1.WriteBatchRequest{FeatureView: "nope", Rows: []*timefencev1.WriteRow{good()}}
		}, codes.NotFound, "UNKNOWN_FEATURE_VIEW", `unknown feature view "nope"`},
		{"unknown feature", func() *timefencev1.WriteBatchRequest {
			return &timefencev1.WriteBatchRequest{FeatureView: "stats", FeatureNames: []string{"clicks", "bogus"}, Rows: []*timefencev1.WriteRow{good()}}
		}, codes.NotFound, "UNKNOWN_FEATURE", `feature_names[1]: unknown feature "bogus"`},
		{"wrong type in row 2", func() *timefencev1.WriteBatchRequest {
			bad := good()
			bad.JoinKeys[0] = i64(2)
			bad.Values[1] = str("high")
			g2 := good()
			g2.JoinKeys[0] = i64(3)
			return &timefencev1.WriteBatchRequest{FeatureView: "stats", Rows: []*timefencev1.WriteRow{good(), g2, bad}}
		}, codes.InvalidArgument, "INVALID_ARGUMENT", `row 2: feature "score": expected double, got string`},
		{"missing event time", func() *timefencev1.WriteBatchRequest {
			bad := good()
			bad.EventTime = nil
			return &timefencev1.WriteBatchRequest{FeatureView: "stats", Rows: []*timefencev1.WriteRow{bad}}
		}, codes.InvalidArgument, "INVALID_ARGUMENT", "rows[0].event_time: missing timestamp"},
		{"timestamp out of range", func() *timefencev1.WriteBatchRequest {
			bad := good()
			bad.EventTime = &timestamppb.Timestamp{Seconds: 1 << 40}
			return &timefencev1.WriteBatchRequest{FeatureView: "stats", Rows: []*timefencev1.WriteRow{bad}}
		}, codes.InvalidArgument, "INVALID_ARGUMENT", "rows[0].event_time: invalid timestamp"},
		{"key null", func() *timefencev1.WriteBatchRequest {
			bad := good()
			bad.JoinKeys[1] = &timefencev1.Value{}
			return &timefencev1.WriteBatchRequest{FeatureView: "stats", Rows: []*timefencev1.WriteRow{bad}}
		}, codes.InvalidArgument, "INVALID_ARGUMENT", `row 0: join key "region": expected string, got null`},
		{"empty", func() *timefencev1.WriteBatchRequest { return &timefencev1.WriteBatchRequest{FeatureView: "stats"} },
			codes.InvalidArgument, "INVALID_ARGUMENT", "rows: the batch is empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := w.WriteBatch(ctx, c.req())
			requireReason(t, err, c.code, c.reason, c.msg)
			require.Equal(t, before, env.store.Watermark(), "a refused batch must write nothing")
		})
	}
	// The server is still up and the first value is intact.
	res, err := env.client.GetOnline(ctx, []string{"stats:clicks"}, []string{"user_id", "region"}, [][]any{{1, "eu"}, {2, "eu"}, {3, "eu"}})
	require.NoError(t, err)
	require.Equal(t, int64(3), res.Rows[0][0].Value)
	require.Equal(t, client.NotFound, res.Rows[1][0].Status)
	require.Equal(t, client.NotFound, res.Rows[2][0].Status)
}

func TestOnlineErrors(t *testing.T) {
	env := startServer(t)
	env.defineUsers(t, 0)
	ctx := context.Background()
	keys := [][]any{{1, "eu"}}
	kn := []string{"user_id", "region"}
	_, err := env.client.GetOnline(ctx, []string{"stats:nope"}, kn, keys)
	require.ErrorIs(t, err, client.ErrUnknownFeature)
	_, err = env.client.GetOnline(ctx, []string{"nope"}, kn, keys)
	require.ErrorIs(t, err, client.ErrUnknownFeatureView)
	_, err = env.client.GetOnline(ctx, []string{"stats"}, []string{"user_id"}, [][]any{{1}})
	require.ErrorIs(t, err, client.ErrInvalidArgument)
	require.ErrorContains(t, err, `feature view "stats" needs join key "region"`)
	_, err = env.client.GetOnline(ctx, []string{"stats"}, kn, [][]any{{"1", "eu"}})
	require.ErrorContains(t, err, `entity_rows[0]: join key "user_id": expected int64, got string`)

	// As-of reads are training-side: they need a split and must fall in it.
	past := time.Now().Add(-time.Hour)
	_, err = env.client.GetOnline(ctx, []string{"stats"}, kn, keys, client.AsOf(past))
	require.ErrorIs(t, err, client.ErrSplitRequired)
	_, err = env.client.CreateSplit(ctx, "jan", time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	_, err = env.client.GetOnline(ctx, []string{"stats"}, kn, keys, client.AsOf(past), client.UnderSplit("jan"))
	require.ErrorIs(t, err, client.ErrCutoffExceeded)
	var ce *client.Error
	require.ErrorAs(t, err, &ce)
	require.Equal(t, codes.FailedPrecondition, ce.Code)
	require.Equal(t, "1", ce.Metadata["offending_rows"])
	_, err = env.client.GetOnline(ctx, []string{"stats"}, kn, keys, client.AsOf(past), client.UnderSplit("nope"))
	require.ErrorIs(t, err, client.ErrUnknownSplit)
	_, err = env.client.CreateSplit(ctx, "jan", time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC))
	require.ErrorIs(t, err, client.ErrSplitExists)

	_, err = env.client.ApplyFeatureView(ctx, &timefencev1.FeatureView{Name: "stats", Entity: "user", Features: []*timefencev1.Feature{
		{Name: "clicks", Type: timefencev1.ValueType_VALUE_TYPE_STRING},
		{Name: "score", Type: timefencev1.ValueType_VALUE_TYPE_DOUBLE},
	}})
	require.ErrorIs(t, err, client.ErrSchemaMismatch)
}

// TestOnlinePlanFollowsDefinitions: online requests reuse their resolved
// features, but a definition change is seen by the very next request.
func TestOnlinePlanFollowsDefinitions(t *testing.T) {
	env := startServer(t)
	env.defineUsers(t, 0)
	ctx := context.Background()
	_, err := env.client.Write(ctx, "stats", []client.Row{{Key: []any{int64(1), "eu"}, EventTime: time.Now().Add(-time.Second), Values: []any{int64(5), 0.5}}})
	require.NoError(t, err)
	read := func() *client.OnlineResult {
		res, err := env.client.GetOnline(ctx, []string{"stats"}, []string{"user_id", "region"}, [][]any{{int64(1), "eu"}})
		require.NoError(t, err)
		return res
	}
	for range 3 {
		require.Equal(t, []string{"stats:clicks", "stats:score"}, read().Features)
	}
	_, err = env.client.ApplyFeatureView(ctx, &timefencev1.FeatureView{Name: "stats", Entity: "user", Features: []*timefencev1.Feature{
		{Name: "clicks", Type: timefencev1.ValueType_VALUE_TYPE_INT64},
		{Name: "score", Type: timefencev1.ValueType_VALUE_TYPE_DOUBLE},
		{Name: "label", Type: timefencev1.ValueType_VALUE_TYPE_STRING},
	}})
	require.NoError(t, err)
	res := read()
	require.Equal(t, []string{"stats:clicks", "stats:score", "stats:label"}, res.Features)
	require.Equal(t, int64(5), res.Rows[0][0].Value)
	require.Nil(t, res.Rows[0][2].Value, "the version predates the feature")
}
