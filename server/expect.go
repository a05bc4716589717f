package server

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"google.golang.org/grpc/codes"

	"github.com/timefence/timefence/storage"
)

// checker evaluates a view's expectations over one write batch, row by row
// for WriteBatch and column by column for Flight, then decides: a failing
// hard expectation refuses the batch, failing warn ones become validation
// events. A view without expectations has no checker (nil), so its writes
// pay nothing.
type checker struct {
	view   *storage.View
	checks []*check
	now    int64 // arrival time of live rows, for max_arrival_lag: when the checker is made
}

// check is one expectation's tally over the batch.
type check struct {
	index int
	exp   *storage.Expectation
	kind  string
	nulls bool // whether the failing rows are the null ones
	col   int  // the feature's column in the batch; -1 when the batch has none
	lo    float64
	hi    float64
	strs  map[string]bool
	ints  map[int64]bool

	checked, failed int64
	first           []storage.FailedRow
}

// newChecker returns the checker of a batch of view whose columns are the
// features named (all of the view's, in order, when none are); nil when the
// view has no expectations.
func newChecker(view *storage.View, features []string) *checker {
	if len(view.Expectations) == 0 {
		return nil
	}
	now := time.Now().UnixNano()
	if len(features) == 0 {
		for _, f := range view.Features {
			features = append(features, f.Name)
		}
	}
	c := &checker{view: view, now: now}
	for i := range view.Expectations {
		e := &view.Expectations[i]
		k := &check{index: i, exp: e, kind: e.Kind(), col: slices.Index(features, e.Feature), lo: math.Inf(-1), hi: math.Inf(1)}
		k.nulls = k.kind == storage.KindNotNull || k.kind == storage.KindMaxNullRate
		if e.Min != nil {
			k.lo = *e.Min
		}
		if e.Max != nil {
			k.hi = *e.Max
		}
		if len(e.Allowed) > 0 {
			k.strs, k.ints = map[string]bool{}, map[int64]bool{}
			for _, a := range e.Allowed {
				k.strs[a] = true
				if n, err := strconv.ParseInt(a, 10, 64); err == nil {
					k.ints[n] = true
				}
			}
		}
		c.checks = append(c.checks, k)
	}
	return c
}

func (k *check) fail(row int, value string) {
	k.failed++
	if len(k.first) < storage.MaxFailedRows {
		if len(value) > 64 {
			value = value[:61] + "..."
		}
		k.first = append(k.first, storage.FailedRow{Row: int64(row), Value: value})
	}
}

// value checks one non-null value of row.
func (k *check) value(row int, v storage.Value) {
	switch k.kind {
	case storage.KindRange:
		f := v.Float
		if v.Type == storage.TypeInt64 || v.Type == storage.TypeInt32 {
			f = float64(v.Int)
		}
		if f < k.lo || f > k.hi {
			k.fail(row, formatValue(v))
		}
	case storage.KindAllowed:
		if v.Type == storage.TypeString && !k.strs[v.Str] || v.Type != storage.TypeString && !k.ints[v.Int] {
			k.fail(row, formatValue(v))
		}
	}
}

// rows checks the rows of a WriteBatch.
func (c *checker) rows(rows []storage.Row, backfill bool) {
	c.arrivals(rows, backfill)
	for _, k := range c.checks {
		if k.kind == storage.KindMaxArrivalLag {
			continue
		}
		for i := range rows {
			r := &rows[i]
			if r.Delete {
				continue
			}
			k.checked++
			var v storage.Value
			if k.col >= 0 && k.col < len(r.Values) {
				v = r.Values[k.col]
			}
			switch {
			case v.IsNull():
				if k.nulls {
					k.fail(i, "null")
				}
			case !k.nulls:
				k.value(i, v)
			}
		}
	}
}

// arrivals checks each row's arrival after its event time.
func (c *checker) arrivals(rows []storage.Row, backfill bool) {
	for _, k := range c.checks {
		if k.kind != storage.KindMaxArrivalLag {
			continue
		}
		limit := int64(k.exp.MaxArrivalLag)
		for i := range rows {
			r := &rows[i]
			k.checked++
			arrival := c.now
			if backfill {
				arrival = r.AvailableAt
			}
			if d := arrival - r.EventTime; d > limit {
				k.fail(i, time.Duration(d).String())
			}
		}
	}
}

