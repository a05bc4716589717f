package server_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/flight"
	"github.com/stretchr/testify/require"

	"github.com/timefence/timefence/internal/tmpfs"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
	"github.com/timefence/timefence/client"
	"github.com/timefence/timefence/server"
	"github.com/timefence/timefence/storage"
)

// skewOnceLogged polls the skew report until it has replayed want lookups:
// the log stores them in the background.
func skewOnceLogged(t *testing.T, c *client.Client, want int64) *timefencev1.GetSkewReportResponse {
	t.Helper()
	var rep *timefencev1.GetSkewReportResponse
	eventually(t, "the logged lookups to be stored", func() bool {
		var err error
		rep, err = c.SkewReport(context.Background(), time.Time{}, time.Time{}, 0)
		require.NoError(t, err)
		require.LessOrEqual(t, rep.GetLookups(), want)
		return rep.GetLookups() == want
	})
	return rep
}

// TestSkewReportIsZeroUnderLiveWrites: lookups logged while writes arrive
// replay to exactly what they served; a backfill that rewrites the past
// after them is reported with the version responsible.
func TestSkewReportIsZeroUnderLiveWrites(t *testing.T) {
	env := startLimited(t, server.DefaultConfig())
	ctx := context.Background()
	base := time.Now().Add(-time.Hour)
	write := func(user int, clicks int64, opts ...client.Option) {
		rows := []client.Row{{Key: []any{user, "eu"}, EventTime: base.Add(time.Duration(clicks) * time.Millisecond), Values: []any{clicks, float64(clicks) / 2}}}
		_, err := env.client.Write(ctx, "stats", rows, opts...)
		require.NoError(t, err)
	}
	for u := range 8 {
		write(u, int64(u))
	}

	// A writer and two readers at once; every lookup is logged.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for n := int64(100); ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			write(int(n%8), n)
		}
	}()
	var mu sync.Mutex
	var served []*client.OnlineResult
	for r := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(r), 1))
			for range 60 {
				keys := [][]any{{rng.IntN(10), "eu"}, {rng.IntN(10), "eu"}} // users 8 and 9 have no versions
				res, err := env.client.GetOnline(ctx, []string{"stats"}, []string{"user_id", "region"}, keys, client.Logged())
				require.NoError(t, err)
				require.Len(t, res.RequestID, 16)
				mu.Lock()
				served = append(served, res)
				mu.Unlock()
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wg.Wait()

	rep := skewOnceLogged(t, env.client, 120)
	require.Equal(t, int64(120*2*2), rep.GetValues())
	require.Zero(t, rep.GetMismatches(), "examples: %v", rep.GetExamples())
	require.Len(t, rep.GetFeatures(), 2)
	require.Equal(t, "stats:clicks", rep.GetFeatures()[0].GetFeature())
	require.Equal(t, int64(240), rep.GetFeatures()[0].GetValues())

	// A backfill after the lookups, available before them: what a training
	// join reads now is not what production served.
	first := served[0]
	for _, res := range served {
		if res.ReadTime.Before(first.ReadTime) {
			first = res
		}
	}
	_, err := env.client.Write(ctx, "stats", []client.Row{{Key: []any{3, "eu"}, EventTime: base.Add(time.Hour / 2),
		AvailableAt: first.ReadTime.Add(-time.Millisecond), Values: []any{int64(-7), -3.5}}}, client.Backfill())
	require.NoError(t, err)
	rep, err = env.client.SkewReport(ctx, time.Time{}, time.Time{}, 5)
	require.NoError(t, err)
	require.Equal(t, int64(120), rep.GetLookups())
	require.Positive(t, rep.GetMismatches())
	require.Equal(t, rep.GetMismatches(), rep.GetFeatures()[0].GetMismatches()+rep.GetFeatures()[1].GetMismatches())
	require.Equal(t, rep.GetFeatures()[0].GetMismatches(), rep.GetFeatures()[1].GetMismatches(), "both features of the backfilled version")
	require.Len(t, rep.GetExamples(), min(5, int(rep.GetMismatches())))
	ex := rep.GetExamples()[0]
	require.Equal(t, `user_id=3, region="eu"`, ex.GetEntityKey())
	require.Contains(t, []string{"stats:clicks", "stats:score"}, ex.GetFeature())
	require.NotEqual(t, ex.GetServed().GetValue(), ex.GetReplayed().GetValue())
	require.Contains(t, []string{"-7", "-3.5"}, ex.GetReplayed().GetValue())
	require.True(t, ex.GetReplayed().GetBackfilled())
	require.Greater(t, ex.GetReplayed().GetSeq(), ex.GetWatermark())
	require.Contains(t, ex.GetCause(), "was backfilled after the lookup")
	require.Contains(t, ex.GetCause(), "training reads it, production never served it")

	// Lookups before the backfill's available-at time are not affected.
	rep, err = env.client.SkewReport(ctx, time.Time{}, first.ReadTime.Add(-2*time.Millisecond), 0)
	require.NoError(t, err)
	require.Zero(t, rep.GetLookups())
}

