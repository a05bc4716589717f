package client

import (
	"context"
	"crypto/tls"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
)

// Client talks to one timefence server. It is safe for concurrent use.
type Client struct {
	conn     *grpc.ClientConn
	Registry timefencev1.RegistryServiceClient
	writer   timefencev1.WriteServiceClient
	online   timefencev1.OnlineServiceClient
	Datasets timefencev1.DatasetServiceClient
	admin    timefencev1.AdminServiceClient
}

type dialConfig struct {
	tls   *tls.Config
	token string
	extra []grpc.DialOption
}

// DialOption configures Dial.
type DialOption func(*dialConfig)

// WithTLS connects over TLS with cfg. Without it the connection is plaintext.
func WithTLS(cfg *tls.Config) DialOption { return func(c *dialConfig) { c.tls = cfg } }

// WithToken sends token as a bearer token on every call.
func WithToken(token string) DialOption { return func(c *dialConfig) { c.token = token } }

// WithGRPCOptions adds raw gRPC dial options.
func WithGRPCOptions(opts ...grpc.DialOption) DialOption {
	return func(c *dialConfig) { c.extra = append(c.extra, opts...) }
}

// Dial connects to the server at target ("host:port"). The connection is
// made lazily; the first call reports an unreachable server.
func Dial(target string, opts ...DialOption) (*Client, error) {
	var cfg dialConfig
	for _, o := range opts {
		o(&cfg)
	}
	creds := insecure.NewCredentials()
	if cfg.tls != nil {
		creds = credentials.NewTLS(cfg.tls)
	}
	dopts := []grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20), grpc.MaxCallSendMsgSize(64<<20)),
	}
	if cfg.token != "" {
		dopts = append(dopts, grpc.WithPerRPCCredentials(bearer{token: cfg.token, secure: cfg.tls != nil}))
	}
	conn, err := grpc.NewClient(target, append(dopts, cfg.extra...)...)
	if err != nil {
		return nil, fmt.Errorf("timefence: dial %s: %w", target, err)
	}
	return &Client{
		conn:     conn,
		Registry: timefencev1.NewRegistryServiceClient(conn),
		writer:   timefencev1.NewWriteServiceClient(conn),
		online:   timefencev1.NewOnlineServiceClient(conn),
		Datasets: timefencev1.NewDatasetServiceClient(conn),
		admin:    timefencev1.NewAdminServiceClient(conn),
	}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Conn returns the underlying connection, e.g. for an Arrow Flight client.
func (c *Client) Conn() *grpc.ClientConn { return c.conn }

type bearer struct {
	token  string
	secure bool
}

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + b.token}, nil
}

func (b bearer) RequireTransportSecurity() bool { return b.secure }

// ApplyEntity creates or updates an entity and returns its current definition.
func (c *Client) ApplyEntity(ctx context.Context, e *timefencev1.Entity) (*timefencev1.Entity, error) {
	resp, err := c.Registry.ApplyEntity(ctx, &timefencev1.ApplyEntityRequest{Entity: e})
	if err != nil {
		return nil, fromStatus(err)
	}
	return resp.GetEntity(), nil
}

// ApplyFeatureView creates a feature view or changes it compatibly; an
// incompatible change returns ErrSchemaMismatch.
func (c *Client) ApplyFeatureView(ctx context.Context, v *timefencev1.FeatureView) (*timefencev1.FeatureView, error) {
	resp, err := c.Registry.ApplyFeatureView(ctx, &timefencev1.ApplyFeatureViewRequest{FeatureView: v})
	if err != nil {
		return nil, fromStatus(err)
	}
	return resp.GetFeatureView(), nil
}

// CreateSplit creates the split [start, end]. Creating an identical split
// again succeeds; other bounds return ErrSplitExists.
func (c *Client) CreateSplit(ctx context.Context, name string, start, end time.Time) (*timefencev1.Split, error) {
	sp := &timefencev1.Split{Name: name, Start: tsOrNil(start), End: tsOrNil(end)}
	resp, err := c.Registry.CreateSplit(ctx, &timefencev1.CreateSplitRequest{Split: sp})
	if err != nil {
		return nil, fromStatus(err)
	}
	return resp.GetSplit(), nil
}

