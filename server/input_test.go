package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/flight"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
	"github.com/timefence/timefence/client"
	"github.com/timefence/timefence/server"
	"github.com/timefence/timefence/storage"
)

// rawCodec sends pre-encoded request bytes as they are, so a test can send
// what no protobuf library would encode (invalid UTF-8 in a string field).
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) {
	if b, ok := v.([]byte); ok {
		return b, nil
	}
	return proto.Marshal(v.(proto.Message))
}
func (rawCodec) Unmarshal(b []byte, v any) error { return proto.Unmarshal(b, v.(proto.Message)) }
func (rawCodec) Name() string                    { return "proto" }

// invokeCorrupted encodes req, replaces the first occurrence of the
// placeholder with bad bytes of the same length, and calls method with it.
func invokeCorrupted(t *testing.T, env *testEnv, method string, req proto.Message, placeholder, bad string, resp proto.Message) error {
	t.Helper()
	require.Len(t, bad, len(placeholder))
	b, err := proto.Marshal(req)
	require.NoError(t, err)
	require.Equal(t, 1, bytes.Count(b, []byte(placeholder)))
	b = bytes.Replace(b, []byte(placeholder), []byte(bad), 1)
	return env.client.Conn().Invoke(context.Background(), method, b, resp, grpc.ForceCodec(rawCodec{}))
}

// defineProfile adds to defineUsers' definitions the view "profile" of
// user: name (string) and emb (float list).
func defineProfile(t *testing.T, env *testEnv) {
	t.Helper()
	env.defineUsers(t, 0)
	_, err := env.client.ApplyFeatureView(context.Background(), &timefencev1.FeatureView{Name: "profile", Entity: "user",
		Features: []*timefencev1.Feature{{Name: "name", Type: tString}, {Name: "emb", Type: tList}}})
	require.NoError(t, err)
}

// profileTable is a bulk write of view profile: user_id, region, event
// time, name and emb per row.
func profileTable(regions, names []string, embs [][]float32) array.RecordReader {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "user_id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "region", Type: arrow.BinaryTypes.String},
		{Name: "event_timestamp", Type: &arrow.TimestampType{Unit: arrow.Microsecond}},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "emb", Type: arrow.ListOf(arrow.PrimitiveTypes.Float32), Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	ts := arrow.Timestamp(time.Now().Add(-time.Hour).UnixMicro())
	for i := range regions {
		b.Field(0).(*array.Int64Builder).Append(int64(i))
		b.Field(1).(*array.StringBuilder).Append(regions[i])
		b.Field(2).(*array.TimestampBuilder).Append(ts)
		b.Field(3).(*array.StringBuilder).Append(names[i])
		lb := b.Field(4).(*array.ListBuilder)
		lb.Append(true)
		lb.ValueBuilder().(*array.Float32Builder).AppendValues(embs[i], nil)
	}
	return recordReader(b.NewRecord())
}

// requireClientError checks a client error's code, reason and message.
func requireClientError(t *testing.T, err error, code codes.Code, reason, msg string) *client.Error {
	t.Helper()
	var ce *client.Error
	require.ErrorAs(t, err, &ce, "%v", err)
	require.Equal(t, code, ce.Code, ce.Message)
	require.Equal(t, reason, ce.Reason, ce.Message)
	require.Contains(t, ce.Message, msg)
	return ce
}

// readsWork checks that online reads and statistics of the views still
// succeed, so that nothing unreadable was stored.
func readsWork(t *testing.T, env *testEnv, regions ...string) {
	t.Helper()
	ctx := context.Background()
	for i, r := range regions {
		_, err := env.client.GetOnline(ctx, []string{"profile", "stats"}, []string{"user_id", "region"}, [][]any{{i, r}})
		require.NoError(t, err)
	}
	ds := timefencev1.NewDatasetServiceClient(env.client.Conn())
	for _, v := range []string{"profile", "stats"} {
		_, err := ds.GetStatistics(ctx, &timefencev1.GetStatisticsRequest{Split: "all", FeatureView: v})
		require.NoError(t, err)
	}
}

