package client

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// Option configures one call. Every method takes the time options
// (WithTimeout, WithDeadline); the others apply to the methods their
// documentation names, and a method given one that does not apply returns
// ErrInvalidArgument naming it, before anything is sent.
type Option func(*op)

// op holds the options of one call.
type op struct {
	given []string // option names, in order, to refuse those that do not apply

	timeout  time.Duration
	deadline time.Time

	asOf        time.Time
	split       string
	features    []string
	batchID     string
	backfill    bool
	eventTime   string
	availableAt string
	timestamp   string
	fullNames   bool
	datasetID   string
	progress    func(Progress)
	description string
	dryRun      bool
	logged      bool
	requestID   string
	logContext  map[string]any
	minWM       int64
	view        string
	maxEvents   int
}

func (o *op) set(name string) { o.given = append(o.given, name) }

// apply collects opts for method, refusing any not in allowed, and returns
// ctx bounded by the time options with its cancel function.
func apply(ctx context.Context, method string, opts []Option, allowed ...string) (*op, context.Context, context.CancelFunc, error) {
	o := &op{}
	for _, f := range opts {
		f(o)
	}
	for _, name := range o.given {
		if name != "WithTimeout" && name != "WithDeadline" && !slices.Contains(allowed, name) {
			return nil, nil, nil, fmt.Errorf("%w: option %s does not apply to %s", ErrInvalidArgument, name, method)
		}
	}
	cancel := context.CancelFunc(func() {})
	if !o.deadline.IsZero() {
		ctx, cancel = context.WithDeadline(ctx, o.deadline)
	}
	if o.timeout > 0 {
		outer := cancel
		var inner context.CancelFunc
		ctx, inner = context.WithTimeout(ctx, o.timeout)
		cancel = func() { inner(); outer() }
	}
	return o, ctx, cancel, nil
}

// WithTimeout bounds the call to d, on top of any deadline of its context:
// an inference path can give each lookup its own budget without making a
// context for it. A call out of time returns an error matching
// ErrDeadlineExceeded (context.DeadlineExceeded).
func WithTimeout(d time.Duration) Option {
	return func(o *op) { o.set("WithTimeout"); o.timeout = d }
}

// WithDeadline ends the call at t, on top of any deadline of its context.
func WithDeadline(t time.Time) Option {
	return func(o *op) { o.set("WithDeadline"); o.deadline = t }
}

// AsOf reads as of t instead of now: a training-side read, which needs
// UnderSplit. For GetOnline.
func AsOf(t time.Time) Option {
	return func(o *op) { o.set("AsOf"); o.asOf = t }
}

// UnderSplit runs the read under the named split. For GetOnline; the
// training-side calls take their split as an argument.
func UnderSplit(name string) Option {
	return func(o *op) { o.set("UnderSplit"); o.split = name }
}

// WithFeatures names features: for Write, the features the rows carry, in
// order (default: all of the view's, in definition order); for Export,
// GetStatistics and CompareStatistics, the features to read (default: all).
func WithFeatures(names ...string) Option {
	return func(o *op) { o.set("WithFeatures"); o.features = names }
}

// WithBatchID makes a write idempotent: a retry with the same id and rows
// is acknowledged without writing twice, and the same id with other rows
// returns ErrBatchConflict. For Write and WriteTable.
func WithBatchID(id string) Option {
	return func(o *op) { o.set("WithBatchID"); o.batchID = id }
}

// Backfill marks a write as a backfill: each row carries its own
// availability (Row.AvailableAt, or WriteTable's available-at column) and
// is flagged backfilled. For Write and WriteTable.
func Backfill() Option {
	return func(o *op) { o.set("Backfill"); o.backfill = true }
}

// WithEventTimeColumn names the event time column of a WriteTable table
// (default "event_timestamp").
func WithEventTimeColumn(name string) Option {
	return func(o *op) { o.set("WithEventTimeColumn"); o.eventTime = name }
}

// WithAvailableAtColumn names the available-at column of a Backfill
// WriteTable (default "available_at").
func WithAvailableAtColumn(name string) Option {
	return func(o *op) { o.set("WithAvailableAtColumn"); o.availableAt = name }
}

// WithTimestampColumn names the spine's timestamp column of GetHistorical
// (default "event_timestamp").
func WithTimestampColumn(name string) Option {
	return func(o *op) { o.set("WithTimestampColumn"); o.timestamp = name }
}

// WithFullFeatureNames names GetHistorical's result columns
// "view__feature" instead of "feature".
func WithFullFeatureNames() Option {
	return func(o *op) { o.set("WithFullFeatureNames"); o.fullNames = true }
}

// WithDatasetID re-reads a recorded dataset with GetHistorical: given the
// same spine, the output is byte-identical to the first read's, and split
// and features may be left empty.
func WithDatasetID(id string) Option {
	return func(o *op) { o.set("WithDatasetID"); o.datasetID = id }
}

// WithProgress asks the server to report its work on a GetHistorical or
// WriteTable call before the result, and passes each report to fn (see
// docs/flight.md for the phases). A nil fn asks for none.
func WithProgress(fn func(Progress)) Option {
	return func(o *op) { o.set("WithProgress"); o.progress = fn }
}

// WithDescription describes a split made by CreateSplit.
func WithDescription(text string) Option {
	return func(o *op) { o.set("WithDescription"); o.description = text }
}

// DryRun makes ApplyDefinitions only plan: check everything, apply nothing.
func DryRun() Option {
	return func(o *op) { o.set("DryRun"); o.dryRun = true }
}

// Logged asks GetOnline to keep the lookup in the server's serving log,
// whatever its sample rate; OnlineResult.RequestID is then its id there.
func Logged() Option {
	return func(o *op) { o.set("Logged"); o.logged = true }
}

// WithRequestID gives GetOnline's lookup the caller's id in the serving log
// (at most 128 bytes), e.g. the id the labels of the request will carry;
// the server makes one when none is given.
func WithRequestID(id string) Option {
	return func(o *op) { o.set("WithRequestID"); o.requestID = id }
}

// MinWatermark makes GetOnline, GetHistorical, Export and ExportDataset
// read at watermark w or later: read your writes, with w a write's LastSeq.
// A read replica behind w waits for it, within the call's deadline and at
// most 5 s, then returns ErrReplicaBehind; a primary is never behind a
// watermark it gave out.
func MinWatermark[T int64 | uint64](w T) Option {
	return func(o *op) { o.set("MinWatermark"); o.minWM = int64(w) }
}

// WithContext attaches request-time inputs that are not in the store to
// GetOnline's lookup in the serving log, e.g. {"device": "ios"}. Values are
// those GetOnline takes for keys, plus the Values table's types.
func WithContext(values map[string]any) Option {
	return func(o *op) { o.set("WithContext"); o.logContext = values }
}

// ForView limits ValidationReport to the events of one feature view.
func ForView(name string) Option {
	return func(o *op) { o.set("ForView"); o.view = name }
}

// MaxEvents bounds the events ValidationReport returns (default 100, at
// most 10,000); its counts cover every event.
func MaxEvents(n int) Option {
	return func(o *op) { o.set("MaxEvents"); o.maxEvents = n }
}
