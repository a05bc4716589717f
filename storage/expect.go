package storage

import (
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Expectations are checks of written values that a view declares. The
// server evaluates them on each write batch before it is committed: a
// failing hard expectation refuses the batch whole; a failing warn
// expectation lets it through and records a ValidationEvent, in the same
// Badger transaction as the batch, so an event exists exactly when its batch
// does. Events are kept under
// e | commit time (u64, sign bit flipped) | first seq (u64) | expectation index (u16)
// as JSON then its CRC-32C (u32, little endian), like serving log records.

// Expectation levels.
const (
	LevelHard = "hard" // a failing batch is refused whole
	LevelWarn = "warn" // a failing batch is written and a ValidationEvent recorded
)

// Expectation kinds, as Kind names them.
const (
	KindRange         = "range" // min and/or max of a numeric feature
	KindAllowed       = "allowed"
	KindNotNull       = "not_null"
	KindMaxNullRate   = "max_null_rate"
	KindMaxArrivalLag = "max_arrival_lag"
	// KindMaxBatchInterval is the expected cadence of a view's batches.
	KindMaxBatchInterval = "max_batch_interval"
)

// Expectation is one check of a view's written rows. Exactly one kind is
// set: Min and/or Max, Allowed, NotNull, MaxNullRate or MaxArrivalLag.
// Feature names the feature checked; MaxArrivalLag checks the rows' arrival
// and has none. Deleted rows carry no values: feature kinds skip them.
type Expectation struct {
	Feature string `json:"feature,omitempty"`
	// Level is LevelHard or LevelWarn; empty means LevelHard.
	Level string `json:"level,omitempty"`
	// Min and Max bound a numeric feature's values, inclusive.
	Min *float64 `json:"min,omitempty"`
	Max *float64 `json:"max,omitempty"`
	// Allowed lists the values a string or integer feature may take, as text.
	Allowed []string `json:"allowed,omitempty"`
	// NotNull refuses null values.
	NotNull bool `json:"not_null,omitempty"`
	// MaxNullRate bounds the share of null values in a batch, from 0 to 1.
	MaxNullRate *float64 `json:"max_null_rate,omitempty"`
	// MaxArrivalLag bounds each row's arrival after its event time: its
	// available_at in a backfill, else the time the batch is checked, just
	// before it commits.
	MaxArrivalLag time.Duration `json:"max_arrival_lag,omitempty"`
	// MaxBatchInterval is the view's expected cadence: the longest time
	// between the commits of two consecutive batches. A batch that comes
	// later records an event (warn only: a late batch is still data).
	MaxBatchInterval time.Duration `json:"max_batch_interval,omitempty"`
}

// Kind returns the expectation's kind, one of the Kind constants.
func (e *Expectation) Kind() string {
	switch {
	case e.Min != nil || e.Max != nil:
		return KindRange
	case len(e.Allowed) > 0:
		return KindAllowed
	case e.NotNull:
		return KindNotNull
	case e.MaxNullRate != nil:
		return KindMaxNullRate
	case e.MaxBatchInterval != 0:
		return KindMaxBatchInterval
	}
	return KindMaxArrivalLag
}

// IsWarn tells whether a failure is recorded rather than refused.
func (e *Expectation) IsWarn() bool { return e.Level == LevelWarn }

// LevelName returns the level, "hard" when unset.
func (e *Expectation) LevelName() string { return cmp.Or(e.Level, LevelHard) }

// Bound describes what the expectation allows: "min 0, max 100", "allowed
// DE, FR", "not null", "null rate <= 0.05", "arrival lag <= 1h0m0s".
func (e *Expectation) Bound() string {
	switch e.Kind() {
	case KindRange:
		var parts []string
		if e.Min != nil {
			parts = append(parts, "min "+formatFloat(*e.Min))
		}
		if e.Max != nil {
			parts = append(parts, "max "+formatFloat(*e.Max))
		}
		return strings.Join(parts, ", ")
	case KindAllowed:
		return "allowed " + strings.Join(e.Allowed, ", ")
	case KindNotNull:
		return "not null"
	case KindMaxNullRate:
		return "null rate <= " + formatFloat(*e.MaxNullRate)
	case KindMaxBatchInterval:
		return "batch interval <= " + e.MaxBatchInterval.String()
	}
	return "arrival lag <= " + e.MaxArrivalLag.String()
}

// Name is the expectation's short name: its kind and feature, as in
// "range(clicks)" or "max_arrival_lag".
func (e *Expectation) Name() string {
	if e.Feature == "" {
		return e.Kind()
	}
	return e.Kind() + "(" + e.Feature + ")"
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// checkExpectation refuses an expectation the view cannot hold; path names
// it in errors, as "feature view "v": expectations[1]".
func checkExpectation(v *View, e *Expectation, path string) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrInvalid, path, fmt.Sprintf(format, args...))
	}
	if e.Level != "" && e.Level != LevelHard && e.Level != LevelWarn {
		return bad("level %q: expected hard or warn", e.Level)
	}
	kinds := 0
	for _, set := range []bool{e.Min != nil || e.Max != nil, len(e.Allowed) > 0, e.NotNull, e.MaxNullRate != nil, e.MaxArrivalLag != 0, e.MaxBatchInterval != 0} {
		if set {
			kinds++
		}
	}
	if kinds != 1 {
		return bad("expected exactly one of min/max, allowed, not_null, max_null_rate, max_arrival_lag or max_batch_interval, got %d", kinds)
	}
	kind := e.Kind()
	if kind == KindMaxBatchInterval {
		switch {
		case e.Feature != "":
			return bad("max_batch_interval checks batches, not a feature: remove feature %q", e.Feature)
		case e.MaxBatchInterval < 0:
			return bad("max_batch_interval %s: must not be negative", e.MaxBatchInterval)
		case !e.IsWarn():
			return bad("max_batch_interval is a warn expectation: a late batch is still data, so it is recorded, not refused; set level: warn")
		}
		return nil
	}
	if kind == KindMaxArrivalLag {
		if e.Feature != "" {
			return bad("max_arrival_lag checks rows, not a feature: remove feature %q", e.Feature)
		}
		if e.MaxArrivalLag < 0 {
			return bad("max_arrival_lag %s: must not be negative", e.MaxArrivalLag)
		}
		return nil
	}
	if e.Feature == "" {
		return bad("%s needs a feature", kind)
	}
	f, ok := v.Feature(e.Feature)
	if !ok {
		return fmt.Errorf("%s: %w %q", path, ErrUnknownFeature, e.Feature)
	}
	switch kind {
	case KindRange:
		if !f.Type.numeric() {
			return bad("min/max: feature %q is %s; min and max apply to int64, int32, double and float features", f.Name, f.Type)
		}
		for _, b := range []*float64{e.Min, e.Max} {
			if b != nil && (math.IsNaN(*b) || math.IsInf(*b, 0)) {
				return bad("min/max: %g is not a finite number", *b)
			}
		}
		if e.Min != nil && e.Max != nil && *e.Min > *e.Max {
			return bad("min %s is greater than max %s", formatFloat(*e.Min), formatFloat(*e.Max))
		}
	case KindAllowed:
		switch f.Type {
		case TypeString:
		case TypeInt64, TypeInt32:
			for _, a := range e.Allowed {
				if _, err := strconv.ParseInt(a, 10, 64); err != nil {
					return bad("allowed: %q is not an integer, and feature %q is %s", a, f.Name, f.Type)
				}
			}
		default:
			return bad("allowed: feature %q is %s; allowed applies to string, int64 and int32 features", f.Name, f.Type)
		}
	case KindMaxNullRate:
		if r := *e.MaxNullRate; !(r >= 0 && r <= 1) {
			return bad("max_null_rate %g: expected a number from 0 to 1", r)
		}
	}
	return nil
}