// TestServingLogChoosesLookups: the sample rate, the request's own choice,
// its request id, and reads as of a past time (never logged).
func TestServingLogChoosesLookups(t *testing.T) {
	ctx := context.Background()
	keys := [][]any{{1, "eu"}}
	t.Run("rate 0 logs only what asks", func(t *testing.T) {
		env := startLimited(t, server.DefaultConfig())
		res, err := env.client.GetOnline(ctx, []string{"stats:clicks"}, []string{"user_id", "region"}, keys)
		require.NoError(t, err)
		require.Empty(t, res.RequestID)
		res, err = env.client.GetOnline(ctx, []string{"stats:clicks"}, []string{"user_id", "region"}, keys,
			client.Logged(), client.WithRequestID("req-42"), client.WithContext(map[string]any{"device": "ios", "n": 3}))
		require.NoError(t, err)
		require.Equal(t, "req-42", res.RequestID)
		// A read as of a past time is a training-side read: not logged.
		res, err = env.client.GetOnline(ctx, []string{"stats:clicks"}, []string{"user_id", "region"}, keys,
			client.Logged(), client.AsOf(time.Now().Add(-time.Minute)), client.UnderSplit("all"))
		require.NoError(t, err)
		require.Empty(t, res.RequestID)
		require.Zero(t, skewOnceLogged(t, env.client, 1).GetMismatches())
	})
	t.Run("rate 1 logs every read at now", func(t *testing.T) {
		cfg := server.DefaultConfig()
		cfg.ServingLogRate = 1
		env := startLimited(t, cfg)
		for range 5 {
			res, err := env.client.GetOnline(ctx, []string{"stats"}, []string{"user_id", "region"}, keys)
			require.NoError(t, err)
			require.NotEmpty(t, res.RequestID)
		}
		skewOnceLogged(t, env.client, 5)
		eventually(t, "the metric to count them", func() bool {
			return sample(t, scrape(t, env.srv), "timefence_serving_log_records_total", "result", "logged") == 5
		})
	})
	t.Run("a view's rate logs its lookups", func(t *testing.T) {
		env := startLimited(t, server.DefaultConfig())
		view, err := env.client.GetFeatureView(ctx, "stats")
		require.NoError(t, err)
		view.ServingLogRate, view.Version = 1, 0
		_, err = env.client.ApplyFeatureView(ctx, view)
		require.NoError(t, err)
		res, err := env.client.GetOnline(ctx, []string{"stats:clicks"}, []string{"user_id", "region"}, keys)
		require.NoError(t, err)
		require.NotEmpty(t, res.RequestID)
		view.ServingLogRate = 1.5
		_, err = env.client.ApplyFeatureView(ctx, view)
		require.Equal(t, codes.InvalidArgument, codeOf(err))
		require.ErrorContains(t, err, `feature view "stats": serving_log_rate 1.5 is not between 0 and 1`)
		skewOnceLogged(t, env.client, 1)
	})
	t.Run("bad log fields are refused", func(t *testing.T) {
		env := startLimited(t, server.DefaultConfig())
		_, err := env.client.GetOnline(ctx, []string{"stats"}, []string{"user_id", "region"}, keys,
			client.Logged(), client.WithRequestID(strings.Repeat("x", 129)))
		require.Equal(t, codes.InvalidArgument, codeOf(err))
		require.ErrorContains(t, err, "request_id: 129 bytes, at most 128")
		rep, err := env.client.SkewReport(ctx, time.Time{}, time.Time{}, 0)
		require.NoError(t, err)
		require.Zero(t, rep.GetLookups())
	})
}

