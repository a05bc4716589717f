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
		return packScalars(&p.Int64Values, v.Int64Values.GetValues())
	case *timefencev1.FeatureColumn_Int32Values:
		return packScalars(&p.Int32Values, v.Int32Values.GetValues())
	case *timefencev1.FeatureColumn_DoubleValues:
		return packScalars(&p.DoubleValues, v.DoubleValues.GetValues())
	case *timefencev1.FeatureColumn_FloatValues:
		return packScalars(&p.FloatValues, v.FloatValues.GetValues())
	case *timefencev1.FeatureColumn_StringValues:
		return packScalars(&p.StringValues, v.StringValues.GetValues())
	case *timefencev1.FeatureColumn_BoolValues:
		return packScalars(&p.BoolValues, v.BoolValues.GetValues())
	case *timefencev1.FeatureColumn_BytesValues:
		return packScalars(&p.BytesValues, v.BytesValues.GetValues())
	case *timefencev1.FeatureColumn_FloatListValues:
		return packLists(&p.FloatValues, &p.ListLengths, v.FloatListValues.GetValues())
	case *timefencev1.FeatureColumn_DoubleListValues:
		return packLists(&p.DoubleValues, &p.ListLengths, v.DoubleListValues.GetValues())
	case *timefencev1.FeatureColumn_Int32ListValues:
		return packLists(&p.Int32Values, &p.ListLengths, v.Int32ListValues.GetValues())
	case *timefencev1.FeatureColumn_Int64ListValues:
		return packLists(&p.Int64Values, &p.ListLengths, v.Int64ListValues.GetValues())
	case *timefencev1.FeatureColumn_StringListValues:
		return packLists(&p.StringValues, &p.ListLengths, v.StringListValues.GetValues())
	case *timefencev1.FeatureColumn_BoolListValues:
		return packLists(&p.BoolValues, &p.ListLengths, v.BoolListValues.GetValues())
	case *timefencev1.FeatureColumn_BytesListValues:
		return packLists(&p.BytesValues, &p.ListLengths, v.BytesListValues.GetValues())
	}
	return -1
}

// packScalars appends values to *dst and returns how many they are.
func packScalars[T any](dst *[]T, values []T) int {
	*dst = append(*dst, values...)
	return len(values)
}

// packLists appends the items of each list to *items and its length to
// *lengths, and returns how many lists there are.
func packLists[T any, L interface{ GetValues() []T }](items *[]T, lengths *[]int32, lists []L) int {
	for _, l := range lists {
		*items = append(*items, l.GetValues()...)
		*lengths = append(*lengths, int32(len(l.GetValues())))
	}
	return len(lists)
}
