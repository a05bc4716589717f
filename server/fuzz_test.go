package server

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/flight"
	"github.com/apache/arrow/go/v15/arrow/ipc"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
	"github.com/timefence/timefence/storage"
)

// fuzzServer is a server over a store with one entity, view and split.
func fuzzServer(f *testing.F) *Server {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := storage.Open(storage.DefaultOptions(f.TempDir()).WithSyncWrites(false).WithLogger(quiet))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	_, _, err = st.ApplyEntity(storage.Entity{Name: "user", JoinKeys: []storage.JoinKey{{Name: "user_id", Type: storage.TypeInt64}}})
	if err == nil {
		_, _, err = st.ApplyView(storage.View{Name: "stats", Entity: "user", Features: []storage.Feature{
			{Name: "clicks", Type: storage.TypeInt64}, {Name: "tags", Type: storage.TypeString}, {Name: "emb", Type: storage.TypeFloatList}}})
	}
	if err == nil {
		_, _, err = st.CreateSplit(storage.Split{Name: "all", Start: 0, End: time.Now().Add(time.Hour).UnixNano()})
	}
	if err != nil {
		f.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Logger = quiet
	return New(st, cfg)
}

// flightMessages captures FlightData written by a Flight record writer and
// replays it to a Flight record reader.
type flightMessages struct{ msgs []*flight.FlightData }

func (m *flightMessages) Send(fd *flight.FlightData) error {
	m.msgs = append(m.msgs, proto.Clone(fd).(*flight.FlightData))
	return nil
}

func (m *flightMessages) Recv() (*flight.FlightData, error) {
	if len(m.msgs) == 0 {
		return nil, io.EOF
	}
	fd := m.msgs[0]
	m.msgs = m.msgs[1:]
	return fd, nil
}

// FuzzSpine: arbitrary schema and record messages, as they arrive over
// Flight, never crash the join's validation (the Arrow reader's own
// allocation on corrupt headers included); what it accepts lies inside the split.
func FuzzSpine(f *testing.F) {
	s := fuzzServer(f)
	schema := arrow.NewSchema([]arrow.Field{{Name: "user_id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "event_timestamp", Type: &arrow.TimestampType{Unit: arrow.Microsecond}}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	b.Field(0).(*array.Int64Builder).AppendValues([]int64{1, 2}, nil)
	b.Field(1).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{1, arrow.Timestamp(time.Now().UnixMicro())}, nil)
	var seed flightMessages
	w := flight.NewRecordWriter(&seed, ipc.WithSchema(schema))
	if err := w.Write(b.NewRecord()); err != nil {
		f.Fatal(err)
	}
	w.Close()
	f.Add(seed.msgs[0].DataHeader, seed.msgs[1].DataHeader, seed.msgs[1].DataBody)
	f.Add([]byte("not arrow"), []byte{}, []byte{})
	f.Fuzz(func(t *testing.T, schemaHdr, recHdr, recBody []byte) {
		in := &flightMessages{msgs: []*flight.FlightData{{DataHeader: schemaHdr}, {DataHeader: recHdr, DataBody: recBody}}}
		rdr, err := openStream(in)
		if err != nil {
			return
		}
		defer rdr.Release()
		sp, _ := s.store.Split("all")
		reads, refs, err := s.resolveFeatures([]string{"stats"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		p := &joinPlan{store: s.store, split: sp, reads: reads}
		defer p.release()
		if err := p.bind(rdr.Schema(), historicalCmd{}, refs); err != nil {
			return
		}
		if err := p.readSpine(rdr, "event_timestamp"); err != nil {
			return
		}
		for _, times := range p.times {
			for _, ts := range times {
				if ts < sp.Start || ts > sp.End {
					t.Fatalf("accepted a spine row at %d outside the split", ts)
				}
			}
		}
	})
}

// FuzzWriteBatch: arbitrary request bytes never panic validation, a
// refused batch writes nothing, and the write decoder builds what
// proto.Unmarshal builds, or leaves the bytes to it.
func FuzzWriteBatch(f *testing.F) {
	s := fuzzServer(f)
	good := &timefencev1.WriteBatchRequest{FeatureView: "stats", Rows: []*timefencev1.WriteRow{{
		JoinKeys:  []*timefencev1.Value{{Kind: &timefencev1.Value_Int64Value{Int64Value: 1}}},
		EventTime: timestamppb.Now(),
		Values: []*timefencev1.Value{{Kind: &timefencev1.Value_Int64Value{Int64Value: 3}}, {},
			{Kind: &timefencev1.Value_FloatListValue{FloatListValue: &timefencev1.FloatList{Values: []float32{1}}}}},
	}}}
	seed, _ := proto.Marshal(good)
	f.Add(seed)
	good.Rows[0].Values = []*timefencev1.Value{{Kind: &timefencev1.Value_StringValue{StringValue: "é"}},
		{Kind: &timefencev1.Value_DoubleValue{DoubleValue: 2.5}}, {Kind: &timefencev1.Value_BytesValue{}}}
	good.Rows[0].AvailableAt, good.Backfill, good.BatchId = timestamppb.Now(), true, "b"
	seed, _ = proto.Marshal(good)
	f.Add(seed)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var req, fast timefencev1.WriteBatchRequest
		err := proto.Unmarshal(data, &req)
		if decodeWriteBatch(data, &fast) {
			if err != nil {
				t.Fatalf("the write decoder took what protobuf refuses: %v", err)
			}
			requireSameRequest(t, data, "fuzzed request")
		}
		if err != nil {
			return
		}
		before := s.store.Watermark()
		_, err = s.WriteBatch(context.Background(), &req)
		if err != nil && s.store.Watermark() != before {
			t.Fatalf("a refused batch changed the store: %v", err)
		}
	})
}
