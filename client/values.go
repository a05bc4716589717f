package client

import (
	"encoding/json"
	"fmt"
	"math"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
)

// JSON is the text of a JSON value: the Go value of a json feature, written
// and read. The server refuses text that does not parse and keeps it as
// written. json.RawMessage is written as JSON too.
type JSON string

// Map is the text of a JSON object: the Go value of a map feature, written
// and read. A map[string]any is written as a Map of its JSON encoding. The
// server refuses text that is not a JSON object and keeps it as written.
type Map string

// Unmarshal decodes the JSON text into v, as json.Unmarshal does.
func (j JSON) Unmarshal(v any) error { return json.Unmarshal([]byte(j), v) }

// Unmarshal decodes the object into v, as json.Unmarshal does; v may be a
// *map[string]any or a pointer to a struct.
func (m Map) Unmarshal(v any) error { return json.Unmarshal([]byte(m), v) }

// The times a timestamp can hold: int64 Unix nanoseconds.
var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// toValue converts a Go value of a key or feature (see Row) to the wire.
func toValue(v any) (*timefencev1.Value, error) {
	switch x := v.(type) {
	case nil:
		return &timefencev1.Value{}, nil
	case int:
		return &timefencev1.Value{Kind: &timefencev1.Value_Int64Value{Int64Value: int64(x)}}, nil
	case int32:
		return &timefencev1.Value{Kind: &timefencev1.Value_Int32Value{Int32Value: x}}, nil
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
	case time.Time:
		ns, err := unixNanos(x)
		if err != nil {
			return nil, err
		}
		return &timefencev1.Value{Kind: &timefencev1.Value_TimestampValue{TimestampValue: ns}}, nil
	case JSON:
		return &timefencev1.Value{Kind: &timefencev1.Value_JsonValue{JsonValue: string(x)}}, nil
	case json.RawMessage:
		return &timefencev1.Value{Kind: &timefencev1.Value_JsonValue{JsonValue: string(x)}}, nil
	case Map:
		return &timefencev1.Value{Kind: &timefencev1.Value_MapValue{MapValue: string(x)}}, nil
	case map[string]any:
		b, err := json.Marshal(x)
		if err != nil {
			return nil, fmt.Errorf("%w: map value: %v", ErrInvalidArgument, err)
		}
		return &timefencev1.Value{Kind: &timefencev1.Value_MapValue{MapValue: string(b)}}, nil
	case []float32:
		return &timefencev1.Value{Kind: &timefencev1.Value_FloatListValue{FloatListValue: &timefencev1.FloatList{Values: x}}}, nil
	case []int32:
		return &timefencev1.Value{Kind: &timefencev1.Value_Int32ListValue{Int32ListValue: &timefencev1.Int32List{Values: x}}}, nil
	case []int64:
		return &timefencev1.Value{Kind: &timefencev1.Value_Int64ListValue{Int64ListValue: &timefencev1.Int64List{Values: x}}}, nil
	case []int:
		l := make([]int64, len(x))
		for i, n := range x {
			l[i] = int64(n)
		}
		return &timefencev1.Value{Kind: &timefencev1.Value_Int64ListValue{Int64ListValue: &timefencev1.Int64List{Values: l}}}, nil
	case []float64:
		return &timefencev1.Value{Kind: &timefencev1.Value_DoubleListValue{DoubleListValue: &timefencev1.DoubleList{Values: x}}}, nil
	case []string:
		return &timefencev1.Value{Kind: &timefencev1.Value_StringListValue{StringListValue: &timefencev1.StringList{Values: x}}}, nil
	case []bool:
		return &timefencev1.Value{Kind: &timefencev1.Value_BoolListValue{BoolListValue: &timefencev1.BoolList{Values: x}}}, nil
	case [][]byte:
		return &timefencev1.Value{Kind: &timefencev1.Value_BytesListValue{BytesListValue: &timefencev1.BytesList{Values: x}}}, nil
	case []time.Time:
		l := make([]int64, len(x))
		for i, t := range x {
			ns, err := unixNanos(t)
			if err != nil {
				return nil, fmt.Errorf("item %d: %w", i, err)
			}
			l[i] = ns
		}
		return &timefencev1.Value{Kind: &timefencev1.Value_TimestampListValue{TimestampListValue: &timefencev1.Int64List{Values: l}}}, nil
	case *timefencev1.Value:
		return x, nil
	}
	return nil, fmt.Errorf("%w: unsupported value type %T", ErrInvalidArgument, v)
}

