package server_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/flight"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
	"github.com/timefence/timefence/client"
	"github.com/timefence/timefence/server"
)

// version is one written version as the join oracle remembers it.
type version struct {
	view             string
	key              string // fmt of the join key values
	event, available int64
	seq              int64
	deleted          bool
	values           []any
}

type history struct {
	versions []version
	ttl      map[string]time.Duration
}

// winner is the read rule, brute force, with a separate availability bound
// for the naive join.
func (h *history) winner(view, key string, t, avail int64) *version {
	var best *version
	for i := range h.versions {
		v := &h.versions[i]
		if v.view != view || v.key != key || v.event > t || v.available > avail {
			continue
		}
		if best == nil || v.event > best.event || (v.event == best.event && (v.available > best.available ||
			(v.available == best.available && v.seq > best.seq))) {
			best = v
		}
	}
	return best
}

// expect returns the rule's values for the view at t (nil = null).
func (h *history) expect(view, key string, t int64, nfeat int) []any {
	w := h.winner(view, key, t, t)
	if w == nil || w.deleted || (h.ttl[view] > 0 && t-w.event > int64(h.ttl[view])) {
		return make([]any, nfeat)
	}
	return w.values
}

var (
	tInt64  = timefencev1.ValueType_VALUE_TYPE_INT64
	tDouble = timefencev1.ValueType_VALUE_TYPE_DOUBLE
	tString = timefencev1.ValueType_VALUE_TYPE_STRING
	tBool   = timefencev1.ValueType_VALUE_TYPE_BOOL
	tList   = timefencev1.ValueType_VALUE_TYPE_FLOAT_LIST
)

// defineShop registers user(user_id) with views "user_stats" (clicks,
// score) and "user_emb" (embedding, active; ttl 30ms), and
// merchant(merchant_id, country) with view "merchant_risk" (risk, tier).
func defineShop(t *testing.T, c *client.Client) *history {
	ctx := context.Background()
	for _, e := range []*timefencev1.Entity{
		{Name: "user", JoinKeys: []*timefencev1.JoinKey{{Name: "user_id", Type: tInt64}}},
		{Name: "merchant", JoinKeys: []*timefencev1.JoinKey{{Name: "merchant_id", Type: tString}, {Name: "country", Type: tString}}},
	} {
		_, err := c.ApplyEntity(ctx, e)
		require.NoError(t, err)
	}
	for _, v := range []*timefencev1.FeatureView{
		{Name: "user_stats", Entity: "user", Features: []*timefencev1.Feature{{Name: "clicks", Type: tInt64}, {Name: "score", Type: tDouble}}},
		{Name: "user_emb", Entity: "user", Ttl: durationpb.New(30 * time.Millisecond), Features: []*timefencev1.Feature{{Name: "embedding", Type: tList}, {Name: "active", Type: tBool}}},
		{Name: "merchant_risk", Entity: "merchant", Features: []*timefencev1.Feature{{Name: "risk", Type: tDouble}, {Name: "tier", Type: tString}}},
	} {
		_, err := c.ApplyFeatureView(ctx, v)
		require.NoError(t, err)
	}
	return &history{ttl: map[string]time.Duration{"user_emb": 30 * time.Millisecond}}
}

var merchants = [][2]string{{"m1", "de"}, {"m1", "fr"}, {"m2", "de"}, {"m3", "us"}}

