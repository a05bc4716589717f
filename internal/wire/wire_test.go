package wire

import (
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
)

// Every number is the one its field has in the generated code.
func TestFieldNumbers(t *testing.T) {
	for _, c := range []struct {
		msg    proto.Message
		fields map[protoreflect.Name]protowire.Number
	}{
		{&timefencev1.WriteBatchRequest{}, map[protoreflect.Name]protowire.Number{
			"batch_id": BatchID, "feature_view": FeatureView, "feature_names": FeatureNames, "rows": Rows, "backfill": Backfill}},
		{&timefencev1.WriteRow{}, map[protoreflect.Name]protowire.Number{
			"join_keys": RowJoinKeys, "event_time": RowEventTime, "values": RowValues, "delete": RowDelete, "available_at": RowAvailableAt}},
		{&timestamppb.Timestamp{}, map[protoreflect.Name]protowire.Number{"seconds": Seconds, "nanos": Nanos}},
		{&timefencev1.Value{}, map[protoreflect.Name]protowire.Number{
			"int64_value": Int64Value, "double_value": DoubleValue, "float_value": FloatValue, "string_value": StringValue,
			"bool_value": BoolValue, "bytes_value": BytesValue, "int32_value": Int32Value, "timestamp_value": TimestampValue,
			"json_value": JSONValue, "map_value": MapValue}},
	} {
		md := c.msg.ProtoReflect().Descriptor()
		if _, ok := c.msg.(*timefencev1.Value); !ok {
			// A new field must be coded by hand too, or the coders refuse it.
			require.Equal(t, md.Fields().Len(), len(c.fields), "the fields of %s", md.FullName())
		}
		for name, num := range c.fields {
			fd := md.Fields().ByName(name)
			require.NotNil(t, fd, "%s.%s", md.FullName(), name)
			require.Equal(t, fd.Number(), num, "%s.%s", md.FullName(), name)
		}
	}
}