// numeric tells whether min and max apply to values of type t.
func (t Type) numeric() bool {
	return t == TypeInt64 || t == TypeInt32 || t == TypeFloat64 || t == TypeFloat32
}

// FailedRow is a row of a batch that fails an expectation: its index in the
// batch and its value as text ("null" for none; the lag for arrival).
type FailedRow struct {
	Row   int64  `json:"row"`
	Value string `json:"value"`
}

// ValidationEvent records that a write batch failed a warn expectation. The
// caller of Write sets Expectation, the counts and FailedRows in
// Batch.Validation; the store sets the rest as it commits the batch.
type ValidationEvent struct {
	Time        int64       `json:"time"` // the batch's commit time, Unix ns
	View        string      `json:"view"`
	ViewVersion int64       `json:"view_version"`
	BatchID     string      `json:"batch_id,omitempty"`
	FirstSeq    uint64      `json:"first_seq"`
	LastSeq     uint64      `json:"last_seq"`
	Index       int         `json:"index"` // of the expectation in the view's definition
	Expectation Expectation `json:"expectation"`
	RowsChecked int64       `json:"rows_checked"`
	RowsFailed  int64       `json:"rows_failed"`
	FailedRows  []FailedRow `json:"failed_rows,omitempty"`
}

// MaxFailedRows bounds the failing rows an event or a refusal describes.
const MaxFailedRows = 5