// writeHistory writes random versions of every view over time: late and
// out-of-order event times, equal times, tombstones and nulls. Every value
// is unique so a returned value identifies its version.
func writeHistory(t *testing.T, c *client.Client, h *history, rng *rand.Rand, batches int) {
	ctx := context.Background()
	uniq := int64(0)
	for range batches {
		now := time.Now().UnixNano()
		view := []string{"user_stats", "user_emb", "merchant_risk"}[rng.IntN(3)]
		var rows []client.Row
		used := map[string]bool{}
		for range 1 + rng.IntN(6) {
			ev := now - int64(rng.IntN(30))*int64(time.Millisecond)
			var key []any
			if view == "merchant_risk" {
				m := merchants[rng.IntN(len(merchants))]
				key = []any{m[0], m[1]}
			} else {
				key = []any{int64(rng.IntN(8))}
			}
			id := fmt.Sprint(key, ev)
			if used[id] {
				continue
			}
			used[id] = true
			uniq++
			row := client.Row{Key: key, EventTime: time.Unix(0, ev)}
			switch {
			case rng.IntN(10) == 0:
				row.Delete = true
			case view == "user_stats":
				row.Values = []any{uniq, float64(uniq) / 2}
			case view == "user_emb":
				row.Values = []any{[]float32{float32(uniq), 1}, uniq%2 == 0}
			default:
				row.Values = []any{float64(uniq), fmt.Sprint("t", uniq)}
			}
			if !row.Delete && rng.IntN(6) == 0 {
				row.Values[rng.IntN(2)] = nil
			}
			rows = append(rows, row)
		}
		res, err := c.Write(ctx, view, rows)
		require.NoError(t, err)
		for i, r := range rows {
			h.versions = append(h.versions, version{view: view, key: fmt.Sprint(r.Key...), event: r.EventTime.UnixNano(),
				available: res.CommitTime.UnixNano(), seq: res.FirstSeq + int64(i), deleted: r.Delete, values: r.Values})
		}
		time.Sleep(time.Duration(rng.IntN(2)) * time.Millisecond)
	}
}

type spineRow struct {
	user     int64
	merchant [2]string
	ts       int64
	label    int64
}

func spineRecord(rows []spineRow) arrow.Record {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "user_id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "merchant_id", Type: arrow.BinaryTypes.String},
		{Name: "country", Type: arrow.BinaryTypes.String},
		{Name: "event_timestamp", Type: &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}},
		{Name: "label", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for _, r := range rows {
		b.Field(0).(*array.Int64Builder).Append(r.user)
		b.Field(1).(*array.StringBuilder).Append(r.merchant[0])
		b.Field(2).(*array.StringBuilder).Append(r.merchant[1])
		b.Field(3).(*array.TimestampBuilder).Append(arrow.Timestamp(r.ts))
		b.Field(4).(*array.Int64Builder).Append(r.label)
	}
	return b.NewRecord()
}

func recordReader(recs ...arrow.Record) array.RecordReader {
	rr, err := array.NewRecordReader(recs[0].Schema(), recs)
	if err != nil {
		panic(err)
	}
	return rr
}

// cell returns row i of a result column as the Go value the client writes.
func cell(col arrow.Array, i int) any {
	if col.IsNull(i) {
		return nil
	}
	switch a := col.(type) {
	case *array.Int64:
		return a.Value(i)
	case *array.Float64:
		return a.Value(i)
	case *array.String:
		return a.Value(i)
	case *array.Boolean:
		return a.Value(i)
	case *array.List:
		s, e := a.ValueOffsets(i)
		return slices.Clone(a.ListValues().(*array.Float32).Float32Values()[s:e])
	}
	panic(fmt.Sprintf("unexpected column %T", col))
}

var joinFeatures = []string{"user_stats", "user_emb:embedding", "user_emb:active", "merchant_risk:risk", "merchant_risk:tier"}

// featureOf maps result columns to their view and feature position.
var featureOf = []struct {
	view string
	pos  int
}{{"user_stats", 0}, {"user_stats", 1}, {"user_emb", 0}, {"user_emb", 1}, {"merchant_risk", 0}, {"merchant_risk", 1}}

// runJoin joins rows and returns the result rows (spine columns, then
// features) and the summary.
func runJoin(t *testing.T, c *client.Client, split string, spine []spineRow) ([][]any, *client.JoinSummary, error) {
	t.Helper()
	// Send the spine as several records to exercise multi-record spines.
	var recs []arrow.Record
	for off := 0; off < len(spine); off += 97 {
		recs = append(recs, spineRecord(spine[off:min(off+97, len(spine))]))
	}
	if len(recs) == 0 {
		recs = append(recs, spineRecord(nil))
	}
	var out [][]any
	sum, err := c.GetHistorical(context.Background(), split, joinFeatures, recordReader(recs...), func(rec arrow.Record) error {
		require.Equal(t, []string{"user_id", "merchant_id", "country", "event_timestamp", "label",
			"clicks", "score", "embedding", "active", "risk", "tier"}, fieldNames(rec.Schema()))
		for i := range int(rec.NumRows()) {
			row := make([]any, rec.NumCols())
			for j := range row {
				if j == 3 {
					row[j] = int64(rec.Column(j).(*array.Timestamp).Value(i))
					continue
				}
				row[j] = cell(rec.Column(j), i)
			}
			out = append(out, row)
		}
		return nil
	})
	return out, sum, err
}

