package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/flight"
	"github.com/apache/arrow/go/v15/arrow/ipc"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
)

func (c *Client) flight() flight.Client { return flight.NewClientFromConn(c.conn, nil) }

// JoinSummary describes a point-in-time join; see docs/flight.md.
type JoinSummary struct {
	DatasetID        string `json:"dataset_id"`
	Checksum         string `json:"checksum"`
	Rows             int64  `json:"rows"`
	Split            string `json:"split"`
	Watermark        uint64 `json:"watermark"`
	NaiveDifferences int64  `json:"naive_differences"`
	MaxEventTime     string `json:"max_event_time"`
	MaxAvailableAt   string `json:"max_available_at"`
	BackfilledValues int64  `json:"backfilled_values"`
}

type joinCmd struct {
	Op               string   `json:"op"`
	Split            string   `json:"split"`
	Features         []string `json:"features"`
	TimestampColumn  string   `json:"timestamp_column,omitempty"`
	FullFeatureNames bool     `json:"full_feature_names,omitempty"`
	DatasetID        string   `json:"dataset_id,omitempty"`
	Progress         bool     `json:"progress,omitempty"`
	MinWatermark     int64    `json:"min_watermark,omitempty"`
}

// Progress reports the server's work on a call before its result: the
// phase it is in and, for a phase with a measure (Total > 0), how many
// units of it are done. See docs/flight.md for the phases.
type Progress struct {
	Phase string `json:"phase"`
	Done  int64  `json:"done"`
	Total int64  `json:"total"`
	Unit  string `json:"unit"`
}

// GetHistorical runs a point-in-time join of spine with features under
// split, over Arrow Flight. Each result record (spine columns, then one
// column per feature, in spine order) is passed to fn, which must not keep
// it past its return without calling Retain. Options: WithTimestampColumn,
// WithFullFeatureNames, WithDatasetID, WithProgress.
//
// A spine with any timestamp outside the split returns ErrCutoffExceeded
// before any record arrives, and one later than the server's now
// ErrFutureTime; no split returns ErrSplitRequired.
func (c *Client) GetHistorical(ctx context.Context, split string, features []string, spine array.RecordReader,
	fn func(arrow.Record) error, opts ...Option) (*JoinSummary, error) {
	o, ctx, cancel, err := apply(ctx, "GetHistorical", opts, "WithTimestampColumn", "WithFullFeatureNames", "WithDatasetID", "WithProgress", "MinWatermark")
	if err != nil {
		return nil, err
	}
	defer cancel()
	body, err := json.Marshal(joinCmd{Op: "historical", Split: split, Features: features, TimestampColumn: o.timestamp,
		FullFeatureNames: o.fullNames, DatasetID: o.datasetID, Progress: o.progress != nil, MinWatermark: o.minWM})
	if err != nil {
		return nil, err
	}
	ctx, end := context.WithCancel(ctx) // ends the stream on an early return
	defer end()
	stream, err := c.flight().DoExchange(ctx)
	if err != nil {
		return nil, flightError(nil, err)
	}
	w := flight.NewRecordWriter(stream, ipc.WithSchema(spine.Schema()))
	w.SetFlightDescriptor(&flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: body})
	sendErr := func() error {
		for spine.Next() {
			if err := w.Write(spine.Record()); err != nil {
				return err
			}
		}
		if err := spine.Err(); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		if err := w.Close(); err != nil {
			return err
		}
		return stream.CloseSend()
	}()
	if sendErr != nil && !errors.Is(sendErr, io.EOF) {
		// The server may have refused the request already; its status is the better error.
		if _, rerr := stream.Recv(); rerr != nil && !errors.Is(rerr, io.EOF) {
			return nil, flightError(stream, rerr)
		}
		return nil, fmt.Errorf("timefence: sending the spine: %w", sendErr)
	}
	sum := &JoinSummary{}
	var results flight.DataStreamReader = stream
	if o.progress != nil {
		results = progressReader{stream, o.progress}
	}
	if err := readResults(stream, results, fn, sum); err != nil {
		return nil, err
	}
	return sum, nil
}

// progressReader passes the progress messages of a stream to fn and every
// other message on.
type progressReader struct {
	flight.DataStreamReader
	fn func(Progress)
}

