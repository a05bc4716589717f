package server

import (
	"fmt"
	"math"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
	"github.com/timefence/timefence/storage"
)

// The representable time range: int64 Unix nanoseconds.
var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// toNanos converts a required timestamp; field names it in the error.
func toNanos(ts *timestamppb.Timestamp, field string) (int64, error) {
	if ns, ok := validNanos(ts); ok {
		return ns, nil
	}
	if ts == nil {
		return 0, invalid(field + ": missing timestamp")
	}
	if err := ts.CheckValid(); err != nil {
		return 0, invalid(fmt.Sprintf("%s: invalid timestamp: %v", field, err))
	}
	return 0, invalid(fmt.Sprintf("%s: %s is outside the supported range 1678..2262", field, ts.AsTime().Format(time.RFC3339)))
}

// validNanos returns ts in Unix nanoseconds when toNanos accepts it.
func validNanos(ts *timestamppb.Timestamp) (int64, bool) {
	if !ts.IsValid() {
		return 0, false
	}
	t := ts.AsTime()
	if t.Before(minTime) || t.After(maxTime) {
		return 0, false
	}
	return t.UnixNano(), true
}

func fromNanos(ns int64) *timestamppb.Timestamp { return timestamppb.New(time.Unix(0, ns)) }

// typeToProto maps every feature and key type to its API type: their
// numbers are the same.
var typeToProto = func() map[storage.Type]timefencev1.ValueType {
	m := map[storage.Type]timefencev1.ValueType{}
	for t := storage.TypeInt64; t.Valid(); t++ {
		m[t] = timefencev1.ValueType(t)
	}
	return m
}()

var typeFromProto = func() map[timefencev1.ValueType]storage.Type {
	m := map[timefencev1.ValueType]storage.Type{}
	for k, v := range typeToProto {
		m[v] = k
	}
	return m
}()

func toType(t timefencev1.ValueType, field string) (storage.Type, error) {
	st, ok := typeFromProto[t]
	if !ok {
		return 0, invalid(fmt.Sprintf("%s: unknown or unspecified type %s", field, t))
	}
	return st, nil
}

// toValue converts a wire value; a value with no kind is null.
func toValue(v *timefencev1.Value) storage.Value {
	switch k := v.GetKind().(type) {
	case *timefencev1.Value_Int64Value:
		return storage.Int64(k.Int64Value)
	case *timefencev1.Value_Int32Value:
		return storage.Int32(k.Int32Value)
	case *timefencev1.Value_TimestampValue:
		return storage.Timestamp(k.TimestampValue)
	case *timefencev1.Value_DoubleValue:
		return storage.Float64(k.DoubleValue)
	case *timefencev1.Value_FloatValue:
		return storage.Float32(k.FloatValue)
	case *timefencev1.Value_StringValue:
		return storage.String(k.StringValue)
	case *timefencev1.Value_JsonValue:
		return storage.JSON(k.JsonValue)
	case *timefencev1.Value_MapValue:
		return storage.Map(k.MapValue)
	case *timefencev1.Value_BoolValue:
		return storage.Bool(k.BoolValue)
	case *timefencev1.Value_BytesValue:
		return storage.Bytes(k.BytesValue)
	case *timefencev1.Value_FloatListValue:
		return storage.FloatList(k.FloatListValue.GetValues())
	case *timefencev1.Value_Int32ListValue:
		return storage.Int32List(k.Int32ListValue.GetValues())
	case *timefencev1.Value_Int64ListValue:
		return storage.Int64List(k.Int64ListValue.GetValues())
	case *timefencev1.Value_TimestampListValue:
		return storage.TimestampList(k.TimestampListValue.GetValues())
	case *timefencev1.Value_DoubleListValue:
		return storage.Float64List(k.DoubleListValue.GetValues())
	case *timefencev1.Value_StringListValue:
		return storage.StringList(k.StringListValue.GetValues())
	case *timefencev1.Value_BoolListValue:
		return storage.BoolList(k.BoolListValue.GetValues())
	case *timefencev1.Value_BytesListValue:
		return storage.BytesList(k.BytesListValue.GetValues())
	}
	return storage.Value{}
}

// toValueAs converts a wire value for a column of type t: an int32 (or
// int32 list) is read as an int64 one where t is wider, an int64 as an
// int32 where t is narrower (Check refuses it when out of range), and a
// float list as a double list. Other types are left for the store to refuse.
func toValueAs(v *timefencev1.Value, t storage.Type) storage.Value {
	x := toValue(v)
	switch {
	case x.IsNull() || x.Type == t || !t.Valid():
		return x
	case x.Type.WidensTo(t):
		return x.As(t)
	case x.Type == storage.TypeInt64 && t == storage.TypeInt32, x.Type == storage.TypeInt64List && t == storage.TypeInt32List:
		return x.As(t)
	}
	return x
}

func toEntity(e *timefencev1.Entity) (storage.Entity, error) {
	if e == nil {
		return storage.Entity{}, invalid("entity: missing")
	}
	out := storage.Entity{Name: e.GetName(), Description: e.GetDescription()}
	for i, k := range e.GetJoinKeys() {
		t, err := toType(k.GetType(), fmt.Sprintf("entity.join_keys[%d].type", i))
		if err != nil {
			return out, err
		}
		out.JoinKeys = append(out.JoinKeys, storage.JoinKey{Name: k.GetName(), Type: t})
	}
	return out, nil
}

