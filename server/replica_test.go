package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
	"github.com/timefence/timefence/client"
	"github.com/timefence/timefence/server"
	"github.com/timefence/timefence/storage"
)

// replicaEnv is a read replica of a testEnv's server, itself a real server
// on loopback, following the primary over a real stream.
type replicaEnv struct {
	store    *storage.Store
	client   *client.Client
	srv      *server.Server
	primary  *client.Client
	dir      string
	unfollow func() error // stops following; returns FollowPrimary's error
}

// startReplica copies the primary's store with a full backup over the API,
// starts a replica server on it and follows the primary.
func startReplica(t *testing.T, primary *testEnv) *replicaEnv {
	t.Helper()
	ctx := context.Background()
	r := &replicaEnv{dir: filepath.Join(t.TempDir(), "replica")}
	full := filepath.Join(t.TempDir(), "full")
	f, err := os.Create(full)
	require.NoError(t, err)
	_, err = primary.client.Backup(ctx, f, nil)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	_, err = storage.InitReplica(r.dir, full)
	require.NoError(t, err)
	opts := testStoreOptions(r.dir)
	opts.ReplicaOf = primary.addr
	r.store, err = storage.Open(opts)
	require.NoError(t, err)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	cfg := server.DefaultConfig()
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	r.srv = server.New(r.store, cfg)
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.srv.Serve(sctx, lis) }()
	r.client, err = client.Dial(lis.Addr().String())
	require.NoError(t, err)
	r.primary, err = client.Dial(primary.addr)
	require.NoError(t, err)
	r.follow()
	t.Cleanup(func() {
		r.unfollow()
		r.client.Close()
		r.primary.Close()
		stop()
		require.NoError(t, <-done)
		require.NoError(t, r.store.Close())
	})
	return r
}

// follow starts following the primary.
func (r *replicaEnv) follow() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.srv.FollowPrimary(ctx, r.primary.Conn(), filepath.Join(r.dir, "incoming")) }()
	r.unfollow = sync.OnceValue(func() error { cancel(); return <-done })
}

// caughtUp waits until the replica serves watermark w.
func (r *replicaEnv) caughtUp(t *testing.T, w uint64) {
	t.Helper()
	_, err := r.client.GetOnline(context.Background(), []string{"stats:clicks"}, []string{"user_id", "region"}, [][]any{{int64(0), "eu"}},
		client.MinWatermark(w), client.WithTimeout(30*time.Second))
	require.NoError(t, err)
	require.GreaterOrEqual(t, r.store.Watermark(), w)
}

