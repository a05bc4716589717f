package server

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"

	"github.com/timefence/timefence/storage"
)

// writeCmd is the Flight DoPut command that writes a table as one batch.
type writeCmd struct {
	Op          string `json:"op"`
	FeatureView string `json:"feature_view"`
	BatchID     string `json:"batch_id,omitempty"`
	Backfill    bool   `json:"backfill,omitempty"`
	// EventTimeColumn names the event time column; default "event_timestamp".
	EventTimeColumn string `json:"event_time_column,omitempty"`
	// AvailableAtColumn names the backfill's available-at column; default "available_at".
	AvailableAtColumn string `json:"available_at_column,omitempty"`
	// Progress asks for progress messages before the result.
	Progress bool `json:"progress,omitempty"`
}

// bulkWriteResult is the PutResult metadata of a write.
type bulkWriteResult struct {
	FirstSeq   uint64 `json:"first_seq"`
	LastSeq    uint64 `json:"last_seq"`
	CommitTime string `json:"commit_time"`
	Rows       int    `json:"rows"`
	Duplicate  bool   `json:"duplicate"`
}

// bulkWrite reads a whole Arrow stream into one batch and writes it. The
// stream's columns are the view's join keys, the event time, and any subset
// of its features; optionally a boolean "deleted" column, whose true rows
// are tombstones with null values; and in a backfill, its available-at
// column and an ignored "backfilled" column, so that an export can be
// written back as it is. rep reports the write once the stream has been
// read.
func (s *Server) bulkWrite(ctx context.Context, cmd writeCmd, rdr recordStream, rep *reporter) (*bulkWriteResult, error) {
	if err := s.store.ReadOnly("write to " + cmd.FeatureView); err != nil {
		return nil, err // before the table is read: none of it can be written
	}
	view, err := s.store.View(cmd.FeatureView)
	if err != nil {
		return nil, err
	}
	etName := cmp.Or(cmd.EventTimeColumn, "event_timestamp")
	avName := cmp.Or(cmd.AvailableAtColumn, "available_at")
	schema := rdr.Schema()
	if err := checkDistinct(schema); err != nil {
		return nil, err
	}
	col := func(name string) int {
		idx := schema.FieldIndices(name)
		if len(idx) != 1 {
			return -1
		}
		return idx[0]
	}
	etIdx, avIdx := col(etName), col(avName)
	if etIdx < 0 {
		return nil, invalid(fmt.Sprintf("arrow stream: missing event time column %q (or it appears twice)", etName))
	}
	if cmd.Backfill && avIdx < 0 {
		return nil, invalid(fmt.Sprintf("arrow stream: a backfill needs the available-at column %q", avName))
	}
	if !cmd.Backfill && avIdx >= 0 {
		return nil, invalid(fmt.Sprintf("arrow stream: column %q is only allowed in a backfill; the server assigns available_at", avName))
	}
	// deleted and backfilled are the export's flag columns (names no
	// feature may take).
	delIdx, bfIdx := col(deletedColumn), col(backfilledColumn)
	if delIdx >= 0 && schema.Field(delIdx).Type.ID() != arrow.BOOL {
		return nil, invalid(fmt.Sprintf("arrow stream: column %q: expected bool, got Arrow type %s", deletedColumn, schema.Field(delIdx).Type))
	}
	if bfIdx >= 0 && !cmd.Backfill {
		return nil, invalid(fmt.Sprintf("arrow stream: column %q is only allowed in a backfill: write the table with backfill: true "+
			"(its rows then carry their own available_at and are all flagged backfilled), or drop the column", backfilledColumn))
	}
	keyIdx := make([]int, len(view.JoinKeys))
	for j, k := range view.JoinKeys {
		if keyIdx[j] = col(k.Name); keyIdx[j] < 0 {
			return nil, invalid(fmt.Sprintf("arrow stream: missing join key column %q (%s) of feature view %q", k.Name, k.Type, view.Name))
		}
	}
	var featNames []string
	var featIdx []int
	var featTypes []storage.Type
	var featRequired []bool
	for i, f := range schema.Fields() {
		if i == etIdx || i == avIdx || i == delIdx || i == bfIdx || slices.Contains(keyIdx, i) {
			continue
		}
		vf, ok := view.Feature(f.Name)
		if !ok {
			return nil, invalid(fmt.Sprintf("arrow stream: column %q is not a feature of view %q (features: %s)", f.Name, view.Name, featureList(view)))
		}
		featNames, featIdx, featTypes = append(featNames, f.Name), append(featIdx, i), append(featTypes, vf.Type)
		featRequired = append(featRequired, vf.Required)
	}
	// A table without feature columns, or without a required one, can
	// still hold deletions, which carry no values: with a deleted column,
	// only its rows that are not deleted are refused.
	missing := ""
	if len(featNames) == 0 {
		missing = fmt.Sprintf("no feature columns of view %q", view.Name)
	}
	for _, f := range view.Features {
		if missing == "" && f.Required && !slices.Contains(featNames, f.Name) {
			missing = fmt.Sprintf("no column of required feature %q of view %q", f.Name, view.Name)
		}
	}
	if missing != "" && delIdx < 0 {
		return nil, invalid("arrow stream: " + missing)
	}
	// The stream is one batch, held whole until it commits: each record is
	// counted against the limits before it is decoded, and checked as it
	// arrives, so a bad one is refused before the rest is read.
	budget := writeBudget{maxRows: s.writeRowsLimit(), maxBytes: s.writeBytesLimit()}
	batch := storage.Batch{ID: cmd.BatchID, View: view.Name, Features: featNames, Backfill: cmd.Backfill}
	if missing != "" {
		batch.Features = nil // every row is a deletion, of no values
	}
	check := newChecker(view, featNames)
	row := 0
	add := func(rec arrow.Record) error {
		n := int(rec.NumRows())
		et, err := newTimeColumn(etName, rec.Column(etIdx))
		if err != nil {
			return err
		}
		var av *timeColumn
		if avIdx >= 0 {
			if av, err = newTimeColumn(avName, rec.Column(avIdx)); err != nil {
				return err
			}
		}
		keys := make([]*column, len(keyIdx))
		for j, idx := range keyIdx {
			if keys[j], err = newColumn(view.JoinKeys[j].Name, rec.Column(idx), view.JoinKeys[j].Type); err != nil {
				return err
			}
		}
		var del *array.Boolean
		if delIdx >= 0 {
			del = rec.Column(delIdx).(*array.Boolean) // its type checked above
		}
		feats := make([]*column, len(featIdx))
		for j, idx := range featIdx {
			if feats[j], err = newColumn(featNames[j], rec.Column(idx), featTypes[j]); err != nil {
				return err
			}
		}
		if err := checkStrings(keys, feats, row); err != nil {
			return err
		}
		if err := checkWriteRecord(et, av, del, feats, featRequired, row); err != nil {
			return err
		}
		if check != nil {
			check.record(feats, del, row)
		}
		keyVals := make([]storage.Value, n*len(keys))
		vals := make([]storage.Value, n*len(feats))
		for i := range n {
			r := storage.Row{Key: keyVals[i*len(keys) : (i+1)*len(keys)], Values: vals[i*len(feats) : (i+1)*len(feats)], Delete: isDeleted(del, i)}
			if r.Delete {
				r.Values = nil // checkWriteRecord found them null
			} else if missing != "" {
				return invalid(fmt.Sprintf("row %d: not deleted, but the stream has %s; only deleted rows can do without", row, missing))
			}
			if r.EventTime, err = et.nanos(i, row); err != nil {
				return err
			}
			if av != nil {
				if r.AvailableAt, err = av.nanos(i, row); err != nil {
					return err
				}
			}
			for j, k := range keys {
				if k.isNull(i) {
					return invalid(fmt.Sprintf("row %d: join key column %q is null", row, k.name))
				}
				r.Key[j] = k.value(i)
			}
			if err := checkKeySize(view.JoinKeys, r.Key, "row %d", row); err != nil {
				return err
			}
			for j, f := range feats[:len(r.Values)] {
				if f.check != nil && !f.isNull(i) {
					if err := f.check(i); err != nil {
						return invalid(fmt.Sprintf("row %d: feature %q: %v", row, f.name, err))
					}
				}
				r.Values[j] = f.value(i)
				if !refusable(featTypes[j]) {
					continue
				}
				if err := checkValue(r.Values[j], "row %d", row, f.name); err != nil {
					return err
				}
			}
			batch.Rows = append(batch.Rows, r)
			row++
		}
		return nil
	}
	for {
		rec, err := nextRecord(rdr)
		if err != nil {
			return nil, err
		}
		if rec == nil {
			break
		}
		if err := budget.add(rec, len(keyIdx)+len(featIdx)); err != nil {
			return nil, err
		}
		if err := safely(func() error { return add(rec) }); err != nil {
			return nil, err
		}
	}
	if check != nil {
		check.arrivals(batch.Rows, batch.Backfill)
	}
	rep.start()
	batch.Progress = rep.progress()
	res, err := s.writeChecked(ctx, check, batch)
	if err != nil {
		return nil, err
	}
	return &bulkWriteResult{FirstSeq: res.FirstSeq, LastSeq: res.LastSeq, CommitTime: storage.FormatTime(res.CommitTime),
		Rows: res.Rows, Duplicate: res.Duplicate}, nil
}