func fromEntity(e storage.Entity) *timefencev1.Entity {
	out := &timefencev1.Entity{Name: e.Name, Description: e.Description, Version: e.Version}
	for _, k := range e.JoinKeys {
		out.JoinKeys = append(out.JoinKeys, &timefencev1.JoinKey{Name: k.Name, Type: typeToProto[k.Type]})
	}
	return out
}

func toView(v *timefencev1.FeatureView) (storage.View, error) {
	if v == nil {
		return storage.View{}, invalid("feature_view: missing")
	}
	out := storage.View{Name: v.GetName(), Entity: v.GetEntity(), Description: v.GetDescription(),
		Tags: v.GetTags(), Owner: v.GetOwner(), ServingLogRate: v.GetServingLogRate()}
	if v.GetTtl() != nil {
		if err := v.GetTtl().CheckValid(); err != nil {
			return out, invalid(fmt.Sprintf("feature_view.ttl: %v", err))
		}
		out.TTL = v.GetTtl().AsDuration()
	}
	for i, f := range v.GetFeatures() {
		t, err := toType(f.GetType(), fmt.Sprintf("feature_view.features[%d].type", i))
		if err != nil {
			return out, err
		}
		out.Features = append(out.Features, storage.Feature{Name: f.GetName(), Type: t, Description: f.GetDescription(), Required: f.GetRequired()})
	}
	for i, e := range v.GetExpectations() {
		x, err := toExpectation(e, fmt.Sprintf("feature_view.expectations[%d]", i))
		if err != nil {
			return out, err
		}
		out.Expectations = append(out.Expectations, x)
	}
	return out, nil
}

// toExpectation converts an expectation; the store checks it against its view.
func toExpectation(e *timefencev1.Expectation, path string) (storage.Expectation, error) {
	out := storage.Expectation{Feature: e.GetFeature(), Min: e.Min, Max: e.Max, Allowed: e.GetAllowed(),
		NotNull: e.GetNotNull(), MaxNullRate: e.MaxNullRate}
	switch e.GetLevel() {
	case timefencev1.ExpectationLevel_EXPECTATION_LEVEL_UNSPECIFIED, timefencev1.ExpectationLevel_EXPECTATION_LEVEL_HARD:
		out.Level = storage.LevelHard
	case timefencev1.ExpectationLevel_EXPECTATION_LEVEL_WARN:
		out.Level = storage.LevelWarn
	default:
		return out, invalid(fmt.Sprintf("%s.level: unknown level %d", path, e.GetLevel()))
	}
	if lag := e.GetMaxArrivalLag(); lag != nil {
		if err := lag.CheckValid(); err != nil {
			return out, invalid(fmt.Sprintf("%s.max_arrival_lag: %v", path, err))
		}
		out.MaxArrivalLag = lag.AsDuration()
	}
	if d := e.GetMaxBatchInterval(); d != nil {
		if err := d.CheckValid(); err != nil {
			return out, invalid(fmt.Sprintf("%s.max_batch_interval: %v", path, err))
		}
		out.MaxBatchInterval = d.AsDuration()
	}
	return out, nil
}

func fromExpectation(e *storage.Expectation) *timefencev1.Expectation {
	out := &timefencev1.Expectation{Feature: e.Feature, Level: timefencev1.ExpectationLevel_EXPECTATION_LEVEL_HARD,
		Min: e.Min, Max: e.Max, Allowed: e.Allowed, NotNull: e.NotNull, MaxNullRate: e.MaxNullRate}
	if e.IsWarn() {
		out.Level = timefencev1.ExpectationLevel_EXPECTATION_LEVEL_WARN
	}
	if e.MaxArrivalLag != 0 {
		out.MaxArrivalLag = durationpb.New(e.MaxArrivalLag)
	}
	if e.MaxBatchInterval != 0 {
		out.MaxBatchInterval = durationpb.New(e.MaxBatchInterval)
	}
	return out
}

func fromView(v *storage.View) *timefencev1.FeatureView {
	out := &timefencev1.FeatureView{Name: v.Name, Entity: v.Entity, Description: v.Description,
		Tags: v.Tags, Owner: v.Owner, Version: v.Version, ServingLogRate: v.ServingLogRate}
	if v.TTL > 0 {
		out.Ttl = durationpb.New(v.TTL)
	}
	for _, f := range v.Features {
		out.Features = append(out.Features, &timefencev1.Feature{Name: f.Name, Type: typeToProto[f.Type], Description: f.Description, Required: f.Required})
	}
	for i := range v.Expectations {
		out.Expectations = append(out.Expectations, fromExpectation(&v.Expectations[i]))
	}
	return out
}

func toSplit(s *timefencev1.Split) (storage.Split, error) {
	if s == nil {
		return storage.Split{}, invalid("split: missing")
	}
	out := storage.Split{Name: s.GetName(), Description: s.GetDescription()}
	if s.GetStart() != nil {
		start, err := toNanos(s.GetStart(), "split.start")
		if err != nil {
			return out, err
		}
		out.Start = start
	}
	end, err := toNanos(s.GetEnd(), "split.end")
	if err != nil {
		return out, err
	}
	out.End = end
	return out, nil
}

func fromSplit(s storage.Split) *timefencev1.Split {
	return &timefencev1.Split{Name: s.Name, Start: fromNanos(s.Start), End: fromNanos(s.End),
		Description: s.Description, CreateTime: fromNanos(s.Created)}
}