func fieldNames(s *arrow.Schema) []string {
	var n []string
	for _, f := range s.Fields() {
		n = append(n, f.Name)
	}
	return n
}

// TestHistoricalJoinMatchesOracle joins random spines through Flight and
// checks every cell, the naive-join difference count and the guard.
func TestHistoricalJoinMatchesOracle(t *testing.T) {
	env := startServer(t)
	h := defineShop(t, env.client)
	rng := rand.New(rand.NewPCG(3, 4))
	writeHistory(t, env.client, h, rng, 120)
	ctx := context.Background()

	var times []int64
	for _, v := range h.versions {
		times = append(times, v.event, v.available, v.available-1)
	}
	slices.Sort(times)
	lo, hi := times[0]-int64(time.Millisecond), times[len(times)-1]+int64(time.Millisecond)
	for round := range 6 {
		// A split whose cutoff falls inside the history: later data exists.
		cut := lo + rng.Int64N(hi-lo)
		name := fmt.Sprint("split", round)
		_, err := env.client.CreateSplit(ctx, name, time.Unix(0, lo), time.Unix(0, cut))
		require.NoError(t, err)
		var spine []spineRow
		for i := range 300 + rng.IntN(300) {
			ts := lo + rng.Int64N(cut-lo+1)
			if i%3 == 0 { // exactly on a version's time, the boundary case
				if c := times[rng.IntN(len(times))]; c >= lo && c <= cut {
					ts = c
				}
			}
			spine = append(spine, spineRow{user: int64(rng.IntN(9)), merchant: merchants[rng.IntN(len(merchants))], ts: ts, label: int64(i)})
		}
		spine = append(spine, spineRow{user: 1, merchant: merchants[0], ts: cut, label: -1}, spineRow{user: 2, merchant: merchants[1], ts: lo, label: -2})
		got, sum, err := runJoin(t, env.client, name, spine)
		require.NoError(t, err)
		require.Len(t, got, len(spine))
		require.Equal(t, int64(len(spine)), sum.Rows)
		naive := int64(0)
		for i, r := range spine {
			row := got[i]
			require.Equal(t, []any{r.user, r.merchant[0], r.merchant[1], r.ts, r.label}, row[:5], "spine order and pass-through")
			keys := map[string]string{"user_stats": fmt.Sprint(r.user), "user_emb": fmt.Sprint(r.user), "merchant_risk": fmt.Sprint(r.merchant[0], r.merchant[1])}
			for j, f := range featureOf {
				want := h.expect(f.view, keys[f.view], r.ts, 2)[f.pos]
				require.Equal(t, want, row[5+j], "row %d (%+v) column %d", i, r, j)
			}
			for _, view := range []string{"user_stats", "user_emb", "merchant_risk"} {
				real, nv := h.winner(view, keys[view], r.ts, r.ts), h.winner(view, keys[view], r.ts, cut)
				if real != nv {
					naive++
					break
				}
			}
		}
		require.Equal(t, naive, sum.NaiveDifferences, "naive-join difference count")
		t.Logf("split %d: %d rows, %d would leak under a naive join", round, len(spine), naive)
	}
}

// TestGuardRefusesWholeSpine: any row outside the split refuses the request
// before a single record is streamed.
func TestGuardRefusesWholeSpine(t *testing.T) {
	env := startServer(t)
	h := defineShop(t, env.client)
	rng := rand.New(rand.NewPCG(5, 6))
	writeHistory(t, env.client, h, rng, 30)
	ctx := context.Background()
	start, end := h.versions[0].event, h.versions[len(h.versions)/2].available
	_, err := env.client.CreateSplit(ctx, "train", time.Unix(0, start), time.Unix(0, end))
	require.NoError(t, err)
	for _, bad := range []int64{end + 1, start - 1, end + int64(time.Hour)} {
		spine := make([]spineRow, 50)
		for i := range spine {
			spine[i] = spineRow{user: 1, merchant: merchants[0], ts: start + rng.Int64N(end-start+1)}
		}
		spine[17].ts, spine[41].ts = bad, bad
		got, _, err := runJoin(t, env.client, "train", spine)
		require.ErrorIs(t, err, client.ErrCutoffExceeded)
		require.Empty(t, got, "a refused join streams nothing")
		var ce *client.Error
		require.ErrorAs(t, err, &ce)
		require.Equal(t, codes.FailedPrecondition, ce.Code)
		require.Equal(t, "2", ce.Metadata["offending_rows"])
		require.Equal(t, "17,41", ce.Metadata["first_rows"])
	}
	_, _, err = runJoin(t, env.client, "", []spineRow{{user: 1, merchant: merchants[0], ts: start}})
	require.ErrorIs(t, err, client.ErrSplitRequired)
	_, _, err = runJoin(t, env.client, "nope", []spineRow{{user: 1, merchant: merchants[0], ts: start}})
	require.ErrorIs(t, err, client.ErrUnknownSplit)
}

