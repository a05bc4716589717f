package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
	"github.com/timefence/timefence/storage"
)

// Read replicas (storage/replica.go holds the design). The primary streams
// a follower its incremental backups (Follow); the replica's server applies
// them as they come (FollowPrimary) and serves reads at the watermark it has
// applied. A read may ask for a minimum watermark (read-your-writes): a
// replica behind it waits, then refuses with its lag.

const (
	// followHeartbeat is how often the primary sends an increment when
	// nothing changed, so a replica knows it is caught up.
	followHeartbeat = time.Second
	// followMinGap spaces increments under a stream of writes: each one
	// carries what changed during the gap. The gap is also at least
	// followGapFactor times what the last increment took to read and send,
	// which bounds the primary's work for each follower to about a quarter
	// of a core however large its memtable, the part every increment scans.
	followMinGap    = 5 * time.Millisecond
	followGapFactor = 3
	// maxWatermarkWait bounds how long a read waits for its min_watermark.
	maxWatermarkWait = 5 * time.Second
	// maxFollowBackoff bounds the wait between attempts to reach the primary.
	maxFollowBackoff = 5 * time.Second
)

// Follow streams a replica the store's changes, one incremental backup after
// the other, until the replica hangs up or the server stops.
func (s *Server) Follow(req *timefencev1.FollowRequest, stream timefencev1.AdminService_FollowServer) error {
	a := req.GetAfter()
	if a.GetStoreId() == "" || a.GetNextSince() == 0 {
		return toStatus(invalid("after: the footer of the replica's last backup needs store_id and next_since"))
	}
	if w := s.store.Watermark(); a.GetWatermark() > w {
		return toStatus(&requestError{code: codes.FailedPrecondition, reason: ReasonDataLoss, msg: fmt.Sprintf(
			"the replica has applied versions up to watermark %d, but this store ends at %d: it is ahead of its primary (a primary restored from an older backup?). Start the replica again in an empty directory",
			a.GetWatermark(), w)})
	}
	after := storage.BackupInfo{StoreID: a.GetStoreId(), NextSince: a.GetNextSince(), Watermark: a.GetWatermark()}
	ctx := stream.Context()
	beat := time.NewTicker(followHeartbeat)
	defer beat.Stop()
	for {
		changes, began := s.store.Changes(), time.Now()
		w := bufio.NewWriterSize(chunkWriter(func(b []byte) error { return stream.Send(&timefencev1.FollowResponse{Chunk: b}) }), backupChunkBytes)
		info, err := s.store.Backup(ctx, w, &after)
		if err == nil {
			err = w.Flush()
		}
		if err == nil {
			err = stream.Send(&timefencev1.FollowResponse{Info: backupInfoProto(info)})
		}
		if err != nil {
			return toStatus(err)
		}
		after = info
		gap := max(followMinGap, followGapFactor*time.Since(began))
		select {
		case <-ctx.Done():
			return toStatus(ctx.Err())
		case <-s.stopping:
			return status.Error(codes.Unavailable, "the primary is stopping")
		case <-changes:
		case <-beat.C:
		}
		select {
		case <-ctx.Done():
		case <-time.After(gap):
		}
	}
}