// Manifest returns the manifest of a dataset id (ErrUnknownDataset if none).
func (c *Client) Manifest(ctx context.Context, datasetID string) (*timefencev1.Manifest, error) {
	resp, err := c.Datasets.GetManifest(ctx, &timefencev1.GetManifestRequest{DatasetId: datasetID})
	if err != nil {
		return nil, fromStatus(err)
	}
	return resp.GetManifest(), nil
}

// HistoryStatus returns the state of each feature view's columnar history:
// run files and their versions, versions still in memory, last compaction.
func (c *Client) HistoryStatus(ctx context.Context) ([]*timefencev1.ViewHistory, error) {
	resp, err := c.Datasets.GetHistoryStatus(ctx, &timefencev1.GetHistoryStatusRequest{})
	if err != nil {
		return nil, fromStatus(err)
	}
	return resp.GetViews(), nil
}

// Row is one version to write.
type Row struct {
	// Key holds the join key values in the entity's key order.
	Key       []any
	EventTime time.Time
	// Values holds one value per feature (see WithFeatures); nil is null.
	Values []any
	// Delete writes a tombstone for Key from EventTime on.
	Delete bool
	// AvailableAt is set only in a Backfill write.
	AvailableAt time.Time
}

// WriteOption configures Write.
type WriteOption func(*timefencev1.WriteBatchRequest)

// WithBatchID makes the write idempotent: a retry with the same id and rows
// is acknowledged without writing twice.
func WithBatchID(id string) WriteOption {
	return func(r *timefencev1.WriteBatchRequest) { r.BatchId = id }
}

// WithFeatures names the features the rows carry, in order (default: all
// features of the view in definition order).
func WithFeatures(names ...string) WriteOption {
	return func(r *timefencev1.WriteBatchRequest) { r.FeatureNames = names }
}

// Backfill marks the write as a backfill: every row sets AvailableAt.
func Backfill() WriteOption { return func(r *timefencev1.WriteBatchRequest) { r.Backfill = true } }

// WriteResult describes an acknowledged, durable batch.
type WriteResult struct {
	FirstSeq, LastSeq int64
	CommitTime        time.Time
	Duplicate         bool
}

// Write writes rows of view as one atomic batch. Invalid rows return
// ErrInvalidArgument naming the row and field, and nothing is written.
func (c *Client) Write(ctx context.Context, view string, rows []Row, opts ...WriteOption) (*WriteResult, error) {
	req := &timefencev1.WriteBatchRequest{FeatureView: view, Rows: make([]*timefencev1.WriteRow, len(rows))}
	for _, o := range opts {
		o(req)
	}
	for i, r := range rows {
		wr := &timefencev1.WriteRow{EventTime: tsOrNil(r.EventTime), Delete: r.Delete, AvailableAt: tsOrNil(r.AvailableAt)}
		for j, k := range r.Key {
			v, err := toValue(k)
			if err != nil {
				return nil, fmt.Errorf("row %d: key %d: %w", i, j, err)
			}
			wr.JoinKeys = append(wr.JoinKeys, v)
		}
		for j, x := range r.Values {
			v, err := toValue(x)
			if err != nil {
				return nil, fmt.Errorf("row %d: value %d: %w", i, j, err)
			}
			wr.Values = append(wr.Values, v)
		}
		req.Rows[i] = wr
	}
	resp, err := c.writer.WriteBatch(ctx, req)
	if err != nil {
		return nil, fromStatus(err)
	}
	return &WriteResult{FirstSeq: resp.GetFirstSeq(), LastSeq: resp.GetLastSeq(),
		CommitTime: resp.GetCommitTime().AsTime(), Duplicate: resp.GetDuplicate()}, nil
}

// ReadOption configures a read.
type ReadOption func(*readCall)

type readCall struct {
	req     *timefencev1.GetOnlineFeaturesRequest
	timeout time.Duration
}

// AsOf reads as of t instead of now: a training-side read, which needs UnderSplit.
func AsOf(t time.Time) ReadOption {
	return func(c *readCall) { c.req.AsOf = tsOrNil(t) }
}