// unixNanos returns t in Unix nanoseconds, refusing a time they cannot hold.
func unixNanos(t time.Time) (int64, error) {
	if t.Before(minTime) || t.After(maxTime) {
		return 0, fmt.Errorf("%w: time %s is outside the supported range 1678..2262", ErrInvalidArgument, t.Format(time.RFC3339))
	}
	return t.UnixNano(), nil
}

func tsOrNil(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// columnValues returns an accessor for row i of a result column's values,
// as the Go values toValue writes: timestamps as time.Time in UTC, json
// and map values as JSON and Map.
func columnValues(col *timefencev1.FeatureColumn) func(i int) any {
	t := col.GetType()
	switch v := col.GetValues().(type) {
	case *timefencev1.FeatureColumn_Int64Values:
		if t == timefencev1.ValueType_VALUE_TYPE_TIMESTAMP {
			return func(i int) any { return time.Unix(0, v.Int64Values.GetValues()[i]).UTC() }
		}
		return func(i int) any { return v.Int64Values.GetValues()[i] }
	case *timefencev1.FeatureColumn_Int32Values:
		return func(i int) any { return v.Int32Values.GetValues()[i] }
	case *timefencev1.FeatureColumn_DoubleValues:
		return func(i int) any { return v.DoubleValues.GetValues()[i] }
	case *timefencev1.FeatureColumn_FloatValues:
		return func(i int) any { return v.FloatValues.GetValues()[i] }
	case *timefencev1.FeatureColumn_StringValues:
		switch t {
		case timefencev1.ValueType_VALUE_TYPE_JSON:
			return func(i int) any { return JSON(v.StringValues.GetValues()[i]) }
		case timefencev1.ValueType_VALUE_TYPE_MAP:
			return func(i int) any { return Map(v.StringValues.GetValues()[i]) }
		}
		return func(i int) any { return v.StringValues.GetValues()[i] }
	case *timefencev1.FeatureColumn_BoolValues:
		return func(i int) any { return v.BoolValues.GetValues()[i] }
	case *timefencev1.FeatureColumn_BytesValues:
		return func(i int) any { return v.BytesValues.GetValues()[i] }
	case *timefencev1.FeatureColumn_FloatListValues:
		return func(i int) any { return v.FloatListValues.GetValues()[i].GetValues() }
	case *timefencev1.FeatureColumn_Int32ListValues:
		return func(i int) any { return v.Int32ListValues.GetValues()[i].GetValues() }
	case *timefencev1.FeatureColumn_Int64ListValues:
		if t == timefencev1.ValueType_VALUE_TYPE_TIMESTAMP_LIST {
			return func(i int) any {
				ns := v.Int64ListValues.GetValues()[i].GetValues()
				out := make([]time.Time, len(ns))
				for k, x := range ns {
					out[k] = time.Unix(0, x).UTC()
				}
				return out
			}
		}
		return func(i int) any { return v.Int64ListValues.GetValues()[i].GetValues() }
	case *timefencev1.FeatureColumn_DoubleListValues:
		return func(i int) any { return v.DoubleListValues.GetValues()[i].GetValues() }
	case *timefencev1.FeatureColumn_StringListValues:
		return func(i int) any { return v.StringListValues.GetValues()[i].GetValues() }
	case *timefencev1.FeatureColumn_BoolListValues:
		return func(i int) any { return v.BoolListValues.GetValues()[i].GetValues() }
	case *timefencev1.FeatureColumn_BytesListValues:
		return func(i int) any { return v.BytesListValues.GetValues()[i].GetValues() }
	}
	return func(int) any { return nil }
}