// TestInvalidUTF8IsRefused: a string key or value that is not UTF-8 is
// refused at write, over gRPC and Flight, naming the row and column, and
// nothing of the batch is written; spines and online requests with such
// keys are refused too. Reads and statistics keep working.
func TestInvalidUTF8IsRefused(t *testing.T) {
	env := startServer(t)
	defineProfile(t, env)
	ctx := context.Background()
	str := func(s string) *timefencev1.Value {
		return &timefencev1.Value{Kind: &timefencev1.Value_StringValue{StringValue: s}}
	}
	i64 := func(v int64) *timefencev1.Value {
		return &timefencev1.Value{Kind: &timefencev1.Value_Int64Value{Int64Value: v}}
	}
	row := func(user int64, region, name string) *timefencev1.WriteRow {
		return &timefencev1.WriteRow{JoinKeys: []*timefencev1.Value{i64(user), str(region)},
			EventTime: timestamppb.New(time.Now().Add(-time.Hour)), Values: []*timefencev1.Value{str(name), {}}}
	}
	before := env.store.Watermark()

	t.Run("grpc write", func(t *testing.T) {
		for _, c := range []struct {
			name string
			req  *timefencev1.WriteBatchRequest
			msg  string
		}{
			{"key", &timefencev1.WriteBatchRequest{FeatureView: "profile", Rows: []*timefencev1.WriteRow{row(0, "eu", "a"), row(1, "@@@@", "b")}},
				"rows[1].join_keys[1].string_value: string is not valid UTF-8"},
			{"value", &timefencev1.WriteBatchRequest{FeatureView: "profile", Rows: []*timefencev1.WriteRow{row(0, "eu", "a"), row(1, "eu", "@@@@")}},
				"rows[1].values[0].string_value: string is not valid UTF-8"},
		} {
			t.Run(c.name, func(t *testing.T) {
				err := invokeCorrupted(t, env, "/timefence.v1.WriteService/WriteBatch", c.req, "@@@@", "ab\xff\xfe", &timefencev1.WriteBatchResponse{})
				requireReason(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", c.msg)
				require.Equal(t, before, env.store.Watermark(), "nothing of the batch is written")
			})
		}
	})

	t.Run("online key", func(t *testing.T) {
		req := &timefencev1.GetOnlineFeaturesRequest{Features: []string{"profile"}, JoinKeys: []string{"user_id", "region"},
			EntityRows: []*timefencev1.EntityRow{{Values: []*timefencev1.Value{i64(1), str("eu")}}, {Values: []*timefencev1.Value{i64(1), str("@@@@")}}}}
		err := invokeCorrupted(t, env, "/timefence.v1.OnlineService/GetOnlineFeatures", req, "@@@@", "\xc3\x28ab", &timefencev1.GetOnlineFeaturesResponse{})
		requireReason(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "entity_rows[1].values[1].string_value: string is not valid UTF-8")
	})

	t.Run("flight write", func(t *testing.T) {
		emb := [][]float32{{1}, {2}, {3}}
		for _, c := range []struct {
			name           string
			regions, names []string
			msg            string
		}{
			{"key", []string{"eu", "eu", "e\xffu"}, []string{"a", "b", "c"}, `row 2: join key column "region": string is not valid UTF-8`},
			{"value", []string{"eu", "eu", "eu"}, []string{"a", "\xe2\x82", "c"}, `row 1: column "name": string is not valid UTF-8`},
			// Together the bytes are UTF-8 ("é"), but each value holds half of it.
			{"split character", []string{"eu", "eu", "eu"}, []string{"a", "\xc3", "\xa9"}, `row 1: column "name": string is not valid UTF-8`},
		} {
			t.Run(c.name, func(t *testing.T) {
				_, err := env.client.WriteTable(ctx, "profile", profileTable(c.regions, c.names, emb))
				requireClientError(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", c.msg)
				require.Equal(t, before, env.store.Watermark(), "nothing of the batch is written")
			})
		}
		// Valid multi-byte strings are written and read back.
		_, err := env.client.WriteTable(ctx, "profile", profileTable([]string{"eu", "日本"}, []string{"é", "ß"}, emb[:2]))
		require.NoError(t, err)
		res, err := env.client.GetOnline(ctx, []string{"profile:name"}, []string{"user_id", "region"}, [][]any{{1, "日本"}})
		require.NoError(t, err)
		require.Equal(t, "ß", res.Rows[0][0].Value)
	})

	t.Run("spine key", func(t *testing.T) {
		schema := arrow.NewSchema([]arrow.Field{{Name: "user_id", Type: arrow.PrimitiveTypes.Int64}, {Name: "region", Type: arrow.BinaryTypes.String},
			{Name: "event_timestamp", Type: &arrow.TimestampType{Unit: arrow.Microsecond}}}, nil)
		b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
		ts := arrow.Timestamp(time.Now().Add(-time.Minute).UnixMicro())
		b.Field(0).(*array.Int64Builder).AppendValues([]int64{1, 2}, nil)
		b.Field(1).(*array.StringBuilder).AppendValues([]string{"eu", "\xffeu"}, nil)
		b.Field(2).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{ts, ts}, nil)
		_, err := env.client.GetHistorical(ctx, "all", []string{"profile"}, recordReader(b.NewRecord()), func(arrow.Record) error { return nil })
		requireClientError(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", `spine: row 1: join key column "region": string is not valid UTF-8`)
	})

	readsWork(t, env, "eu", "日本")
}

// TestLongJoinKeyIsRefused: a string join key longer than the store's key
// limit is refused with INVALID_ARGUMENT naming the limit, the row and the
// key, over gRPC and Flight; a key at the limit is written and read back.
func TestLongJoinKeyIsRefused(t *testing.T) {
	env := startServer(t)
	defineProfile(t, env)
	ctx := context.Background()
	long := strings.Repeat("x", 70_000)
	now := time.Now().Add(-time.Hour)
	before := env.store.Watermark()
	_, err := env.client.Write(ctx, "stats", []client.Row{
		{Key: []any{1, "eu"}, EventTime: now, Values: []any{1, 1.0}},
		{Key: []any{2, long}, EventTime: now, Values: []any{1, 1.0}},
	})
	requireClientError(t, err, codes.InvalidArgument, "INVALID_ARGUMENT",
		`rows[1]: join key "region" holds 70000 bytes (70008 with the other join keys); an entity key may hold at most 64000 bytes`)
	_, err = env.client.WriteTable(ctx, "profile", profileTable([]string{"eu", long}, []string{"a", "b"}, [][]float32{{1}, {2}}))
	requireClientError(t, err, codes.InvalidArgument, "INVALID_ARGUMENT",
		`row 1: join key "region" holds 70000 bytes (70008 with the other join keys); an entity key may hold at most 64000 bytes`)
	require.Equal(t, before, env.store.Watermark(), "nothing of either batch is written")

	// 8 bytes of user_id and 63,992 of region: exactly the limit.
	atLimit := strings.Repeat("y", 64_000-8)
	_, err = env.client.Write(ctx, "stats", []client.Row{{Key: []any{3, atLimit}, EventTime: now, Values: []any{7, 1.0}}})
	require.NoError(t, err)
	_, err = env.client.WriteTable(ctx, "profile", profileTable([]string{"eu", atLimit}, []string{"a", "b"}, [][]float32{{1}, {2}}))
	require.NoError(t, err)
	res, err := env.client.GetOnline(ctx, []string{"stats:clicks", "profile:name"}, []string{"user_id", "region"}, [][]any{{3, atLimit}, {1, atLimit}})
	require.NoError(t, err)
	require.Equal(t, int64(7), res.Rows[0][0].Value)
	require.Equal(t, "b", res.Rows[1][1].Value)
	// A longer key in a read is not an error: no such entity was written.
	res, err = env.client.GetOnline(ctx, []string{"stats:clicks"}, []string{"user_id", "region"}, [][]any{{3, long}})
	require.NoError(t, err)
	require.Equal(t, client.NotFound, res.Rows[0][0].Status)
}

// TestNaNIsRefusedInListsAsInScalars: NaN is not a value, whether it is a
// float feature or an element of a float list, over gRPC and Flight.
func TestNaNIsRefusedInListsAsInScalars(t *testing.T) {
	env := startServer(t)
	defineProfile(t, env)
	ctx := context.Background()
	now := time.Now().Add(-time.Hour)
	nan := float32(math.NaN())
	before := env.store.Watermark()
	_, err := env.client.Write(ctx, "stats", []client.Row{{Key: []any{1, "eu"}, EventTime: now, Values: []any{1, math.NaN()}}})
	requireClientError(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", `rows[0]: feature "score": NaN is not a value; write null instead`)
	_, err = env.client.Write(ctx, "profile", []client.Row{
		{Key: []any{1, "eu"}, EventTime: now, Values: []any{"a", []float32{1, 2}}},
		{Key: []any{2, "eu"}, EventTime: now, Values: []any{"b", []float32{1, nan}}},
	})
	requireClientError(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", `rows[1]: feature "emb": item 1 is NaN; NaN is not a value`)
	_, err = env.client.Write(ctx, "profile", []client.Row{{Key: []any{2, "eu"}, EventTime: now, Values: []any{[]float32{nan}, nil}}},
		client.WithFeatures("emb", "name"))
	requireClientError(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", `rows[0]: feature "emb": item 0 is NaN`)
	_, err = env.client.WriteTable(ctx, "profile", profileTable([]string{"eu", "eu"}, []string{"a", "b"}, [][]float32{{1}, {0, 0, nan}}))
	requireClientError(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", `row 1: feature "emb": item 2 is NaN; NaN is not a value`)
	require.Equal(t, before, env.store.Watermark())
	// Infinities are values, in a list as outside one.
	inf := float32(math.Inf(1))
	_, err = env.client.Write(ctx, "profile", []client.Row{{Key: []any{1, "eu"}, EventTime: now, Values: []any{"a", []float32{inf}}}})
	require.NoError(t, err)
	_, err = env.client.Write(ctx, "stats", []client.Row{{Key: []any{1, "eu"}, EventTime: now, Values: []any{1, math.Inf(-1)}}})
	require.NoError(t, err)
}

// TestDuplicateColumnsAreNamed: a key column given twice is refused with a
// message that says so, in a bulk write, a spine and an online request.
func TestDuplicateColumnsAreNamed(t *testing.T) {
	env := startServer(t)
	defineProfile(t, env)
	ctx := context.Background()
	ts := &arrow.TimestampType{Unit: arrow.Microsecond}
	schema := arrow.NewSchema([]arrow.Field{{Name: "user_id", Type: arrow.PrimitiveTypes.Int64}, {Name: "region", Type: arrow.BinaryTypes.String},
		{Name: "user_id", Type: arrow.PrimitiveTypes.Int64}, {Name: "event_timestamp", Type: ts}, {Name: "clicks", Type: arrow.PrimitiveTypes.Int64}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	b.Field(0).(*array.Int64Builder).Append(1)
	b.Field(1).(*array.StringBuilder).Append("eu")
	b.Field(2).(*array.Int64Builder).Append(1)
	b.Field(3).(*array.TimestampBuilder).Append(arrow.Timestamp(time.Now().Add(-time.Minute).UnixMicro()))
	b.Field(4).(*array.Int64Builder).Append(1)
	rec := b.NewRecord()
	_, err := env.client.WriteTable(ctx, "stats", recordReader(rec))
	requireClientError(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", `column "user_id" appears twice`)
	_, err = env.client.GetHistorical(ctx, "all", []string{"stats"}, recordReader(rec), func(arrow.Record) error { return nil })
	requireClientError(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", `column "user_id" appears twice`)
	_, err = env.client.GetOnline(ctx, []string{"stats"}, []string{"user_id", "region", "user_id"}, [][]any{{1, "eu", 2}})
	requireClientError(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", `join_keys: join key "user_id" appears twice`)
	require.Zero(t, env.store.Watermark())
}

// TestFlightCommandFieldsMatchExactly: command fields match by exact name;
// another case, a repeated field, an unknown field or trailing data are
// refused with INVALID_ARGUMENT naming the field.
func TestFlightCommandFieldsMatchExactly(t *testing.T) {
	env := startServer(t)
	defineProfile(t, env)
	ctx := context.Background()
	fc := flight.NewClientFromConn(env.client.Conn(), nil)
	doGet := func(cmd string) error {
		var md metadata.MD
		stream, err := fc.DoGet(ctx, &flight.Ticket{Ticket: []byte(cmd)}, grpc.Trailer(&md))
		require.NoError(t, err)
		for {
			if _, err := stream.Recv(); err != nil {
				return fromFlight(err, md)
			}
		}
	}
	for _, c := range []struct{ cmd, msg string }{
		{`{"op":"export","Split":"all","feature_view":"stats"}`, `unknown field "Split"; the fields of "export" are op, split, feature_view, features, dataset_id, min_watermark`},
		{`{"op":"export","split":"all","feature_view":"stats","FEATURE_VIEW":"profile"}`, `unknown field "FEATURE_VIEW"`},
		{`{"op":"export","split":"all","feature_view":"stats","feature_view":"profile"}`, `field "feature_view" appears twice`},
		{`{"op":"export","split":"all","feature_view":"stats","spilt":"x"}`, `unknown field "spilt"`},
		{`{"OP":"export","split":"all","feature_view":"stats"}`, `op missing: this call takes "export"`},
		{`{"op":"write","split":"all","feature_view":"stats"}`, `op "write": this call takes "export"`},
		{`{"op":"export","split":"all","feature_view":"stats"} {"op":"export"}`, `unexpected data after the JSON object`},
		{`["op","export"]`, `not a JSON object`},
		{`{"op":"export","split":"all","feature_view":"stats","min_watermark":"7"}`, `field "min_watermark": expected an integer, got a JSON string`},
		{`{"op":"export","split":"all","feature_view":"stats","features":"clicks"}`, `field "features": expected an array of strings, got a JSON string`},
	} {
		t.Run(c.cmd, func(t *testing.T) {
			err := doGet(c.cmd)
			requireClientError(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "flight command: "+c.msg)
		})
	}
	// Exact names work.
	require.ErrorIs(t, doGet(`{"op":"export","split":"all","feature_view":"stats"}`), io.EOF)
	// The same check applies to the other calls.
	schema := arrow.NewSchema([]arrow.Field{{Name: "user_id", Type: arrow.PrimitiveTypes.Int64}}, nil)
	bld := array.NewInt64Builder(memory.DefaultAllocator)
	bld.Append(1)
	rec := array.NewRecord(schema, []arrow.Array{bld.NewArray()}, 1)
	put, err := fc.DoPut(ctx)
	require.NoError(t, err)
	w := flight.NewRecordWriter(put, ipcSchema(schema))
	w.SetFlightDescriptor(&flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: []byte(`{"op":"write","feature_view":"stats","Feature_View":"profile"}`)})
	_ = w.Write(rec)
	_ = put.CloseSend()
	_, err = put.Recv()
	requireClientError(t, fromFlight(err, put.Trailer()), codes.InvalidArgument, "INVALID_ARGUMENT", `flight command: unknown field "Feature_View"`)
	require.Zero(t, env.store.Watermark())
}

// withNulls returns arr claiming nulls nulls over the validity bitmap
// valid (nil: none), as a corrupt IPC message can.
func withNulls(arr arrow.Array, valid []byte, nulls int) arrow.Array {
	d := arr.Data()
	bufs := append([]*memory.Buffer(nil), d.Buffers()...)
	bufs[0] = nil
	if valid != nil {
		bufs[0] = memory.NewBufferBytes(valid)
	}
	return array.MakeFromData(array.NewData(d.DataType(), d.Len(), bufs, d.Children(), nulls, d.Offset()))
}

// TestCorruptArraysAreRefused: an Arrow array whose null count its validity
// bitmap does not back (none at all, or one with another count) gets
// INVALID_ARGUMENT naming the column, in a spine and in a bulk write, not
// an INTERNAL error when the results are written.
func TestCorruptArraysAreRefused(t *testing.T) {
	env := startServer(t)
	defineProfile(t, env)
	ctx := context.Background()
	ts := arrow.Timestamp(time.Now().Add(-time.Minute).UnixMicro())
	for _, c := range []struct {
		name  string
		valid []byte
		msg   string
	}{
		{"no bitmap", nil, "null count 1 needs a validity bitmap of 1 bytes; it has 0"},
		{"bitmap without nulls", []byte{0b111}, "null count 1, but the validity bitmap has 0 nulls"},
	} {
		for col, name := range []string{"user_id", "label"} {
			t.Run(c.name+" spine "+name, func(t *testing.T) {
				schema := arrow.NewSchema([]arrow.Field{{Name: "user_id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
					{Name: "label", Type: arrow.BinaryTypes.String, Nullable: true},
					{Name: "region", Type: arrow.BinaryTypes.String}, {Name: "event_timestamp", Type: &arrow.TimestampType{Unit: arrow.Microsecond}}}, nil)
				b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
				b.Field(0).(*array.Int64Builder).AppendValues([]int64{1, 2, 3}, nil)
				b.Field(1).(*array.StringBuilder).AppendValues([]string{"a", "b", "c"}, nil)
				b.Field(2).(*array.StringBuilder).AppendValues([]string{"eu", "eu", "eu"}, nil)
				b.Field(3).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{ts, ts, ts}, nil)
				rec := b.NewRecord()
				cols := rec.Columns()
				cols[col] = withNulls(cols[col], c.valid, 1)
				rec = array.NewRecord(schema, cols, 3)
				called := false
				_, err := env.client.GetHistorical(ctx, "all", []string{"stats"}, recordReader(rec), func(arrow.Record) error { called = true; return nil })
				requireClientError(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", `arrow stream: column "`+name+`": corrupt array: `+c.msg)
				require.False(t, called, "nothing is streamed")
			})
		}
		t.Run(c.name+" write", func(t *testing.T) {
			rdr := profileTable([]string{"eu", "eu", "eu"}, []string{"a", "b", "c"}, [][]float32{{1}, {2}, {3}})
			rdr.Next()
			rec := rdr.Record()
			cols := rec.Columns()
			cols[3] = withNulls(cols[3], c.valid, 1)
			_, err := env.client.WriteTable(ctx, "profile", recordReader(array.NewRecord(rec.Schema(), cols, rec.NumRows())))
			requireClientError(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", `arrow stream: column "name": corrupt array: `+c.msg)
			require.Zero(t, env.store.Watermark())
		})
	}
	readsWork(t, env, "eu")
}

// faultyStore is a real store with one fault injected where no input can
// cause one: a failing disk, or a bug that panics.
type faultyStore struct {
	*storage.Store
	fault atomic.Value // string: which call fails
}

func (f *faultyStore) is(fault string) bool { return f.fault.Load() == fault }

func (f *faultyStore) Write(ctx context.Context, b storage.Batch) (storage.WriteResult, error) {
	if f.is("write") {
		return storage.WriteResult{}, errors.New("disk on fire")
	}
	return f.Store.Write(ctx, b)
}

func (f *faultyStore) LookupEach(ctx context.Context, q storage.Query, parallel int, fn func(part, i int, r *storage.Result)) error {
	if f.is("lookup") {
		panic("lookup exploded")
	}
	return f.Store.LookupEach(ctx, q, parallel, fn)
}

func (f *faultyStore) LookupColumns(ctx context.Context, q storage.Query, parallel int) (*storage.ResultColumns, error) {
	if f.is("join") {
		panic("join lookup exploded")
	}
	return f.Store.LookupColumns(ctx, q, parallel)
}

func (f *faultyStore) ScanColumns(ctx context.Context, p *storage.Projection, w storage.Window, watermark uint64, batchRows int, fn func(*storage.ColumnBatch) error) error {
	if f.is("scan") {
		// A batch whose feature column lacks its values: statistics
		// panic in the goroutine that summarises the column.
		return fn(&storage.ColumnBatch{Keys: [][]byte{{1}}, EventTime: []int64{1}, AvailableAt: []int64{1}, Seq: []uint64{1},
			Deleted: []bool{false}, Backfilled: []bool{false}, Features: []storage.Column{{Type: storage.TypeInt64}}})
	}
	return f.Store.ScanColumns(ctx, p, w, watermark, batchRows, fn)
}

// lockedBuffer is a log destination safe for concurrent writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// lines returns the JSON log lines written so far.
func (l *lockedBuffer) lines(t *testing.T) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range bytes.Split(bytes.TrimSpace(l.b.Bytes()), []byte("\n")) {
		var m map[string]any
		require.NoError(t, json.Unmarshal(line, &m))
		out = append(out, m)
	}
	return out
}

// TestInternalErrorsCarryARequestID: an INTERNAL error, from a failing
// store or a panic in a handler or in a goroutine it started, reaches the
// client with a request id, in the message and the ErrorInfo metadata
// "request_id", and is logged at error level with its cause under the same
// id; the server stays up.
func TestInternalErrorsCarryARequestID(t *testing.T) {
	st, err := storage.Open(testStoreOptions(t.TempDir()))
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	faulty := &faultyStore{Store: st}
	faulty.fault.Store("")
	logs := &lockedBuffer{}
	cfg := server.DefaultConfig()
	cfg.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	c, stop := serveOn(t, server.New(faulty, cfg))
	defer stop()
	env := &testEnv{client: c, store: st}
	defineProfile(t, env)
	ctx := context.Background()
	now := time.Now().Add(-time.Minute)
	_, err = c.Write(ctx, "stats", []client.Row{{Key: []any{1, "eu"}, EventTime: now, Values: []any{1, 1.0}}})
	require.NoError(t, err)

	spine := func() array.RecordReader {
		b := array.NewRecordBuilder(memory.DefaultAllocator, arrow.NewSchema([]arrow.Field{{Name: "user_id", Type: arrow.PrimitiveTypes.Int64},
			{Name: "region", Type: arrow.BinaryTypes.String}, {Name: "event_timestamp", Type: &arrow.TimestampType{Unit: arrow.Microsecond}}}, nil))
		b.Field(0).(*array.Int64Builder).Append(1)
		b.Field(1).(*array.StringBuilder).Append("eu")
		b.Field(2).(*array.TimestampBuilder).Append(arrow.Timestamp(time.Now().Add(-time.Second).UnixMicro()))
		return recordReader(b.NewRecord())
	}
	for _, c2 := range []struct {
		fault, method, cause string
		call                 func() error
	}{
		{"write", "/timefence.v1.WriteService/WriteBatch", "disk on fire", func() error {
			_, err := c.Write(ctx, "stats", []client.Row{{Key: []any{2, "eu"}, EventTime: now, Values: []any{1, 1.0}}})
			return err
		}},
		{"lookup", "/timefence.v1.OnlineService/GetOnlineFeatures", "panic: lookup exploded", func() error {
			_, err := c.GetOnline(ctx, []string{"stats"}, []string{"user_id", "region"}, [][]any{{1, "eu"}})
			return err
		}},
		{"join", "/arrow.flight.protocol.FlightService/DoExchange", "panic: join lookup exploded", func() error {
			_, err := c.GetHistorical(ctx, "all", []string{"stats"}, spine(), func(arrow.Record) error { return nil })
			return err
		}},
		{"scan", "/timefence.v1.DatasetService/GetStatistics", "panic: runtime error: index out of range", func() error {
			_, err := timefencev1.NewDatasetServiceClient(c.Conn()).GetStatistics(ctx, &timefencev1.GetStatisticsRequest{Split: "all", FeatureView: "stats"})
			return fromGRPC(err)
		}},
	} {
		t.Run(c2.fault, func(t *testing.T) {
			faulty.fault.Store(c2.fault)
			err := c2.call()
			faulty.fault.Store("")
			ce := requireClientError(t, err, codes.Internal, "INTERNAL", "internal error (request id ")
			id := ce.Metadata["request_id"]
			require.Len(t, id, 16)
			require.Contains(t, ce.Message, "(request id "+id+"); see the server log")
			require.NotContains(t, ce.Message, c2.cause, "the cause stays in the server log")
			var logged map[string]any
			for _, l := range logs.lines(t) {
				if l["request_id"] == id {
					require.Nil(t, logged, "one log line per error")
					logged = l
				}
			}
			require.NotNil(t, logged, "the error is logged under its request id")
			require.Equal(t, "ERROR", logged["level"])
			require.Equal(t, c2.method, logged["method"])
			require.Contains(t, logged["error"], c2.cause)
			if strings.HasPrefix(c2.cause, "panic") {
				require.Contains(t, logged["stack"], "goroutine ", "a panic is logged with its stack")
			}
			// The server is still up and serves the same call without the fault.
			require.NoError(t, c2.call())
		})
	}
}