// TestServingLogDropsWhenFull: a queue with no room drops the record and
// counts it; the lookup itself is served, without a request id.
func TestServingLogDropsWhenFull(t *testing.T) {
	cfg := server.DefaultConfig()
	cfg.ServingLogQueueBytes = 100 // less than any record
	env := startLimited(t, cfg)
	res, err := env.client.GetOnline(context.Background(), []string{"stats"}, []string{"user_id", "region"}, [][]any{{1, "eu"}}, client.Logged())
	require.NoError(t, err)
	require.Empty(t, res.RequestID)
	require.Equal(t, 1.0, sample(t, scrape(t, env.srv), "timefence_serving_log_records_total", "result", "dropped_queue_full"))
}

// TestServingLogSurvivesRestart: lookups served before a graceful stop are
// stored before it returns.
func TestServingLogSurvivesRestart(t *testing.T) {
	env := startServer(t)
	env.defineUsers(t, 0)
	ctx := context.Background()
	for range 50 {
		_, err := env.client.GetOnline(ctx, []string{"stats"}, []string{"user_id", "region"}, [][]any{{1, "eu"}}, client.Logged())
		require.NoError(t, err)
	}
	env.restart(t)
	rep, err := env.client.SkewReport(ctx, time.Time{}, time.Time{}, 0)
	require.NoError(t, err)
	require.Equal(t, int64(50), rep.GetLookups())
	require.Zero(t, rep.GetMismatches())
}

// TestServingLogTable: the log read as a table under a split holds what was
// served, row by row, and only lookups read within the split's window.
func TestServingLogTable(t *testing.T) {
	env := startLimited(t, server.DefaultConfig())
	ctx := context.Background()
	now := time.Now()
	_, err := env.client.Write(ctx, "stats", []client.Row{
		{Key: []any{1, "eu"}, EventTime: now.Add(-time.Minute), Values: []any{int64(10), 0.5}},
		{Key: []any{2, "eu"}, EventTime: now.Add(-time.Minute), Values: []any{nil, 1.5}},
	})
	require.NoError(t, err)
	keys := [][]any{{1, "eu"}, {2, "eu"}, {3, "eu"}}
	first, err := env.client.GetOnline(ctx, []string{"stats"}, []string{"user_id", "region"}, keys,
		client.Logged(), client.WithRequestID("r1"), client.WithContext(map[string]any{"device": "ios", "basket": 3}))
	require.NoError(t, err)
	// Another lookup of one feature only, and one read later.
	_, err = env.client.GetOnline(ctx, []string{"stats:clicks"}, []string{"user_id", "region"}, keys[:1], client.Logged(), client.WithRequestID("r2"))
	require.NoError(t, err)
	time.Sleep(5 * time.Millisecond)
	cut := time.Now()
	_, err = env.client.GetOnline(ctx, []string{"stats"}, []string{"region", "user_id"}, [][]any{{"eu", 2}}, client.Logged(), client.WithRequestID("r3"))
	require.NoError(t, err)

	read := func(split string, features ...string) ([]map[string]any, *client.ServingLogSummary) {
		var rows []map[string]any
		sum, err := env.client.ServingLog(ctx, split, features, func(rec arrow.Record) error {
			for i := range int(rec.NumRows()) {
				row := map[string]any{}
				for j, f := range rec.Schema().Fields() {
					if rec.Column(j).IsNull(i) {
						row[f.Name] = nil
					} else {
						row[f.Name] = rec.Column(j).GetOneForMarshal(i)
					}
				}
				rows = append(rows, row)
			}
			return nil
		})
		require.NoError(t, err)
		return rows, sum
	}
	rows, sum := read("all", "stats")
	require.Equal(t, &client.ServingLogSummary{Split: "all", Lookups: 2, Rows: 4}, sum, "r2 did not serve stats:score")
	require.Equal(t, "r1", rows[0]["request_id"])
	require.Equal(t, []any{int32(0), int64(1), "eu", `{"basket":3,"device":"ios"}`, int64(10), 0.5},
		[]any{rows[0]["row"], rows[0]["user_id"], rows[0]["region"], rows[0]["context"], rows[0]["stats:clicks"], rows[0]["stats:score"]})
	require.Equal(t, []any{int32(1), int64(2), nil, 1.5}, []any{rows[1]["row"], rows[1]["user_id"], rows[1]["stats:clicks"], rows[1]["stats:score"]})
	require.Equal(t, []any{int32(2), int64(3), nil, nil}, []any{rows[2]["row"], rows[2]["user_id"], rows[2]["stats:clicks"], rows[2]["stats:score"]})
	require.Equal(t, []any{"r3", int32(0), int64(2), "eu", nil}, []any{rows[3]["request_id"], rows[3]["row"], rows[3]["user_id"], rows[3]["region"], rows[3]["context"]})
	require.Equal(t, first.Rows[0][0].Value, rows[0]["stats:clicks"])

	rows, sum = read("all", "stats:clicks")
	require.Equal(t, int64(3), sum.Lookups)
	require.Len(t, rows, 5)

	// Under a split that ends before r3, r3 is not in the table.
	_, err = env.client.CreateSplit(ctx, "early", now.Add(-time.Hour), cut)
	require.NoError(t, err)
	rows, sum = read("early", "stats")
	require.Equal(t, int64(1), sum.Lookups)
	require.Len(t, rows, 3)
	for _, r := range rows {
		require.Equal(t, "r1", r["request_id"])
	}

	// Without a split it is refused, as every training-side read is.
	_, err = env.client.ServingLog(ctx, "", []string{"stats"}, func(arrow.Record) error { return nil })
	require.ErrorIs(t, err, client.ErrSplitRequired)
}