// TestGuardProperty: random splits and spines inside them never return a
// value of a version that happened or arrived after the cutoff.
func TestGuardProperty(t *testing.T) {
	env := startServer(t)
	h := defineShop(t, env.client)
	rng := rand.New(rand.NewPCG(8, 9))
	writeHistory(t, env.client, h, rng, 80)
	byValue := map[string]*version{}
	for i := range h.versions {
		v := &h.versions[i]
		for j, x := range v.values {
			if _, isBool := x.(bool); x != nil && !isBool {
				byValue[fmt.Sprint(v.view, j, x)] = v
			}
		}
	}
	lo, hi := h.versions[0].event-int64(time.Millisecond), h.versions[len(h.versions)-1].available
	checked := 0
	for round := range 20 {
		a, b := lo+rng.Int64N(hi-lo), lo+rng.Int64N(hi-lo)
		start, cut := min(a, b), max(a, b)
		name := fmt.Sprint("g", round)
		_, err := env.client.CreateSplit(context.Background(), name, time.Unix(0, start), time.Unix(0, cut))
		require.NoError(t, err)
		spine := make([]spineRow, 200)
		for i := range spine {
			spine[i] = spineRow{user: int64(rng.IntN(8)), merchant: merchants[rng.IntN(len(merchants))], ts: start + rng.Int64N(cut-start+1)}
		}
		got, _, err := runJoin(t, env.client, name, spine)
		require.NoError(t, err)
		for _, row := range got {
			for j, f := range featureOf {
				x := row[5+j]
				if _, isBool := x.(bool); x == nil || isBool { // bools do not identify a version
					continue
				}
				v := byValue[fmt.Sprint(f.view, f.pos, x)]
				require.NotNil(t, v, "value %v of %s comes from no written version", x, f.view)
				require.LessOrEqual(t, v.available, cut, "value available after the cutoff leaked")
				require.LessOrEqual(t, v.event, cut, "value from after the cutoff leaked")
				checked++
			}
		}
		// The same read as of the cutoff over gRPC is bounded too.
		res, err := env.client.GetOnline(context.Background(), []string{"user_stats:clicks"}, []string{"user_id"},
			[][]any{{int64(1)}, {int64(2)}, {int64(3)}}, client.AsOf(time.Unix(0, cut)), client.UnderSplit(name))
		require.NoError(t, err)
		for _, r := range res.Rows {
			if r[0].Value != nil {
				v := byValue[fmt.Sprint("user_stats", 0, r[0].Value)]
				require.LessOrEqual(t, v.available, cut)
			}
		}
		// Packed results are the same read; past the cutoff, refused whole.
		raw := &timefencev1.GetOnlineFeaturesRequest{Features: []string{"user_stats:clicks"}, JoinKeys: []string{"user_id"},
			AsOf: timestamppb.New(time.Unix(0, cut)), Split: name}
		for k := range int64(3) {
			raw.EntityRows = append(raw.EntityRows, &timefencev1.EntityRow{Values: []*timefencev1.Value{{Kind: &timefencev1.Value_Int64Value{Int64Value: k + 1}}}})
		}
		online := timefencev1.NewOnlineServiceClient(env.client.Conn())
		cols, err := online.GetOnlineFeatures(context.Background(), raw)
		require.NoError(t, err)
		raw.Packed = true
		packed, err := online.GetOnlineFeatures(context.Background(), raw)
		require.NoError(t, err)
		require.True(t, proto.Equal(cols.GetColumns()[0], server.UnpackColumns(t, packed.GetPacked(), 3)[0]))
		raw.AsOf = timestamppb.New(time.Unix(0, cut+1))
		_, err = online.GetOnlineFeatures(context.Background(), raw)
		requireReason(t, err, codes.FailedPrecondition, "CUTOFF_EXCEEDED", "")
	}
	require.Positive(t, checked)
}