func eventKey(at int64, firstSeq uint64, index int) []byte {
	k := binary.BigEndian.AppendUint64([]byte{prefixValidation}, uint64(at)^1<<63)
	k = binary.BigEndian.AppendUint64(k, firstSeq)
	return binary.BigEndian.AppendUint16(k, uint16(index))
}

const eventKeyLen = 1 + 8 + 8 + 2

// eventTime returns the time of a validation event key.
func eventTime(key []byte) (int64, bool) {
	if len(key) != eventKeyLen || key[0] != prefixValidation {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(key[1:9]) ^ 1<<63), true
}

// setEvents adds the validation events of a batch to the transaction that
// commits it.
func setEvents(txn *badger.Txn, view *View, b *Batch, res WriteResult) error {
	for _, ev := range b.Validation {
		ev.Time, ev.View, ev.ViewVersion, ev.BatchID = res.CommitTime, view.Name, view.Version, b.ID
		ev.FirstSeq, ev.LastSeq = res.FirstSeq, res.LastSeq
		data, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		data = binary.LittleEndian.AppendUint32(data, crc32.Checksum(data, crcTable))
		if err := txn.Set(eventKey(ev.Time, ev.FirstSeq, ev.Index), data); err != nil {
			return err
		}
	}
	return nil
}

// decodeEvent checks and decodes a validation event's key and value.
func decodeEvent(key, v []byte) (ValidationEvent, error) {
	var ev ValidationEvent
	at, ok := eventTime(key)
	if !ok {
		return ev, fmt.Errorf("%w: validation event key %x is malformed", ErrCorrupt, key)
	}
	if len(v) < 4 || crc32.Checksum(v[:len(v)-4], crcTable) != binary.LittleEndian.Uint32(v[len(v)-4:]) {
		return ev, fmt.Errorf("%w: validation event at %s fails its checksum", ErrCorrupt, FormatTime(at))
	}
	if err := json.Unmarshal(v[:len(v)-4], &ev); err != nil {
		return ev, fmt.Errorf("%w: validation event at %s does not decode: %v", ErrCorrupt, FormatTime(at), err)
	}
	return ev, nil
}

// ValidationEvents calls fn with each validation event whose time is from
// since to until, both inclusive, in time order; with view set, only the
// events of that view.
func (s *Store) ValidationEvents(ctx context.Context, since, until int64, view string, fn func(ValidationEvent) error) error {
	if since > until {
		return nil
	}
	return s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{prefixValidation}, PrefetchValues: true, PrefetchSize: 64})
		defer it.Close()
		n := 0
		for it.Seek(eventKey(since, 0, 0)); it.Valid(); it.Next() {
			if n++; n%256 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			key := it.Item().Key()
			if at, ok := eventTime(key); ok && at > until {
				return nil
			}
			var ev ValidationEvent
			err := it.Item().Value(func(v []byte) (err error) {
				ev, err = decodeEvent(key, v)
				return err
			})
			if err != nil {
				return err
			}
			if view != "" && ev.View != view {
				continue
			}
			if err := fn(ev); err != nil {
				return err
			}
		}
		return nil
	})
}

func (e Expectation) equal(o Expectation) bool {
	eqPtr := func(a, b *float64) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }
	return e.Feature == o.Feature && e.LevelName() == o.LevelName() && eqPtr(e.Min, o.Min) && eqPtr(e.Max, o.Max) &&
		slices.Equal(e.Allowed, o.Allowed) && e.NotNull == o.NotNull && eqPtr(e.MaxNullRate, o.MaxNullRate) &&
		e.MaxArrivalLag == o.MaxArrivalLag
}