// TestServingLogBadInput: malformed requests to the new endpoints get a clear
// error naming what is wrong, and nothing is logged or written.
func TestServingLogBadInput(t *testing.T) {
	env := startLimited(t, server.DefaultConfig())
	ctx := context.Background()
	logs := timefencev1.NewServingLogServiceClient(env.client.Conn())
	now := time.Now()
	for _, c := range []struct {
		req  *timefencev1.GetSkewReportRequest
		want string
	}{
		{&timefencev1.GetSkewReportRequest{Since: timestamppb.New(now), Until: timestamppb.New(now.Add(-time.Hour))}, "since: after until"},
		{&timefencev1.GetSkewReportRequest{MaxMismatches: -1}, "max_mismatches: -1, want 0 to 10000"},
		{&timefencev1.GetSkewReportRequest{MaxMismatches: 10_001}, "max_mismatches: 10001, want 0 to 10000"},
		{&timefencev1.GetSkewReportRequest{Since: &timestamppb.Timestamp{Seconds: 1, Nanos: -5}}, "since"},
	} {
		_, err := logs.GetSkewReport(ctx, c.req)
		require.Equal(t, codes.InvalidArgument, codeOf(err), c.want)
		require.Contains(t, messageOf(err), c.want)
	}

	keys := [][]any{{1, "eu"}}
	for _, c := range []struct {
		ctx  map[string]any
		want string
	}{
		{map[string]any{"": 1}, "context: an entry has an empty name"},
	} {
		_, err := env.client.GetOnline(ctx, []string{"stats"}, []string{"user_id", "region"}, keys, client.Logged(), client.WithContext(c.ctx))
		require.Equal(t, codes.InvalidArgument, codeOf(err))
		require.ErrorContains(t, err, c.want)
	}
	online := timefencev1.NewOnlineServiceClient(env.client.Conn())
	req := &timefencev1.GetOnlineFeaturesRequest{Features: []string{"stats"}, JoinKeys: []string{"user_id", "region"}, Log: true,
		EntityRows: []*timefencev1.EntityRow{{Values: []*timefencev1.Value{{Kind: &timefencev1.Value_Int64Value{Int64Value: 1}}, {Kind: &timefencev1.Value_StringValue{StringValue: "eu"}}}}},
		Context:    map[string]*timefencev1.Value{"device": {}}}
	_, err := online.GetOnlineFeatures(ctx, req)
	require.Equal(t, codes.InvalidArgument, codeOf(err))
	require.Contains(t, messageOf(err), `context["device"]: the value has no kind set`)
	req.Context = map[string]*timefencev1.Value{}
	for i := range 257 {
		req.Context[fmt.Sprint("k", i)] = &timefencev1.Value{Kind: &timefencev1.Value_Int64Value{Int64Value: 1}}
	}
	_, err = online.GetOnlineFeatures(ctx, req)
	require.Contains(t, messageOf(err), "context: 257 entries, at most 256")

	// The serving log's table: a missing split, an unknown split, no
	// features, an unknown feature, an unknown field.
	fc := flight.NewClientFromConn(env.client.Conn(), nil)
	for ticket, want := range map[string]string{
		`{"op":"serving_log","features":["stats"]}`:                     "split: a training-side read",
		`{"op":"serving_log","split":"nope","features":["stats"]}`:      `split: unknown split "nope"`,
		`{"op":"serving_log","split":"all"}`:                            "features: name the features served",
		`{"op":"serving_log","split":"all","features":["stats:nope"]}`:  `feature view "stats" has no feature "nope"`,
		`{"op":"serving_log","split":"all","features":["stats"],"x":1}`: `unknown field "x"`,
	} {
		stream, err := fc.DoGet(ctx, &flight.Ticket{Ticket: []byte(ticket)})
		if err == nil {
			_, err = stream.Recv()
		}
		require.Error(t, err, ticket)
		require.Contains(t, messageOf(err), want, ticket)
	}

	// Nothing of any refused request was logged.
	rep, err := env.client.SkewReport(ctx, time.Time{}, time.Time{}, 0)
	require.NoError(t, err)
	require.Zero(t, rep.GetLookups())
}

