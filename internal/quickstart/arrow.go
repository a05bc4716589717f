package quickstart

import (
	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
)

var spineSchema = arrow.NewSchema([]arrow.Field{
	{Name: "user_id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "event_timestamp", Type: arrow.FixedWidthTypes.Timestamp_ns},
	{Name: "txn_id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "amount", Type: arrow.PrimitiveTypes.Float64},
	{Name: "is_fraud", Type: arrow.FixedWidthTypes.Boolean},
}, nil)

// SpineRecord makes a spine of transactions: keys, time, and labels.
func SpineRecord(txns []Txn) arrow.Record {
	b := array.NewRecordBuilder(memory.DefaultAllocator, spineSchema)
	defer b.Release()
	for _, t := range txns {
		b.Field(0).(*array.Int64Builder).Append(t.User)
		b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(t.Time.UnixNano()))
		b.Field(2).(*array.Int64Builder).Append(t.ID)
		b.Field(3).(*array.Float64Builder).Append(t.Amount)
		b.Field(4).(*array.BooleanBuilder).Append(t.Fraud)
	}
	return b.NewRecord()
}

// Features are one spine row's user_daily_spend values in a join result;
// OK is false when they are null.
type Features struct {
	OK        bool
	Spend     float64
	Count     int64
	MaxAmount float64
}

// matches reports whether f holds the values of v, or is null when ok is
// false.
func (f Features) matches(v Version, ok bool) bool {
	if !ok || !f.OK {
		return ok == f.OK
	}
	return f.Spend == v.Spend && f.Count == v.Count && f.MaxAmount == v.MaxAmount
}

// ReadFeatures reads the user_daily_spend columns of a join result.
func ReadFeatures(r arrow.Record) []Features {
	col := func(name string) arrow.Array {
		idx := r.Schema().FieldIndices(name)
		return r.Column(idx[0])
	}
	spend := col("spend_1d").(*array.Float64)
	cnt := col("txn_count_1d").(*array.Int64)
	mx := col("max_amount_1d").(*array.Float64)
	out := make([]Features, r.NumRows())
	for i := range out {
		if spend.IsNull(i) {
			continue
		}
		out[i] = Features{OK: true, Spend: spend.Value(i), Count: cnt.Value(i), MaxAmount: mx.Value(i)}
	}
	return out
}
