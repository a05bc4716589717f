package client

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
)

// toValue converts a Go value: nil, int, int32, int64, float32, float64,
// string, bool, []byte or []float32.
func toValue(v any) (*timefencev1.Value, error) {
	switch x := v.(type) {
	case nil:
		return &timefencev1.Value{}, nil
	case int:
		return &timefencev1.Value{Kind: &timefencev1.Value_Int64Value{Int64Value: int64(x)}}, nil
	case int32:
		return &timefencev1.Value{Kind: &timefencev1.Value_Int64Value{Int64Value: int64(x)}}, nil
	case int64:
		return &timefencev1.Value{Kind: &timefencev1.Value_Int64Value{Int64Value: x}}, nil
	case float64:
		return &timefencev1.Value{Kind: &timefencev1.Value_DoubleValue{DoubleValue: x}}, nil
	case float32:
		return &timefencev1.Value{Kind: &timefencev1.Value_FloatValue{FloatValue: x}}, nil
	case string:
		return &timefencev1.Value{Kind: &timefencev1.Value_StringValue{StringValue: x}}, nil
	case bool:
		return &timefencev1.Value{Kind: &timefencev1.Value_BoolValue{BoolValue: x}}, nil
	case []byte:
		return &timefencev1.Value{Kind: &timefencev1.Value_BytesValue{BytesValue: x}}, nil
	case []float32:
		return &timefencev1.Value{Kind: &timefencev1.Value_FloatListValue{FloatListValue: &timefencev1.FloatList{Values: x}}}, nil
	case *timefencev1.Value:
		return x, nil
	}
	return nil, fmt.Errorf("%w: unsupported value type %T", ErrInvalidArgument, v)
}

func tsOrNil(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// columnValues returns an accessor for row i of a result column's values.
func columnValues(col *timefencev1.FeatureColumn) func(i int) any {
	switch v := col.GetValues().(type) {
	case *timefencev1.FeatureColumn_Int64Values:
		return func(i int) any { return v.Int64Values.GetValues()[i] }
	case *timefencev1.FeatureColumn_DoubleValues:
		return func(i int) any { return v.DoubleValues.GetValues()[i] }
	case *timefencev1.FeatureColumn_FloatValues:
		return func(i int) any { return v.FloatValues.GetValues()[i] }
	case *timefencev1.FeatureColumn_StringValues:
		return func(i int) any { return v.StringValues.GetValues()[i] }
	case *timefencev1.FeatureColumn_BoolValues:
		return func(i int) any { return v.BoolValues.GetValues()[i] }
	case *timefencev1.FeatureColumn_BytesValues:
		return func(i int) any { return v.BytesValues.GetValues()[i] }
	case *timefencev1.FeatureColumn_FloatListValues:
		return func(i int) any { return v.FloatListValues.GetValues()[i].GetValues() }
	}
	return func(int) any { return nil }
}
