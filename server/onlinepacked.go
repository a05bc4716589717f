package server

import (
	"fmt"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
)

// packedResponse returns resp with its columns packed. resp itself is left
// as it is: the serving log may still be reading it.
func packedResponse(resp *timefencev1.GetOnlineFeaturesResponse, n int) (*timefencev1.GetOnlineFeaturesResponse, error) {
	packed, err := packColumns(resp.GetColumns(), n)
	if err != nil {
		return nil, toStatus(err)
	}
	return &timefencev1.GetOnlineFeaturesResponse{Features: resp.GetFeatures(), ReadTime: resp.GetReadTime(),
		Watermark: resp.GetWatermark(), RequestId: resp.GetRequestId(), Packed: packed}, nil
}

// packColumns returns the columns of an online response, n entity rows
// each, as one PackedColumns (online_service.proto): the same statuses,
// event times, nulls and values, concatenated feature after feature into a
// field per type. It is a change of layout only, made after the lookup
// (and the serving log, which keeps the columns).
func packColumns(cols []*timefencev1.FeatureColumn, n int) (*timefencev1.PackedColumns, error) {
	p := &timefencev1.PackedColumns{
		Types:              make([]timefencev1.ValueType, 0, len(cols)),
		Statuses:           make([]timefencev1.FeatureStatus, 0, len(cols)*n),
		EventTimeUnixNanos: make([]int64, 0, len(cols)*n),
		Nulls:              make([]bool, 0, len(cols)*n),
	}
	for j, col := range cols {
		if len(col.GetStatuses()) != n || len(col.GetEventTimeUnixNanos()) != n || len(col.GetNulls()) != n {
			return nil, fmt.Errorf("online column %d: %d statuses, %d event times, %d nulls for %d rows",
				j, len(col.GetStatuses()), len(col.GetEventTimeUnixNanos()), len(col.GetNulls()), n)
		}
		p.Types = append(p.Types, col.GetType())
		p.Statuses = append(p.Statuses, col.GetStatuses()...)
		p.EventTimeUnixNanos = append(p.EventTimeUnixNanos, col.GetEventTimeUnixNanos()...)
		p.Nulls = append(p.Nulls, col.GetNulls()...)
		if got := packValues(p, col); got != n {
			return nil, fmt.Errorf("online column %d: %d values for %d rows", j, got, n)
		}
	}
	return p, nil
}

// packValues appends col's values to p and returns how many rows they are.
func packValues(p *timefencev1.PackedColumns, col *timefencev1.FeatureColumn) int {
	switch v := col.GetValues().(type) {
	case *timefencev1.FeatureColumn_Int64Values:
		p.Int64Values = append(p.Int64Values, v.Int64Values.GetValues()...)
		return len(v.Int64Values.GetValues())
	case *timefencev1.FeatureColumn_Int32Values:
		p.Int32Values = append(p.Int32Values, v.Int32Values.GetValues()...)
		return len(v.Int32Values.GetValues())
	case *timefencev1.FeatureColumn_DoubleValues:
		p.DoubleValues = append(p.DoubleValues, v.DoubleValues.GetValues()...)
		return len(v.DoubleValues.GetValues())
	case *timefencev1.FeatureColumn_FloatValues:
		p.FloatValues = append(p.FloatValues, v.FloatValues.GetValues()...)
		return len(v.FloatValues.GetValues())
	case *timefencev1.FeatureColumn_StringValues:
		p.StringValues = append(p.StringValues, v.StringValues.GetValues()...)
		return len(v.StringValues.GetValues())
	case *timefencev1.FeatureColumn_BoolValues:
		p.BoolValues = append(p.BoolValues, v.BoolValues.GetValues()...)
		return len(v.BoolValues.GetValues())
	case *timefencev1.FeatureColumn_BytesValues:
		p.BytesValues = append(p.BytesValues, v.BytesValues.GetValues()...)
		return len(v.BytesValues.GetValues())
	case *timefencev1.FeatureColumn_FloatListValues:
		for _, l := range v.FloatListValues.GetValues() {
			p.FloatValues = append(p.FloatValues, l.GetValues()...)
			p.ListLengths = append(p.ListLengths, int32(len(l.GetValues())))
		}
		return len(v.FloatListValues.GetValues())
	case *timefencev1.FeatureColumn_DoubleListValues:
		for _, l := range v.DoubleListValues.GetValues() {
			p.DoubleValues = append(p.DoubleValues, l.GetValues()...)
			p.ListLengths = append(p.ListLengths, int32(len(l.GetValues())))
		}
		return len(v.DoubleListValues.GetValues())
	case *timefencev1.FeatureColumn_Int32ListValues:
		for _, l := range v.Int32ListValues.GetValues() {
			p.Int32Values = append(p.Int32Values, l.GetValues()...)
			p.ListLengths = append(p.ListLengths, int32(len(l.GetValues())))
		}
		return len(v.Int32ListValues.GetValues())
	case *timefencev1.FeatureColumn_Int64ListValues:
		for _, l := range v.Int64ListValues.GetValues() {
			p.Int64Values = append(p.Int64Values, l.GetValues()...)
			p.ListLengths = append(p.ListLengths, int32(len(l.GetValues())))
		}
		return len(v.Int64ListValues.GetValues())
	case *timefencev1.FeatureColumn_StringListValues:
		for _, l := range v.StringListValues.GetValues() {
			p.StringValues = append(p.StringValues, l.GetValues()...)
			p.ListLengths = append(p.ListLengths, int32(len(l.GetValues())))
		}
		return len(v.StringListValues.GetValues())
	case *timefencev1.FeatureColumn_BoolListValues:
		for _, l := range v.BoolListValues.GetValues() {
			p.BoolValues = append(p.BoolValues, l.GetValues()...)
			p.ListLengths = append(p.ListLengths, int32(len(l.GetValues())))
		}
		return len(v.BoolListValues.GetValues())
	case *timefencev1.FeatureColumn_BytesListValues:
		for _, l := range v.BytesListValues.GetValues() {
			p.BytesValues = append(p.BytesValues, l.GetValues()...)
			p.ListLengths = append(p.ListLengths, int32(len(l.GetValues())))
		}
		return len(v.BytesListValues.GetValues())
	}
	return -1
}