// UnderSplit runs the read under the named split.
func UnderSplit(name string) ReadOption {
	return func(c *readCall) { c.req.Split = name }
}

// WithTimeout bounds the call to d, on top of any deadline of its context:
// an inference path can give each lookup its own budget without making a
// context for it. A call out of time returns an error matching
// context.DeadlineExceeded.
func WithTimeout(d time.Duration) ReadOption {
	return func(c *readCall) { c.timeout = d }
}

// Status is the status of one feature value.
type Status = timefencev1.FeatureStatus

// Feature statuses.
const (
	Present  = timefencev1.FeatureStatus_FEATURE_STATUS_PRESENT
	NotFound = timefencev1.FeatureStatus_FEATURE_STATUS_NOT_FOUND
	Stale    = timefencev1.FeatureStatus_FEATURE_STATUS_STALE
)

// FeatureValue is one looked-up value.
type FeatureValue struct {
	// Value is nil unless Status is Present (and may be nil then: a null value).
	Value     any
	Status    Status
	EventTime time.Time // of the version read; zero when not found
}

// OnlineResult is the answer to GetOnline.
type OnlineResult struct {
	Features  []string         // resolved "view:feature" names, the columns of Rows
	Rows      [][]FeatureValue // one row per entity, in request order
	ReadTime  time.Time        // the time the read rule was evaluated at
	Watermark int64            // the write sequence number the read was pinned to
}

// GetOnline looks up features ("view:feature" or "view") for entity keys.
// keyNames names the key columns of keys, e.g. {"user_id"}. It returns
// ErrUnknownFeature or ErrUnknownView for unknown references, and with
// AsOf, ErrSplitRequired or ErrCutoffExceeded when the split does not allow it
// and ErrFutureTime when the time is later than the server's now.
func (c *Client) GetOnline(ctx context.Context, features, keyNames []string, keys [][]any, opts ...ReadOption) (*OnlineResult, error) {
	req := &timefencev1.GetOnlineFeaturesRequest{Features: features, JoinKeys: keyNames,
		EntityRows: make([]*timefencev1.EntityRow, len(keys))}
	call := readCall{req: req}
	for _, o := range opts {
		o(&call)
	}
	if call.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, call.timeout)
		defer cancel()
	}
	for i, k := range keys {
		row := &timefencev1.EntityRow{Values: make([]*timefencev1.Value, len(k))}
		for j, x := range k {
			v, err := toValue(x)
			if err != nil {
				return nil, fmt.Errorf("keys[%d][%d]: %w", i, j, err)
			}
			row.Values[j] = v
		}
		req.EntityRows[i] = row
	}
	resp, err := c.online.GetOnlineFeatures(ctx, req)
	if err != nil {
		return nil, fromStatus(err)
	}
	out := &OnlineResult{Features: resp.GetFeatures(), Rows: make([][]FeatureValue, len(keys)),
		ReadTime: resp.GetReadTime().AsTime(), Watermark: resp.GetWatermark()}
	cells := make([]FeatureValue, len(keys)*len(resp.GetColumns()))
	for i := range out.Rows {
		out.Rows[i] = cells[i*len(resp.GetColumns()) : (i+1)*len(resp.GetColumns())]
	}
	for j, col := range resp.GetColumns() {
		if len(col.GetStatuses()) != len(keys) || len(col.GetNulls()) != len(keys) || len(col.GetEventTimeUnixNanos()) != len(keys) {
			return nil, fmt.Errorf("timefence: malformed response: column %d has %d rows, want %d", j, len(col.GetStatuses()), len(keys))
		}
		get := columnValues(col)
		for i := range keys {
			fv := &out.Rows[i][j]
			fv.Status = col.GetStatuses()[i]
			if ns := col.GetEventTimeUnixNanos()[i]; ns != 0 || fv.Status != NotFound {
				fv.EventTime = time.Unix(0, ns).UTC()
			}
			if !col.GetNulls()[i] {
				fv.Value = get(i)
			}
		}
	}
	return out, nil
}