// record checks the feature columns of one Arrow record of a bulk write,
// whose first row is row0 of the batch; max_arrival_lag is left to arrivals.
func (c *checker) record(feats []*column, del *array.Boolean, row0 int) {
	n := 0
	if len(feats) > 0 {
		n = feats[0].arr.Len()
	} else if del != nil {
		n = del.Len()
	}
	live := n
	if del != nil {
		live = 0
		for i := range n {
			if !isDeleted(del, i) {
				live++
			}
		}
	}
	for _, k := range c.checks {
		if k.kind == storage.KindMaxArrivalLag {
			continue
		}
		k.checked += int64(live)
		if k.col < 0 || k.col >= len(feats) {
			if k.nulls {
				for i := range n {
					if !isDeleted(del, i) {
						k.fail(row0+i, "null")
					}
				}
			}
			continue
		}
		f := feats[k.col]
		if k.nulls {
			if f.arr.NullN() == 0 {
				continue
			}
			for i := range n {
				if f.arr.IsNull(i) && !isDeleted(del, i) {
					k.fail(row0+i, "null")
				}
			}
			continue
		}
		if k.kind == storage.KindRange {
			switch a := f.arr.(type) {
			case *array.Int64:
				outOfRange(k, a.Int64Values(), a, del, row0)
				continue
			case *array.Int32:
				outOfRange(k, a.Int32Values(), a, del, row0)
				continue
			case *array.Float64:
				outOfRange(k, a.Float64Values(), a, del, row0)
				continue
			case *array.Float32:
				outOfRange(k, a.Float32Values(), a, del, row0)
				continue
			}
		}
		for i := range n {
			if f.arr.IsValid(i) && !isDeleted(del, i) {
				k.value(row0+i, f.get(i))
			}
		}
	}
}

// outOfRange checks a numeric column's values against k's bounds.
func outOfRange[T int64 | int32 | float64 | float32](k *check, vals []T, arr arrow.Array, del *array.Boolean, row0 int) {
	for i, v := range vals {
		if f := float64(v); (f < k.lo || f > k.hi) && arr.IsValid(i) && !isDeleted(del, i) {
			k.fail(row0+i, strconv.FormatFloat(f, 'g', -1, 64))
		}
	}
}

// cadence checks the time since the view's previous batch, committed at
// prev (0: none), against its expected cadence.
func (c *checker) cadence(prev int64) {
	for _, k := range c.checks {
		if k.kind != storage.KindMaxBatchInterval || prev == 0 {
			continue
		}
		k.checked++
		if gap := c.now - prev; gap > int64(k.exp.MaxBatchInterval) {
			k.fail(0, time.Duration(gap).Round(time.Millisecond).String()+" since the previous batch")
		}
	}
}

// failing tells whether the check fails the batch.
func (k *check) failing() bool {
	if k.kind == storage.KindMaxNullRate {
		return k.checked > 0 && float64(k.failed)/float64(k.checked) > *k.exp.MaxNullRate
	}
	return k.failed > 0
}

// verdict returns the error refusing the batch when a hard expectation
// fails (the first in definition order), else the events of the failing
// warn ones.
func (c *checker) verdict() ([]storage.ValidationEvent, error) {
	var events []storage.ValidationEvent
	for _, k := range c.checks {
		if !k.failing() {
			continue
		}
		if !k.exp.IsWarn() {
			return nil, c.refusal(k)
		}
		events = append(events, storage.ValidationEvent{Index: k.index, Expectation: *k.exp,
			RowsChecked: k.checked, RowsFailed: k.failed, FailedRows: k.first})
	}
	return events, nil
}

// refusal is the EXPECTATION_FAILED error of a failing hard expectation.
func (c *checker) refusal(k *check) error {
	rows := make([]string, len(k.first))
	for i, r := range k.first {
		rows[i] = fmt.Sprintf("row %d: %s", r.Row, r.Value)
	}
	more := ""
	if k.failed > int64(len(k.first)) {
		more = ", ..."
	}
	return &requestError{code: codes.InvalidArgument, reason: ReasonExpectationFailed,
		msg: fmt.Sprintf("feature view %q: hard expectation %s (%s) failed: %d of %d rows fail (%s%s); nothing of the batch was written",
			c.view.Name, k.exp.Name(), k.exp.Bound(), k.failed, k.checked, strings.Join(rows, ", "), more),
		metadata: map[string]string{"feature_view": c.view.Name, "expectation": k.exp.Name(),
			"rows_failed": strconv.FormatInt(k.failed, 10)}}
}

// formatValue writes a checked value as text.
func formatValue(v storage.Value) string {
	switch v.Type {
	case storage.TypeInt64, storage.TypeInt32:
		return strconv.FormatInt(v.Int, 10)
	case storage.TypeFloat64, storage.TypeFloat32:
		return strconv.FormatFloat(v.Float, 'g', -1, 64)
	}
	return strconv.Quote(v.Str)
}