func (r progressReader) Recv() (*flight.FlightData, error) {
	for {
		fd, err := r.DataStreamReader.Recv()
		if err != nil || len(fd.DataHeader) > 0 || len(fd.DataBody) > 0 {
			return fd, err
		}
		p, ok := parseProgress(fd.AppMetadata)
		if !ok {
			return fd, nil
		}
		r.fn(p)
	}
}

// parseProgress decodes the app metadata of a progress message; ok is false
// for any other metadata.
func parseProgress(meta []byte) (p Progress, ok bool) {
	var m struct {
		Progress *Progress `json:"progress"`
	}
	if json.Unmarshal(meta, &m) != nil || m.Progress == nil {
		return Progress{}, false
	}
	return *m.Progress, true
}

// readResults passes every record of a result stream to fn and decodes the
// summary carried by the last one into summary.
func readResults(call grpc.ClientStream, stream flight.DataStreamReader, fn func(arrow.Record) error, summary any) error {
	rdr, err := flight.NewRecordReader(stream)
	if err != nil {
		return flightError(call, err)
	}
	defer rdr.Release()
	var meta []byte
	for rdr.Next() {
		if m := rdr.LatestAppMetadata(); len(m) > 0 {
			meta = m
		}
		if err := fn(rdr.Record()); err != nil {
			return err
		}
	}
	if err := rdr.Err(); err != nil && !errors.Is(err, io.EOF) {
		return flightError(call, err)
	}
	if err := json.Unmarshal(meta, summary); err != nil {
		return fmt.Errorf("timefence: the stream ended without its summary: %w", err)
	}
	return nil
}

// WriteTableResult describes a table written by WriteTable.
type WriteTableResult struct {
	FirstSeq   uint64 `json:"first_seq"`
	LastSeq    uint64 `json:"last_seq"`
	CommitTime string `json:"commit_time"`
	Rows       int    `json:"rows"`
	Duplicate  bool   `json:"duplicate"`
}

type writeCmd struct {
	Op                string `json:"op"`
	FeatureView       string `json:"feature_view"`
	BatchID           string `json:"batch_id,omitempty"`
	Backfill          bool   `json:"backfill,omitempty"`
	EventTimeColumn   string `json:"event_time_column,omitempty"`
	AvailableAtColumn string `json:"available_at_column,omitempty"`
	Progress          bool   `json:"progress,omitempty"`
}

// WriteTable writes the records of table as one atomic, durable batch of
// view over Arrow Flight. Its columns are the view's join keys, the event
// time ("event_timestamp", or WithEventTimeColumn), any subset of the
// view's features, and optionally a bool "deleted" column marking
// tombstones (with null features), so that an export writes back as it is
// with Backfill. Options: WithBatchID, WithEventTimeColumn, Backfill
// (each row's availability from the "available_at" column, or
// WithAvailableAtColumn), WithProgress.
func (c *Client) WriteTable(ctx context.Context, view string, table array.RecordReader, opts ...Option) (*WriteTableResult, error) {
	o, ctx, cancel, err := apply(ctx, "WriteTable", opts, "WithBatchID", "WithEventTimeColumn", "Backfill", "WithAvailableAtColumn", "WithProgress")
	if err != nil {
		return nil, err
	}
	defer cancel()
	if o.availableAt != "" && !o.backfill {
		return nil, fmt.Errorf("%w: WithAvailableAtColumn applies only to a Backfill write", ErrInvalidArgument)
	}
	body, err := json.Marshal(writeCmd{Op: "write", FeatureView: view, BatchID: o.batchID, Backfill: o.backfill,
		EventTimeColumn: o.eventTime, AvailableAtColumn: o.availableAt, Progress: o.progress != nil})
	if err != nil {
		return nil, err
	}
	ctx, end := context.WithCancel(ctx) // ends the stream on an early return
	defer end()
	stream, err := c.flight().DoPut(ctx)
	if err != nil {
		return nil, flightError(nil, err)
	}
	w := flight.NewRecordWriter(stream, ipc.WithSchema(table.Schema()))
	w.SetFlightDescriptor(&flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: body})
	for table.Next() {
		if err := w.Write(table.Record()); err != nil {
			break // the server's status below says why
		}
	}
	if err := table.Err(); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	_ = w.Close()
	_ = stream.CloseSend()
	res, err := stream.Recv()
	for err == nil && o.progress != nil {
		p, ok := parseProgress(res.GetAppMetadata())
		if !ok {
			break // the result
		}
		o.progress(p)
		res, err = stream.Recv()
	}
	if err != nil {
		return nil, flightError(stream, err)
	}
	out := &WriteTableResult{}
	if err := json.Unmarshal(res.GetAppMetadata(), out); err != nil {
		return nil, fmt.Errorf("timefence: bad write result: %w", err)
	}
	return out, nil
}