// TestReplicas runs a primary and two replicas on loopback: reads of one's
// own writes, parity of online reads, joins and exports at equal watermarks
// under concurrent writes, a catch-up after a long disconnect that brings a
// new view and split, and the refusals.
func TestReplicas(t *testing.T) {
	env := startServer(t)
	env.defineUsers(t, 0)
	ctx := context.Background()
	reps := []*replicaEnv{startReplica(t, env), startReplica(t, env)}
	keys := [][]any{}
	for u := range int64(8) {
		keys = append(keys, []any{u, "eu"}, []any{u, "us"})
	}

	// Read your writes: each write is read on a replica at once, with the
	// write's last seq as the minimum watermark. Meanwhile joins on the
	// primary are re-read on the replicas by their dataset ids, pinned to
	// the primary's watermark while writes go on.
	var wg sync.WaitGroup
	writing := make(chan struct{})
	rereads := 0
	joined := make(chan struct{})
	go func() {
		defer close(joined)
		for i := 0; ; i++ {
			select {
			case <-writing:
				return
			default:
			}
			times := make([]time.Time, len(keys))
			for j := range times {
				times[j] = time.Now()
			}
			join := func(c *client.Client, opts ...client.Option) (*client.JoinSummary, error) {
				spine, err := client.NewSpine([]string{"user_id", "region"}, keys, times)
				if err != nil {
					return nil, err
				}
				return c.GetHistorical(ctx, "all", []string{"stats"}, spine, func(arrow.Record) error { return nil }, opts...)
			}
			first, err := join(env.client)
			if !assertNoError(t, err) {
				return
			}
			var again *client.JoinSummary
			for wait := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
				again, err = join(reps[i%2].client, client.WithDatasetID(first.DatasetID), client.MinWatermark(first.Watermark))
				if !errors.Is(err, client.ErrUnknownDataset) || time.Now().After(wait) {
					break // the manifest arrives with an increment after the join's watermark
				}
			}
			if !assertNoError(t, err) {
				return
			}
			if again.Checksum != first.Checksum || again.Watermark != first.Watermark {
				t.Errorf("dataset %s re-read on a replica: checksum %s at watermark %d, want %s at %d",
					first.DatasetID, again.Checksum, again.Watermark, first.Checksum, first.Watermark)
			}
			rereads++
		}
	}()
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 5))
			for i := range 40 {
				k := keys[rng.IntN(len(keys))]
				want := int64(w*1000 + i)
				res, err := env.client.Write(ctx, "stats", []client.Row{{Key: k, EventTime: time.Now().Add(-time.Duration(rng.IntN(5)) * time.Millisecond),
					Values: []any{want, rng.Float64()}}})
				if !assertNoError(t, err) {
					return
				}
				rep := reps[i%2]
				got, err := rep.client.GetOnline(ctx, []string{"stats:clicks"}, []string{"user_id", "region"}, [][]any{k},
					client.MinWatermark(res.LastSeq), client.WithTimeout(30*time.Second))
				if !assertNoError(t, err) {
					return
				}
				if got.Watermark < res.LastSeq {
					t.Errorf("read at watermark %d after a write of seq %d", got.Watermark, res.LastSeq)
				}
			}
		}()
	}
	wg.Wait()
	close(writing)
	<-joined
	require.Positive(t, rereads, "a dataset was re-read on a replica while writes went on")

	// Parity: the same reads at the same watermark and time answer alike.
	w := env.store.Watermark()
	for _, r := range reps {
		r.caughtUp(t, w)
	}
	at := time.Now()
	checkParity(t, env.client, reps, keys, at, w)

	// A long disconnect: one replica stops following while the primary
	// takes writes, a new view and a split; back, it catches up.
	require.ErrorIs(t, reps[1].unfollow(), context.Canceled)
	_, err := env.client.ApplyFeatureView(ctx, &timefencev1.FeatureView{Name: "later", Entity: "user", Features: []*timefencev1.Feature{
		{Name: "n", Type: timefencev1.ValueType_VALUE_TYPE_INT64}}})
	require.NoError(t, err)
	var last *client.WriteResult
	for i := range 200 {
		last, err = env.client.Write(ctx, "later", []client.Row{{Key: keys[i%len(keys)], EventTime: time.Now(), Values: []any{int64(i)}}})
		require.NoError(t, err)
	}
	_, err = env.client.CreateSplit(ctx, "recent", at, time.Now())
	require.NoError(t, err)
	behind := reps[1].store.Watermark()
	_, err = reps[1].client.GetOnline(ctx, []string{"later:n"}, []string{"user_id", "region"}, keys[:1],
		client.MinWatermark(last.LastSeq), client.WithTimeout(200*time.Millisecond))
	require.ErrorIs(t, err, client.ErrReplicaBehind)
	require.ErrorContains(t, err, fmt.Sprintf("this read replica is at watermark %d, behind min_watermark %d", behind, last.LastSeq))
	reps[1].follow()
	w = env.store.Watermark()
	for _, r := range reps {
		r.caughtUp(t, w)
		sp, err := r.client.GetSplit(ctx, "recent")
		require.NoError(t, err)
		require.Equal(t, "recent", sp.GetName())
	}
	checkParity(t, env.client, reps, keys, time.Now(), w)
	for _, r := range reps {
		got, err := r.client.GetOnline(ctx, []string{"later:n"}, []string{"user_id", "region"}, keys, client.MinWatermark(w))
		require.NoError(t, err)
		want, err := env.client.GetOnline(ctx, []string{"later:n"}, []string{"user_id", "region"}, keys,
			client.AsOf(got.ReadTime), client.UnderSplit("all"))
		require.NoError(t, err)
		require.Equal(t, want.Rows, got.Rows)
	}

	// The guard on a replica: a split created on the primary arrives with an
	// increment, and a spine with one row after its cutoff is refused whole.
	cut := time.Now()
	_, err = env.client.CreateSplit(ctx, "before_cut", cut.Add(-time.Hour), cut)
	require.NoError(t, err)
	reps[0].caughtUp(t, env.store.Watermark())
	for wait := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if _, err := reps[0].client.GetSplit(ctx, "before_cut"); err == nil || time.Now().After(wait) {
			break
		}
	}
	spine, err := client.NewSpine([]string{"user_id", "region"}, keys[:2], []time.Time{cut.Add(-time.Minute), cut.Add(time.Millisecond)})
	require.NoError(t, err)
	rows := 0
	_, err = reps[0].client.GetHistorical(ctx, "before_cut", []string{"stats"}, spine, func(r arrow.Record) error {
		rows += int(r.NumRows())
		return nil
	})
	require.ErrorIs(t, err, client.ErrCutoffExceeded)
	require.Zero(t, rows, "nothing streamed")

	// Refusals: writes and definitions on a replica name the primary; a
	// primary is never behind a watermark, so one above its own is a
	// mistake.
	_, err = reps[0].client.Write(ctx, "stats", []client.Row{{Key: keys[0], EventTime: time.Now(), Values: []any{int64(1), 1.0}}})
	require.ErrorIs(t, err, client.ErrReadOnly)
	require.ErrorContains(t, err, "read replica")
	require.ErrorContains(t, err, env.addr)
	_, err = reps[0].client.CreateSplit(ctx, "x", at, at)
	require.ErrorIs(t, err, client.ErrReadOnly)
	_, err = env.client.GetOnline(ctx, []string{"stats"}, []string{"user_id", "region"}, keys[:1], client.MinWatermark(w+1000))
	require.ErrorIs(t, err, client.ErrInvalidArgument)
	require.ErrorContains(t, err, "min_watermark")
	_, err = env.client.GetOnline(ctx, []string{"stats"}, []string{"user_id", "region"}, keys[:1], client.MinWatermark(int64(-1)))
	require.ErrorIs(t, err, client.ErrInvalidArgument)
}