// TestServingLogOnFullDisk fills a small tmpfs holding the data directory:
// lookups are still served, the log's records are dropped and counted, not
// half written, and logging resumes once space returns.
func TestServingLogOnFullDisk(t *testing.T) {
	dir := tmpfs.Mount(t, "96m")
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := storage.Open(storage.DefaultOptions(dir).WithLogger(quiet).WithMemTableBytes(2 << 20).WithReserveBytes(16 << 20))
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	cfg := server.DefaultConfig()
	cfg.Logger = quiet
	srv := server.New(st, cfg)
	c, stop := serveOn(t, srv)
	t.Cleanup(stop)
	(&testEnv{client: c, store: st}).defineUsers(t, 0)
	ctx := context.Background()
	lookup := func() {
		res, err := c.GetOnline(ctx, []string{"stats"}, []string{"user_id", "region"}, [][]any{{1, "eu"}}, client.Logged())
		require.NoError(t, err, "the lookup is served whatever the log's disk")
		require.NotEmpty(t, res.RequestID)
	}

	// Leave 4 MiB free: less than half the 16 MiB reserve, which the log,
	// like manifests, keeps free.
	filler := tmpfs.Fill(t, dir, 4<<20)

	lookup()
	rep, err := c.SkewReport(ctx, time.Time{}, time.Time{}, 0) // stores the queue first
	require.NoError(t, err)
	require.Zero(t, rep.GetLookups())
	require.Equal(t, 1.0, sample(t, scrape(t, srv), "timefence_serving_log_records_total", "result", "dropped_error"))

	require.NoError(t, os.Remove(filler))
	lookup()
	rep, err = c.SkewReport(ctx, time.Time{}, time.Time{}, 0)
	require.NoError(t, err)
	require.Equal(t, int64(1), rep.GetLookups())
	require.Zero(t, rep.GetMismatches())
	require.Equal(t, 1.0, sample(t, scrape(t, srv), "timefence_serving_log_records_total", "result", "logged"))
}