// ExportSummary describes a snapshot export.
type ExportSummary struct {
	DatasetID string `json:"dataset_id"`
	Checksum  string `json:"checksum"`
	Rows      int64  `json:"rows"`
	Split     string `json:"split"`
	Watermark uint64 `json:"watermark"`
}

type exportCmd struct {
	Op          string   `json:"op"`
	Split       string   `json:"split,omitempty"`
	FeatureView string   `json:"feature_view,omitempty"`
	Features    []string `json:"features,omitempty"`
	DatasetID   string   `json:"dataset_id,omitempty"`
	// MinWatermark as MinWatermark sets it.
	MinWatermark int64 `json:"min_watermark,omitempty"`
}

// Export streams every version of view (all features, or WithFeatures)
// whose event time and available-at time lie within split, passing each
// record to fn. Columns: the join keys, event_timestamp, available_at,
// deleted, backfilled, then the features.
func (c *Client) Export(ctx context.Context, split, view string, fn func(arrow.Record) error, opts ...Option) (*ExportSummary, error) {
	o, ctx, cancel, err := apply(ctx, "Export", opts, "WithFeatures", "MinWatermark")
	if err != nil {
		return nil, err
	}
	defer cancel()
	return c.export(ctx, exportCmd{Op: "export", Split: split, FeatureView: view, Features: o.features, MinWatermark: o.minWM}, fn)
}

// ExportDataset re-exports a recorded export byte for byte.
func (c *Client) ExportDataset(ctx context.Context, datasetID string, fn func(arrow.Record) error, opts ...Option) (*ExportSummary, error) {
	o, ctx, cancel, err := apply(ctx, "ExportDataset", opts, "MinWatermark")
	if err != nil {
		return nil, err
	}
	defer cancel()
	return c.export(ctx, exportCmd{Op: "export", DatasetID: datasetID, MinWatermark: o.minWM}, fn)
}

func (c *Client) export(ctx context.Context, cmd exportCmd, fn func(arrow.Record) error) (*ExportSummary, error) {
	sum := &ExportSummary{}
	if err := c.doGet(ctx, cmd, fn, sum); err != nil {
		return nil, err
	}
	return sum, nil
}

// doGet runs a Flight DoGet with the ticket cmd (JSON), gives fn each
// record, and decodes the last record's app metadata into summary.
func (c *Client) doGet(ctx context.Context, cmd any, fn func(arrow.Record) error, summary any) error {
	body, err := json.Marshal(cmd)
	if err != nil {
		return err
	}
	ctx, end := context.WithCancel(ctx) // ends the stream on an early return
	defer end()
	stream, err := c.flight().DoGet(ctx, &flight.Ticket{Ticket: body})
	if err != nil {
		return flightError(nil, err)
	}
	return readResults(stream, stream, fn, summary)
}

// flightError converts the error of a Flight call into *Error. The server
// sends the ErrorInfo of a refusal that Arrow clients report as a plain
// Arrow error (ArrowInvalid, ArrowKeyError, ...) only in a trailer, since
// Arrow C++ would report a gRPC status with details as an internal error:
// it is read from there (docs/flight.md).
func flightError(stream grpc.ClientStream, err error) error {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if _, ok := e.(interface{ GRPCStatus() *status.Status }); ok {
			err = e
			break
		}
	}
	out := fromStatus(err)
	var te *Error
	if stream == nil || !errors.As(out, &te) || te.Reason != "" {
		return out
	}
	if v := stream.Trailer().Get(trailerErrorInfo); len(v) > 0 {
		var info errdetails.ErrorInfo
		if protojson.Unmarshal([]byte(v[0]), &info) == nil {
			te.Reason, te.Metadata = info.GetReason(), info.GetMetadata()
		}
	}
	return out
}

// trailerErrorInfo is the trailer holding a failed Flight call's ErrorInfo
// in protobuf JSON.
const trailerErrorInfo = "x-arrow-status-detail-bin"