func assertNoError(t *testing.T, err error) bool {
	t.Helper()
	if err != nil {
		t.Error(err)
		return false
	}
	return true
}

// checkParity compares the primary and the replicas, all at watermark w:
// online reads as of at, a point-in-time join re-read by its dataset id, and
// an export.
func checkParity(t *testing.T, primary *client.Client, reps []*replicaEnv, keys [][]any, at time.Time, w uint64) {
	t.Helper()
	ctx := context.Background()
	want, err := primary.GetOnline(ctx, []string{"stats"}, []string{"user_id", "region"}, keys, client.AsOf(at), client.UnderSplit("all"))
	require.NoError(t, err)
	spineTimes := make([]time.Time, len(keys))
	for i := range keys {
		spineTimes[i] = at.Add(-time.Duration(i) * time.Millisecond)
	}
	join := func(c *client.Client, opts ...client.Option) (*client.JoinSummary, []arrow.Record) {
		spine, err := client.NewSpine([]string{"user_id", "region"}, keys, spineTimes)
		require.NoError(t, err)
		var recs []arrow.Record
		sum, err := c.GetHistorical(ctx, "all", []string{"stats"}, spine, func(r arrow.Record) error {
			r.Retain()
			recs = append(recs, r)
			return nil
		}, opts...)
		require.NoError(t, err)
		return sum, recs
	}
	first, firstRecs := join(primary)
	require.Equal(t, w, first.Watermark, "nothing was written meanwhile")
	exp, err := primary.Export(ctx, "all", "stats", func(arrow.Record) error { return nil })
	require.NoError(t, err)
	for _, r := range reps {
		require.Equal(t, w, r.store.Watermark())
		got, err := r.client.GetOnline(ctx, []string{"stats"}, []string{"user_id", "region"}, keys, client.AsOf(at), client.UnderSplit("all"))
		require.NoError(t, err)
		require.Equal(t, want.Rows, got.Rows)
		require.Equal(t, want.Watermark, got.Watermark)

		// A join on the replica reads what the primary's did, and re-reads the
		// primary's dataset once its manifest has arrived.
		mine, recs := join(r.client)
		require.Equal(t, first.Checksum, mine.Checksum)
		require.Equal(t, first.DatasetID, mine.DatasetID)
		require.Equal(t, len(firstRecs), len(recs))
		for i := range recs {
			require.True(t, array.RecordEqual(firstRecs[i], recs[i]), "record %d", i)
		}
		again, _ := join(r.client, client.WithDatasetID(first.DatasetID))
		require.Equal(t, first.Checksum, again.Checksum)

		rexp, err := r.client.Export(ctx, "all", "stats", func(arrow.Record) error { return nil })
		require.NoError(t, err)
		require.Equal(t, exp.Checksum, rexp.Checksum)
		require.Equal(t, exp.Rows, rexp.Rows)
	}
}

