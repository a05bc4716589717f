package client

import (
	"context"
	"time"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
	"github.com/timefence/timefence/internal/grpcbuf"
)

// Row is one version to write.
type Row struct {
	// Key holds the join key values in the entity's key order.
	Key       []any
	EventTime time.Time
	// Values holds one value per feature (see WithFeatures), of these Go
	// types, by the feature's type:
	//
	//	int64        int64 or int (int32 too: int32 widens to int64)
	//	int32        int32 (int64 or int too, if in range)
	//	double       float64          float        float32
	//	string       string           bytes        []byte
	//	bool         bool
	//	timestamp    time.Time (1678..2262)
	//	json         JSON, or json.RawMessage
	//	map          Map, or map[string]any (encoded as JSON)
	//	float_list   []float32        double_list  []float64 (or []float32)
	//	int32_list   []int32          int64_list   []int64, []int (or []int32)
	//	string_list  []string         bytes_list   [][]byte
	//	bool_list    []bool           timestamp_list []time.Time
	//
	// nil is null. A *timefencev1.Value is sent as it is. Online results
	// hold the same Go types (int64 for an int64 feature, JSON for json,
	// time.Time in UTC for a timestamp, ...).
	Values []any
	// Delete writes a tombstone for Key from EventTime on; Values is then
	// empty or all nil.
	Delete bool
	// AvailableAt is set only in a Backfill write.
	AvailableAt time.Time
}

// WriteResult describes an acknowledged, durable batch.
type WriteResult struct {
	FirstSeq, LastSeq int64 // the write sequence numbers of its versions
	CommitTime        time.Time
	Rows              int64
	// Duplicate: a batch of the same id and rows was written before, and
	// nothing was written again.
	Duplicate bool
}

// Write writes rows of view as one atomic, durable batch. Options:
// WithBatchID, WithFeatures, Backfill. Invalid rows return
// ErrInvalidArgument naming the row and field, and nothing is written.
func (c *Client) Write(ctx context.Context, view string, rows []Row, opts ...Option) (*WriteResult, error) {
	o, ctx, cancel, err := apply(ctx, "Write", opts, "WithBatchID", "WithFeatures", "Backfill")
	if err != nil {
		return nil, err
	}
	defer cancel()
	req, err := encodeWriteBatch(view, o, rows)
	if err != nil {
		return nil, err
	}
	resp := &timefencev1.WriteBatchResponse{}
	err = c.conn.Invoke(ctx, timefencev1.WriteService_WriteBatch_FullMethodName, grpcbuf.Encoded(req), resp)
	if err != nil {
		return nil, fromStatus(err)
	}
	return &WriteResult{FirstSeq: resp.GetFirstSeq(), LastSeq: resp.GetLastSeq(),
		CommitTime: resp.GetCommitTime().AsTime(), Rows: resp.GetRows(), Duplicate: resp.GetDuplicate()}, nil
}