func TestMalformedSpines(t *testing.T) {
	env := startServer(t)
	defineShop(t, env.client)
	ctx := context.Background()
	now := time.Now()
	_, err := env.client.CreateSplit(ctx, "s", now.Add(-time.Hour), now)
	require.NoError(t, err)
	ts := &arrow.TimestampType{Unit: arrow.Microsecond}
	mk := func(fields []arrow.Field, fill func(b *array.RecordBuilder)) array.RecordReader {
		b := array.NewRecordBuilder(memory.DefaultAllocator, arrow.NewSchema(fields, nil))
		fill(b)
		return recordReader(b.NewRecord())
	}
	okTS := arrow.Timestamp(now.Add(-time.Minute).UnixMicro())
	cases := []struct {
		name     string
		features []string
		spine    array.RecordReader
		is       error
		msg      string
	}{
		{"missing key column", []string{"user_stats"}, mk([]arrow.Field{{Name: "event_timestamp", Type: ts}}, func(b *array.RecordBuilder) {
			b.Field(0).(*array.TimestampBuilder).Append(okTS)
		}), client.ErrInvalidArgument, `spine: feature view "user_stats" needs join key "user_id"`},
		{"wrong key type", []string{"user_stats"}, mk([]arrow.Field{{Name: "user_id", Type: arrow.BinaryTypes.String}, {Name: "event_timestamp", Type: ts}}, func(b *array.RecordBuilder) {
			b.Field(0).(*array.StringBuilder).Append("1")
			b.Field(1).(*array.TimestampBuilder).Append(okTS)
		}), client.ErrInvalidArgument, `join key column "user_id": expected int64, got Arrow type utf8`},
		{"timestamp not a timestamp", []string{"user_stats"}, mk([]arrow.Field{{Name: "user_id", Type: arrow.PrimitiveTypes.Int64}, {Name: "event_timestamp", Type: arrow.BinaryTypes.String}}, func(b *array.RecordBuilder) {
			b.Field(0).(*array.Int64Builder).Append(1)
			b.Field(1).(*array.StringBuilder).Append("yesterday")
		}), client.ErrInvalidArgument, `column "event_timestamp": expected a timestamp, got Arrow type utf8`},
		{"null timestamp", []string{"user_stats"}, mk([]arrow.Field{{Name: "user_id", Type: arrow.PrimitiveTypes.Int64}, {Name: "event_timestamp", Type: ts, Nullable: true}}, func(b *array.RecordBuilder) {
			b.Field(0).(*array.Int64Builder).AppendValues([]int64{1, 2}, nil)
			b.Field(1).(*array.TimestampBuilder).Append(okTS)
			b.Field(1).(*array.TimestampBuilder).AppendNull()
		}), client.ErrInvalidArgument, `row 1: column "event_timestamp": timestamp is null`},
		{"null key", []string{"user_stats"}, mk([]arrow.Field{{Name: "user_id", Type: arrow.PrimitiveTypes.Int64, Nullable: true}, {Name: "event_timestamp", Type: ts}}, func(b *array.RecordBuilder) {
			b.Field(0).(*array.Int64Builder).AppendNull()
			b.Field(1).(*array.TimestampBuilder).Append(okTS)
		}), client.ErrInvalidArgument, `row 0: join key column "user_id" is null`},
		{"unknown feature", []string{"user_stats:nope"}, mk([]arrow.Field{{Name: "user_id", Type: arrow.PrimitiveTypes.Int64}, {Name: "event_timestamp", Type: ts}}, func(b *array.RecordBuilder) {
			b.Field(0).(*array.Int64Builder).Append(1)
			b.Field(1).(*array.TimestampBuilder).Append(okTS)
		}), client.ErrUnknownFeature, `feature view "user_stats" has no feature "nope"`},
		{"empty spine", []string{"user_stats"}, mk([]arrow.Field{{Name: "user_id", Type: arrow.PrimitiveTypes.Int64}, {Name: "event_timestamp", Type: ts}}, func(b *array.RecordBuilder) {}),
			client.ErrInvalidArgument, "spine: no rows"},
		{"column clash", []string{"user_stats"}, mk([]arrow.Field{{Name: "user_id", Type: arrow.PrimitiveTypes.Int64}, {Name: "event_timestamp", Type: ts}, {Name: "clicks", Type: arrow.PrimitiveTypes.Int64}}, func(b *array.RecordBuilder) {
			b.Field(0).(*array.Int64Builder).Append(1)
			b.Field(1).(*array.TimestampBuilder).Append(okTS)
			b.Field(2).(*array.Int64Builder).Append(1)
		}), client.ErrInvalidArgument, `the spine has a column named "clicks"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			called := false
			_, err := env.client.GetHistorical(ctx, "s", c.features, c.spine, func(arrow.Record) error { called = true; return nil })
			require.ErrorIs(t, err, c.is)
			require.ErrorContains(t, err, c.msg)
			require.False(t, called)
		})
	}
	// Corrupt Arrow IPC: a raw Flight message whose header is garbage.
	fc := flight.NewClientFromConn(env.client.Conn(), nil)
	stream, err := fc.DoExchange(ctx)
	require.NoError(t, err)
	require.NoError(t, stream.Send(&flight.FlightData{
		FlightDescriptor: &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: []byte(`{"op":"historical","split":"s","features":["user_stats"]}`)},
		DataHeader:       []byte("this is not a flatbuffer"), DataBody: []byte{1, 2, 3},
	}))
	require.NoError(t, stream.CloseSend())
	_, err = stream.Recv()
	require.ErrorIs(t, fromGRPC(err), client.ErrInvalidArgument)
	// Unknown command fields are refused, not ignored.
	stream, err = fc.DoExchange(ctx)
	require.NoError(t, err)
	w := flight.NewRecordWriter(stream, ipcSchema(arrow.NewSchema([]arrow.Field{{Name: "user_id", Type: arrow.PrimitiveTypes.Int64}}, nil)))
	w.SetFlightDescriptor(&flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: []byte(`{"op":"historical","split":"s","featurs":["user_stats"]}`)})
	b := array.NewInt64Builder(memory.DefaultAllocator)
	b.Append(1)
	rec := array.NewRecord(arrow.NewSchema([]arrow.Field{{Name: "user_id", Type: arrow.PrimitiveTypes.Int64}}, nil), []arrow.Array{b.NewArray()}, 1)
	_ = w.Write(rec)
	_ = stream.CloseSend()
	_, err = stream.Recv()
	require.ErrorIs(t, fromGRPC(err), client.ErrInvalidArgument)
	require.ErrorContains(t, err, `unknown field "featurs"`)
	// The server is still up.
	_, err = env.client.GetOnline(ctx, []string{"user_stats"}, []string{"user_id"}, [][]any{{1}})
	require.NoError(t, err)
}

// TestJoinRecordsAreBounded sends a spine as one record of 300,000 rows: the
// join streams it back in records of at most 65,536 rows, so a wide result
// never outgrows a gRPC message, with every row in order.
func TestJoinRecordsAreBounded(t *testing.T) {
	env := startServer(t)
	h := defineShop(t, env.client)
	writeHistory(t, env.client, h, rand.New(rand.NewPCG(3, 4)), 5)
	ctx := context.Background()
	end := h.versions[len(h.versions)-1].available
	_, err := env.client.CreateSplit(ctx, "all", time.Unix(0, 0), time.Unix(0, end))
	require.NoError(t, err)
	spine := make([]spineRow, 300_000)
	for i := range spine {
		spine[i] = spineRow{user: int64(i % 7), merchant: merchants[i%len(merchants)], ts: end, label: int64(i)}
	}
	var sizes []int64
	next := int64(0)
	_, err = env.client.GetHistorical(ctx, "all", joinFeatures, recordReader(spineRecord(spine)), func(rec arrow.Record) error {
		sizes = append(sizes, rec.NumRows())
		labels := rec.Column(4).(*array.Int64)
		for i := range labels.Len() {
			require.Equal(t, next, labels.Value(i))
			next++
		}
		return nil
	})
	require.NoError(t, err)
	require.EqualValues(t, len(spine), next)
	for _, n := range sizes {
		require.LessOrEqual(t, n, int64(65_536))
	}
}