// TestFollowRefusesAReplicaAhead: a replica that asks to follow from a
// watermark the primary never reached is refused, since it would have to
// roll back.
func TestFollowRefusesAReplicaAhead(t *testing.T) {
	env := startServer(t)
	env.defineUsers(t, 0)
	stream, err := timefencev1.NewAdminServiceClient(env.client.Conn()).Follow(context.Background(), &timefencev1.FollowRequest{
		After: &timefencev1.BackupInfo{StoreId: env.store.ID(), NextSince: 1, Watermark: 1 << 40}})
	require.NoError(t, err)
	_, err = stream.Recv()
	require.Equal(t, codes.FailedPrecondition, codeOf(err))
	require.Contains(t, messageOf(err), "ahead of its primary")

	// Malformed: no position, and a position in another store.
	admin := timefencev1.NewAdminServiceClient(env.client.Conn())
	for _, tc := range []struct {
		after *timefencev1.BackupInfo
		msg   string
	}{
		{nil, "after: the footer of the replica's last backup needs store_id and next_since"},
		{&timefencev1.BackupInfo{StoreId: "0123", NextSince: 1}, "the earlier backup is of store 0123"},
	} {
		stream, err := admin.Follow(context.Background(), &timefencev1.FollowRequest{After: tc.after})
		require.NoError(t, err)
		_, err = stream.Recv()
		require.Equal(t, codes.InvalidArgument, codeOf(err))
		require.Contains(t, messageOf(err), tc.msg)
	}
}

// TestStalledFollowerIsCut: a follower that stops reading is cut by the
// stream idle limit once the stream's flow-control window is full, so it
// holds no more than that window on the primary.
func TestStalledFollowerIsCut(t *testing.T) {
	cfg := server.DefaultConfig()
	cfg.StreamIdleTimeout = 300 * time.Millisecond
	c, st, stop := startWith(t, cfg)
	defer stop()
	env := &testEnv{client: c, store: st}
	env.defineUsers(t, 0)
	ctx := context.Background()
	full, err := c.Backup(ctx, io.Discard, nil)
	require.NoError(t, err)
	stream, err := timefencev1.NewAdminServiceClient(c.Conn()).Follow(ctx, &timefencev1.FollowRequest{After: full})
	require.NoError(t, err)
	// Megabytes of changes while the follower reads nothing.
	for i := range 40 {
		rows := make([]client.Row, 500)
		for j := range rows {
			rows[j] = client.Row{Key: []any{int64(i*500 + j), "eu"}, EventTime: time.Now(), Values: []any{int64(j), float64(j)}}
		}
		_, err := c.Write(ctx, "stats", rows)
		require.NoError(t, err)
	}
	time.Sleep(time.Second)
	for {
		if _, err = stream.Recv(); err != nil {
			break
		}
	}
	require.Equal(t, codes.DeadlineExceeded, codeOf(err), "%v", err)
	require.Contains(t, messageOf(err), "nothing for 300ms")
}