// FollowPrimary keeps the store, a replica, up to date with the primary at
// the other end of conn, keeping increments under dir while they arrive. It
// returns when ctx is done, or with the primary's refusal when the primary
// cannot be followed (another store, or behind the replica).
func (s *Server) FollowPrimary(ctx context.Context, conn *grpc.ClientConn, dir string) error {
	if _, ok := s.store.ReplicaInfo(); !ok {
		return errors.New("the store is not a replica")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	admin := timefencev1.NewAdminServiceClient(conn)
	wait := 100 * time.Millisecond
	for ctx.Err() == nil {
		applied, err := s.followOnce(ctx, admin, dir)
		s.replicaMetrics.connected.Set(0)
		switch code := status.Code(err); {
		case ctx.Err() != nil:
			return ctx.Err()
		case code == codes.InvalidArgument || code == codes.FailedPrecondition || code == codes.Unimplemented:
			return fmt.Errorf("the primary refuses to be followed: %s", status.Convert(err).Message())
		case applied:
			wait = 100 * time.Millisecond
		}
		s.log.Warn("replica: lost the primary; trying again", "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, maxFollowBackoff)
	}
	return ctx.Err()
}

// followOnce follows the primary over one stream until it breaks, and says
// whether it applied anything.
func (s *Server) followOnce(ctx context.Context, admin timefencev1.AdminServiceClient, dir string) (applied bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	last, _ := s.store.ReplicaInfo()
	stream, err := admin.Follow(ctx, &timefencev1.FollowRequest{After: backupInfoProto(last)})
	if err != nil {
		return false, err
	}
	for {
		info, err := s.receiveIncrement(stream, dir)
		if err != nil {
			return applied, err
		}
		s.replicaMetrics.connected.Set(1)
		applied = true
		if info.Keys+info.Deletes > 0 {
			s.log.Debug("replica: applied an increment", "watermark", info.Watermark, "keys", info.Keys)
		}
	}
}

// receiveIncrement receives the next increment into a file under dir and
// applies it.
func (s *Server) receiveIncrement(stream timefencev1.AdminService_FollowClient, dir string) (storage.BackupInfo, error) {
	f, err := os.CreateTemp(dir, "increment-*.tfback")
	if err != nil {
		return storage.BackupInfo{}, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	for {
		msg, err := stream.Recv()
		if err != nil {
			return storage.BackupInfo{}, err
		}
		if _, err := bw.Write(msg.GetChunk()); err != nil {
			return storage.BackupInfo{}, err
		}
		if msg.GetInfo() != nil {
			break
		}
	}
	if err := bw.Flush(); err != nil {
		return storage.BackupInfo{}, err
	}
	info, err := s.store.ApplyIncrement(stream.Context(), f.Name())
	if err != nil {
		s.replicaMetrics.failed.Inc()
		// A damaged or refused increment is not applied; the stream starts
		// over from the last one applied.
		s.log.Error("replica: increment refused; fetching it again", "err", err)
		return info, status.Error(codes.Unavailable, err.Error())
	}
	s.replicaMetrics.applied.Inc()
	return info, nil
}

// awaitWatermark waits until the store's watermark reaches minWM (read your
// writes). A primary is never behind a watermark it gave out; a replica
// waits, within the call's deadline and maxWatermarkWait, then refuses with
// its lag.
func (s *Server) awaitWatermark(ctx context.Context, minWM int64) error {
	switch {
	case minWM < 0:
		return invalid(fmt.Sprintf("min_watermark: %d is negative", minWM))
	case minWM == 0 || s.store.Watermark() >= uint64(minWM):
		return nil
	}
	if _, ok := s.store.ReplicaInfo(); !ok {
		return invalid(fmt.Sprintf("min_watermark: %d is above this store's watermark %d; pass a watermark the store gave out, such as a write's last_seq",
			minWM, s.store.Watermark()))
	}
	// The refusal must reach the caller before its deadline does.
	wait := maxWatermarkWait
	if d, ok := ctx.Deadline(); ok {
		left := time.Until(d)
		wait = min(wait, left-max(left/10, 10*time.Millisecond))
	}
	got := s.store.WaitWatermark(ctx, uint64(minWM), wait)
	if got >= uint64(minWM) {
		return nil
	}
	last, _ := s.store.ReplicaInfo()
	return &requestError{code: codes.Unavailable, reason: ReasonReplicaBehind, msg: fmt.Sprintf(
		"this read replica is at watermark %d, behind min_watermark %d; it last caught up with its primary %s ago. Retry, or read from the primary",
		got, minWM, time.Since(time.Unix(0, last.Created)).Round(time.Millisecond))}
}

// replicaMetrics describe a replica's following of its primary.
type replicaMetrics struct {
	connected       prometheus.Gauge
	applied, failed prometheus.Counter
	watermark, lag  prometheus.GaugeFunc
}

func newReplicaMetrics(store Store) *replicaMetrics {
	lag := func() float64 {
		last, ok := store.ReplicaInfo()
		if !ok {
			return 0
		}
		return time.Since(time.Unix(0, last.Created)).Seconds()
	}
	return &replicaMetrics{
		connected: prometheus.NewGauge(prometheus.GaugeOpts{Name: "timefence_replica_connected",
			Help: "1 while the replica streams its primary's changes, 0 while it cannot reach it."}),
		applied: prometheus.NewCounter(prometheus.CounterOpts{Name: "timefence_replica_increments_applied_total",
			Help: "Increments of the primary's changes applied (heartbeats included)."}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{Name: "timefence_replica_increments_refused_total",
			Help: "Increments refused (damaged, out of order, or the disk full); each is fetched again."}),
		watermark: prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "timefence_replica_watermark",
			Help: "The watermark the replica serves: the last one it applied."}, func() float64 { return float64(store.Watermark()) }),
		lag: prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "timefence_replica_lag_seconds",
			Help: "Seconds since the replica last held everything its primary had: the age of the primary's snapshot in the last increment applied. The primary sends one at least every second."}, lag),
	}
}

func (m *replicaMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.connected, m.applied, m.failed, m.watermark, m.lag}
}