// checkWriteRecord refuses, before the rows of a record are decoded, what
// the store would refuse only once the whole stream has arrived: event
// times before 1970, backfill available-at times not after 1970, nulls in
// required features and NaN floats, and values on deleted rows (which carry
// none, so need no required feature either). row0 is the number of the
// record's first row.
func checkWriteRecord(et, av *timeColumn, del *array.Boolean, feats []*column, required []bool, row0 int) error {
	for i, v := range et.arr.TimestampValues() {
		if v < 0 && et.arr.IsValid(i) {
			return invalid(fmt.Sprintf("row %d: column %q: event time before 1970-01-01; event times start at the Unix epoch", row0+i, et.name))
		}
	}
	if av != nil {
		for i, v := range av.arr.TimestampValues() {
			if v <= 0 && av.arr.IsValid(i) {
				return invalid(fmt.Sprintf("row %d: column %q: a backfill row needs an available_at after 1970-01-01", row0+i, av.name))
			}
		}
	}
	for j, f := range feats {
		if i := firstNaN(f.arr); i >= 0 {
			return invalid(fmt.Sprintf("row %d: feature %q: NaN is not a value; write null instead", row0+i, f.name))
		}
		if !required[j] || f.arr.NullN() == 0 {
			continue
		}
		for i := range f.arr.Len() {
			if f.isNull(i) && !isDeleted(del, i) {
				return invalid(fmt.Sprintf("row %d: feature %q: null, but the feature is required", row0+i, f.name))
			}
		}
	}
	if del == nil || len(feats) == 0 {
		return nil
	}
	for i := range del.Len() {
		if !isDeleted(del, i) {
			continue
		}
		for _, f := range feats {
			if !f.isNull(i) {
				return invalid(fmt.Sprintf("row %d: column %q: a deleted row carries no values; write null", row0+i, f.name))
			}
		}
	}
	return nil
}

// isDeleted reads row i of a deleted column; nil (no column) and null are false.
func isDeleted(del *array.Boolean, i int) bool { return del != nil && del.IsValid(i) && del.Value(i) }

// The flag columns of an export that a write accepts.
const (
	deletedColumn    = "deleted"
	backfilledColumn = "backfilled"
)

// firstNaN returns the first row of a float array holding NaN; -1 if none
// does or the array holds no floats.
func firstNaN(arr arrow.Array) int {
	switch a := arr.(type) {
	case *array.Float64:
		for i, v := range a.Float64Values() {
			if v != v && a.IsValid(i) {
				return i
			}
		}
	case *array.Float32:
		for i, v := range a.Float32Values() {
			if v != v && a.IsValid(i) {
				return i
			}
		}
	}
	return -1
}

func featureList(v *storage.View) string {
	names := make([]string, len(v.Features))
	for i, f := range v.Features {
		names[i] = f.Name
	}
	return strings.Join(names, ", ")
}
