package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"google.golang.org/protobuf/types/known/durationpb"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
	"github.com/timefence/timefence/client"
)

// Every example runs against a real server on loopback (startServer), with
// the definitions of examples/definitions.yaml applied.

func ExampleDial() {
	addr, stop := startServer(nil)
	defer stop()

	// One client per server, shared by every goroutine; WithTLS and
	// WithToken for a server with TLS and auth.
	c, err := client.Dial(addr)
	if err != nil {
		panic(err)
	}
	defer c.Close()
	splits, err := c.ListSplits(context.Background())
	if err != nil {
		panic(err)
	}
	fmt.Println(len(splits), "splits, the first:", splits[0].GetName())
	// Output: 2 splits, the first: test
}

func ExampleClient_ApplyEntity() {
	addr, stop := startServer(nil)
	defer stop()
	c, _ := client.Dial(addr)
	defer c.Close()
	ctx := context.Background()

	merchant := &timefencev1.Entity{Name: "merchant", Description: "a seller",
		JoinKeys: []*timefencev1.JoinKey{{Name: "merchant_id", Type: timefencev1.ValueType_VALUE_TYPE_STRING}}}
	resp, err := c.ApplyEntity(ctx, merchant)
	if err != nil {
		panic(err)
	}
	fmt.Println(resp.GetEntity().GetName(), "version", resp.GetEntity().GetVersion(), "changed:", resp.GetChanged())
	// The same definition again changes nothing.
	resp, _ = c.ApplyEntity(ctx, merchant)
	fmt.Println("changed:", resp.GetChanged())
	// Output:
	// merchant version 1 changed: true
	// changed: false
}

func ExampleClient_ApplyDefinitions() {
	addr, stop := startServer(nil)
	defer stop()
	c, _ := client.Dial(addr)
	defer c.Close()
	ctx := context.Background()

	file := []byte(`entities:
  - name: merchant
    join_keys: [{name: merchant_id, type: string}]
feature_views:
  - name: merchant_sales
    entity: merchant
    features: [{name: revenue, type: double}]
  - name: user_stats
    entity: user
    features: [{name: clicks, type: string}]
`)
	// A dry run plans, refusals included, and applies nothing.
	plan, err := c.ApplyDefinitions(ctx, "merchants.yaml", file, client.DryRun())
	if err != nil {
		panic(err)
	}
	for _, ch := range plan.GetChanges() {
		fmt.Println(strings.TrimSpace(strings.Join([]string{ch.GetLocation(), ch.GetKind(), ch.GetName(), ch.GetAction(), ch.GetReason()}, " ")))
	}
	// Applied, the file is refused whole: the merchant is not created either.
	_, err = c.ApplyDefinitions(ctx, "merchants.yaml", file)
	fmt.Println(errors.Is(err, client.ErrSchemaMismatch))
	_, err = c.GetEntity(ctx, "merchant")
	fmt.Println(errors.Is(err, client.ErrUnknownEntity))
	// Output:
	// merchants.yaml:2 entity merchant create
	// merchants.yaml:5 feature_view merchant_sales create
	// merchants.yaml:8 feature_view user_stats refused SCHEMA_MISMATCH
	// true
	// true
}

func ExampleClient_ApplyFeatureView() {
	addr, stop := startServer(nil)
	defer stop()
	c, _ := client.Dial(addr)
	defer c.Close()
	ctx := context.Background()

	view := &timefencev1.FeatureView{Name: "user_risk", Entity: "user", Ttl: durationpb.New(24 * time.Hour),
		Features: []*timefencev1.Feature{{Name: "score", Type: timefencev1.ValueType_VALUE_TYPE_DOUBLE}}}
	resp, err := c.ApplyFeatureView(ctx, view)
	if err != nil {
		panic(err)
	}
	fmt.Println(resp.GetFeatureView().GetName(), "version", resp.GetFeatureView().GetVersion(), "changed:", resp.GetChanged())

	// Adding a feature is compatible: a new version.
	view.Features = append(view.Features, &timefencev1.Feature{Name: "flags", Type: timefencev1.ValueType_VALUE_TYPE_INT64})
	resp, _ = c.ApplyFeatureView(ctx, view)
	fmt.Println("version", resp.GetFeatureView().GetVersion(), "changed:", resp.GetChanged())

	// Changing a feature's type would break readers: refused.
	view.Features[0].Type = timefencev1.ValueType_VALUE_TYPE_STRING
	_, err = c.ApplyFeatureView(ctx, view)
	fmt.Println(errors.Is(err, client.ErrSchemaMismatch))
	// Output:
	// user_risk version 1 changed: true
	// version 2 changed: true
	// true
}

func ExampleClient_GetEntity() {
	addr, stop := startServer(nil)
	defer stop()
	c, _ := client.Dial(addr)
	defer c.Close()
	ctx := context.Background()

	store, err := c.GetEntity(ctx, "store")
	if err != nil {
		panic(err)
	}
	for _, k := range store.GetJoinKeys() {
		fmt.Println(k.GetName(), k.GetType())
	}
	_, err = c.GetEntity(ctx, "shop")
	fmt.Println(errors.Is(err, client.ErrUnknownEntity))
	// Output:
	// store_id VALUE_TYPE_INT64
	// region VALUE_TYPE_STRING
	// true
}

func ExampleClient_ListEntities() {
	addr, stop := startServer(nil)
	defer stop()
	c, _ := client.Dial(addr)
	defer c.Close()

	entities, err := c.ListEntities(context.Background())
	if err != nil {
		panic(err)
	}
	for _, e := range entities {
		fmt.Println(e.GetName(), "-", e.GetDescription())
	}
	// Output:
	// store - a shop, identified by its number within a region
	// user - a customer of the shop
}

func ExampleClient_GetFeatureView() {
	addr, stop := startServer(nil)
	defer stop()
	c, _ := client.Dial(addr)
	defer c.Close()
	ctx := context.Background()

	view, err := c.GetFeatureView(ctx, "user_stats")
	if err != nil {
		panic(err)
	}
	fmt.Println(view.GetEntity(), view.GetTtl().AsDuration(), view.GetOwner(), len(view.GetFeatures()), "features")
	_, err = c.GetFeatureView(ctx, "user_stat")
	fmt.Println(errors.Is(err, client.ErrUnknownFeatureView))
	// Output:
	// user 168h0m0s team-growth 4 features
	// true
}

func ExampleClient_ListFeatureViews() {
	addr, stop := startServer(nil)
	defer stop()
	c, _ := client.Dial(addr)
	defer c.Close()

	views, err := c.ListFeatureViews(context.Background())
	if err != nil {
		panic(err)
	}
	for _, v := range views {
		fmt.Println(v.GetName(), "of", v.GetEntity())
	}
	// Output:
	// store_sales of store
	// user_stats of user
}

func ExampleClient_CreateSplit() {
	addr, stop := startServer(nil)
	defer stop()
	c, _ := client.Dial(addr)
	defer c.Close()
	ctx := context.Background()

	start := time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)
	end := time.Date(2024, 2, 29, 23, 59, 59, 0, time.UTC)
	resp, err := c.CreateSplit(ctx, "validation", start, end, client.WithDescription("February, held out"))
	if err != nil {
		panic(err)
	}
	fmt.Println(resp.GetSplit().GetName(), resp.GetSplit().GetDescription(), "created:", resp.GetCreated())
	// Splits are immutable: the same bounds again succeed, others are refused.
	resp, _ = c.CreateSplit(ctx, "validation", start, end)
	fmt.Println("created:", resp.GetCreated())
	_, err = c.CreateSplit(ctx, "validation", start, end.Add(time.Hour))
	fmt.Println(errors.Is(err, client.ErrSplitExists))
	// Output:
	// validation February, held out created: true
	// created: false
	// true
}

func ExampleClient_GetSplit() {
	addr, stop := startServer(nil)
	defer stop()
	c, _ := client.Dial(addr)
	defer c.Close()

	train, err := c.GetSplit(context.Background(), "train")
	if err != nil {
		panic(err)
	}
	fmt.Println("cutoff", train.GetEnd().AsTime().Format(time.RFC3339))
	// Output: cutoff 2024-01-31T23:59:59Z
}

func ExampleClient_ListSplits() {
	addr, stop := startServer(nil)
	defer stop()
	c, _ := client.Dial(addr)
	defer c.Close()

	splits, err := c.ListSplits(context.Background())
	if err != nil {
		panic(err)
	}
	for _, sp := range splits {
		fmt.Println(sp.GetName(), sp.GetStart().AsTime().Format(time.DateOnly), "to", sp.GetEnd().AsTime().Format(time.DateOnly))
	}
	// Output:
	// test 2024-02-01 to 2024-02-14
	// train 2024-01-01 to 2024-01-31
}

func ExampleClient_Write() {
	addr, stop := startServer(nil)
	defer stop()
	c, _ := client.Dial(addr)
	defer c.Close()
	ctx := context.Background()

	now := time.Now()
	rows := []client.Row{
		{Key: []any{1}, EventTime: now.Add(-time.Minute), Values: []any{3, 12.5, "DE", true}},
		{Key: []any{2}, EventTime: now.Add(-time.Minute), Values: []any{0, nil, "FR", false}}, // nil: a null spend
	}
	// One atomic, durable batch; the batch id makes a retry harmless.
	res, err := c.Write(ctx, "user_stats", rows, client.WithBatchID("sessions-0001"))
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Rows, "rows, seqs", res.FirstSeq, "to", res.LastSeq)
	again, _ := c.Write(ctx, "user_stats", rows, client.WithBatchID("sessions-0001"))
	fmt.Println("retry written again:", !again.Duplicate)

	// Some features only, in the order named; a tombstone deletes.
	_, err = c.Write(ctx, "user_stats", []client.Row{{Key: []any{1}, EventTime: now, Values: []any{true, 4}}},
		client.WithFeatures("is_subscriber", "clicks"))
	if err != nil {
		panic(err)
	}
	_, err = c.Write(ctx, "user_stats", []client.Row{{Key: []any{2}, EventTime: now, Delete: true}})
	if err != nil {
		panic(err)
	}
	// A bad row refuses the whole batch, naming the row and the field.
	_, err = c.Write(ctx, "user_stats", []client.Row{{Key: []any{3}, EventTime: now, Values: []any{"many", 1.0, "DE", true}}})
	fmt.Println(errors.Is(err, client.ErrInvalidArgument), err)
	// Output:
	// 2 rows, seqs 1 to 2
	// retry written again: false
	// true timefence: row 0: feature "clicks": expected int64, got string
}

func ExampleClient_GetOnline() {
	addr, stop := startServer(nil)
	defer stop()
	c, _ := client.Dial(addr)
	defer c.Close()
	ctx := context.Background()

	_, err := c.Write(ctx, "user_stats", []client.Row{{Key: []any{42}, EventTime: time.Now().Add(-time.Minute), Values: []any{7, 19.9, "DE", true}}})
	if err != nil {
		panic(err)
	}
	// An inference path gives each lookup its own budget.
	res, err := c.GetOnline(ctx, []string{"user_stats:clicks", "user_stats:country"}, []string{"user_id"}, [][]any{{42}, {43}},
		client.WithTimeout(50*time.Millisecond))
	if err != nil {
		panic(err)
	}
	for i, row := range res.Rows {
		fmt.Println("user", 42+i, res.Features[0], "=", row[0].Value, res.Features[1], "=", row[1].Value, row[0].Status)
	}
	// Output:
	// user 42 user_stats:clicks = 7 user_stats:country = DE FEATURE_STATUS_PRESENT
	// user 43 user_stats:clicks = <nil> user_stats:country = <nil> FEATURE_STATUS_NOT_FOUND
}

// As of a past time, a lookup is a training-side read: it runs under a
// split, and sees only what had arrived by then.
func ExampleClient_GetOnline_asOf() {
	addr, stop := startTour()
	defer stop()
	c, _ := client.Dial(addr)
	defer c.Close()
	ctx := context.Background()

	at := time.Date(2024, 1, 5, 19, 0, 0, 0, time.UTC) // the 18:30 row arrived only at 06:00 the next day
	res, err := c.GetOnline(ctx, []string{"user_stats:clicks"}, []string{"user_id"}, [][]any{{1}},
		client.AsOf(at), client.UnderSplit("train"))
	if err != nil {
		panic(err)
	}
	v := res.Rows[0][0]
	fmt.Println("clicks", v.Value, "from", v.EventTime.Format(time.RFC3339))
	_, err = c.GetOnline(ctx, []string{"user_stats:clicks"}, []string{"user_id"}, [][]any{{1}}, client.AsOf(at))
	fmt.Println(errors.Is(err, client.ErrSplitRequired))
	// Output:
	// clicks 7 from 2024-01-03T09:00:00Z
	// true
}

// historyTable is a table of user_stats history: two users, the second
// with a row that arrived a day late.
func historyTable() array.RecordReader {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "user_id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "ts", Type: arrow.FixedWidthTypes.Timestamp_s},
		{Name: "arrived", Type: arrow.FixedWidthTypes.Timestamp_s},
		{Name: "clicks", Type: arrow.PrimitiveTypes.Int64},
		{Name: "is_subscriber", Type: arrow.FixedWidthTypes.Boolean}, // required; the other features may be left out
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	day := time.Date(2024, 1, 10, 0, 0, 0, 0, time.UTC)
	for _, r := range []struct {
		user          int64
		event, arrive time.Duration
		clicks        int64
	}{{7, 0, time.Hour, 5}, {8, 0, time.Hour, 1}, {8, 2 * time.Hour, 26 * time.Hour, 9}} {
		b.Field(0).(*array.Int64Builder).Append(r.user)
		b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(day.Add(r.event).Unix()))
		b.Field(2).(*array.TimestampBuilder).Append(arrow.Timestamp(day.Add(r.arrive).Unix()))
		b.Field(3).(*array.Int64Builder).Append(r.clicks)
		b.Field(4).(*array.BooleanBuilder).Append(false)
	}
	rec := b.NewRecord()
	defer rec.Release()
	rdr, _ := array.NewRecordReader(schema, []arrow.Record{rec})
	return rdr
}

func ExampleClient_WriteTable() {
	addr, stop := startServer(nil)
	defer stop()
	c, _ := client.Dial(addr)
	defer c.Close()

	// History, each row with the time production could first read it.
	res, err := c.WriteTable(context.Background(), "user_stats", historyTable(),
		client.Backfill(), client.WithEventTimeColumn("ts"), client.WithAvailableAtColumn("arrived"),
		client.WithBatchID("history-2024-01-10"))
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Rows, "rows, seqs", res.FirstSeq, "to", res.LastSeq)
	// Output: 3 rows, seqs 1 to 3
}

// A late value — an old event time that arrived later — is invisible to a
// training read at any time before it arrived, as it was to production.
func ExampleClient_GetHistorical() {
	addr, stop := startServer(nil)
	defer stop()
	c, _ := client.Dial(addr)
	defer c.Close()
	ctx := context.Background()
	_, err := c.WriteTable(ctx, "user_stats", historyTable(),
		client.Backfill(), client.WithEventTimeColumn("ts"), client.WithAvailableAtColumn("arrived"))
	if err != nil {
		panic(err)
	}

	noon := time.Date(2024, 1, 10, 12, 0, 0, 0, time.UTC)
	spine, _ := client.NewSpine([]string{"user_id"}, [][]any{{7}, {8}}, []time.Time{noon, noon})
	sum, err := c.GetHistorical(ctx, "train", []string{"user_stats:clicks"}, spine, func(rec arrow.Record) error {
		for i := range int(rec.NumRows()) {
			fmt.Println("user", rec.Column(0).(*array.Int64).Value(i), rec.ColumnName(2), rec.Column(2).(*array.Int64).Value(i))
		}
		return nil
	}, client.WithFullFeatureNames())
	if err != nil {
		panic(err)
	}
	fmt.Println("rows a naive join would have leaked:", sum.NaiveDifferences)

	// A spine row past the split's cutoff is refused whole.
	late, _ := client.NewSpine([]string{"user_id"}, [][]any{{7}}, []time.Time{time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)})
	_, err = c.GetHistorical(ctx, "train", []string{"user_stats:clicks"}, late, func(arrow.Record) error { return nil })
	fmt.Println(errors.Is(err, client.ErrCutoffExceeded))
	// Output:
	// user 7 user_stats__clicks 5
	// user 8 user_stats__clicks 1
	// rows a naive join would have leaked: 1
	// true
}

func ExampleClient_Export() {
	addr, stop := startServer(nil)
	defer stop()
	c, _ := client.Dial(addr)
	defer c.Close()
	ctx := context.Background()
	_, _ = c.WriteTable(ctx, "user_stats", historyTable(),
		client.Backfill(), client.WithEventTimeColumn("ts"), client.WithAvailableAtColumn("arrived"))

	// Every version production could have seen by the cutoff.
	sum, err := c.Export(ctx, "train", "user_stats", func(rec arrow.Record) error {
		for i, f := range rec.Schema().Fields() {
			fmt.Print(f.Name)
			if i < int(rec.NumCols())-1 {
				fmt.Print(" ")
			}
		}
		fmt.Println()
		return nil
	}, client.WithFeatures("clicks"))
	if err != nil {
		panic(err)
	}
	fmt.Println(sum.Rows, "versions under split", sum.Split)
	// Output:
	// user_id event_timestamp available_at deleted backfilled clicks
	// 3 versions under split train
}

func ExampleClient_ExportDataset() {
	addr, stop := startServer(nil)
	defer stop()
	c, _ := client.Dial(addr)
	defer c.Close()
	ctx := context.Background()
	_, _ = c.WriteTable(ctx, "user_stats", historyTable(),
		client.Backfill(), client.WithEventTimeColumn("ts"), client.WithAvailableAtColumn("arrived"))
	first, err := c.Export(ctx, "train", "user_stats", func(arrow.Record) error { return nil })
	if err != nil {
		panic(err)
	}

	// Later writes, even history within the split, do not change a recorded export.
	_, _ = c.Write(ctx, "user_stats", []client.Row{{Key: []any{9}, EventTime: time.Date(2024, 1, 11, 0, 0, 0, 0, time.UTC),
		AvailableAt: time.Date(2024, 1, 11, 0, 0, 0, 0, time.UTC), Values: []any{1, 1.0, "DE", true}}}, client.Backfill())
	again, err := c.ExportDataset(ctx, first.DatasetID, func(arrow.Record) error { return nil })
	if err != nil {
		panic(err)
	}
	fmt.Println(again.Rows, "versions, same checksum:", again.Checksum == first.Checksum)
	// Output: 3 versions, same checksum: true
}

func ExampleClient_GetManifest() {
	addr, stop := startTour()
	defer stop()
	c, _ := client.Dial(addr)
	defer c.Close()
	ctx := context.Background()
	spine, _ := client.NewSpine([]string{"user_id"}, [][]any{{1}}, []time.Time{time.Date(2024, 1, 7, 0, 0, 0, 0, time.UTC)})
	sum, err := c.GetHistorical(ctx, "train", []string{"user_stats"}, spine, func(arrow.Record) error { return nil })
	if err != nil {
		panic(err)
	}

	m, err := c.GetManifest(ctx, sum.DatasetID)
	if err != nil {
		panic(err)
	}
	fmt.Println(m.GetKind(), "under", m.GetSplit().GetName(), "rows", m.GetRows(), "backfilled values", m.GetBackfilledValues())
	_, err = c.GetManifest(ctx, "no-such-dataset")
	fmt.Println(errors.Is(err, client.ErrUnknownDataset))
	// Output:
	// historical under train rows 1 backfilled values 3
	// true
}

func ExampleClient_ListManifests() {
	addr, stop := startTour()
	defer stop()
	c, _ := client.Dial(addr)
	defer c.Close()
	ctx := context.Background()
	if _, err := c.Export(ctx, "train", "user_stats", func(arrow.Record) error { return nil }); err != nil {
		panic(err)
	}

	manifests, err := c.ListManifests(ctx)
	if err != nil {
		panic(err)
	}
	for _, m := range manifests {
		fmt.Println(m.GetKind(), "of", m.GetRows(), "versions under", m.GetSplit().GetName())
	}
	// Output: export of 8 versions under train
}

func ExampleClient_GetStatistics() {
	addr, stop := startTour()
	defer stop()
	c, _ := client.Dial(addr)
	defer c.Close()

	// Statistics are a training-side read: under a split, and nothing after its cutoff counts.
	st, err := c.GetStatistics(context.Background(), "train", "user_stats", client.WithFeatures("clicks", "spend"))
	if err != nil {
		panic(err)
	}
	for _, f := range st.GetFeatures() {
		fmt.Printf("%s: %d values, %d null, mean %.2f\n", f.GetFeature(), f.GetCount(), f.GetNullCount(), f.GetMean())
	}
	// Output:
	// clicks: 8 values, 0 null, mean 5.50
	// spend: 8 values, 1 null, mean 33.16
}

func ExampleClient_CompareStatistics() {
	addr, stop := startTour()
	defer stop()
	c, _ := client.Dial(addr)
	defer c.Close()
	ctx := context.Background()
	_, err := c.CreateSplit(ctx, "first_week", time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 1, 7, 23, 59, 59, 0, time.UTC))
	if err != nil {
		panic(err)
	}

	cmp, err := c.CompareStatistics(ctx, "user_stats", "first_week", "train", client.WithFeatures("clicks"))
	if err != nil {
		panic(err)
	}
	fmt.Println("baseline", cmp.GetBaseline().GetVersions(), "versions, current", cmp.GetCurrent().GetVersions())
	for _, a := range cmp.GetAnomalies() {
		fmt.Println(a.GetSeverity(), a.GetFeature(), a.GetKind())
	}
	// Output:
	// baseline 4 versions, current 8
}

func ExampleClient_GetHistoryStatus() {
	addr, stop := startTour()
	defer stop()
	c, _ := client.Dial(addr)
	defer c.Close()

	views, err := c.GetHistoryStatus(context.Background())
	if err != nil {
		panic(err)
	}
	for _, v := range views {
		// Until the compactor writes them to a run file, versions wait in memory.
		fmt.Println(v.GetFeatureView(), "versions:", v.GetFileVersions()+v.GetTailVersions())
	}
	// Output:
	// store_sales versions: 0
	// user_stats versions: 13
}

func ExampleClient_Backup() {
	addr, stop := startTour()
	defer stop()
	c, _ := client.Dial(addr)
	defer c.Close()
	ctx := context.Background()

	var full, incremental bytes.Buffer
	info, err := c.Backup(ctx, &full, nil)
	if err != nil {
		panic(err)
	}
	_, _ = c.Write(ctx, "user_stats", []client.Row{{Key: []any{5}, EventTime: time.Now().Add(-time.Minute), Values: []any{1, 2.0, "DE", true}}})
	// Then only what changed since.
	next, err := c.Backup(ctx, &incremental, info)
	if err != nil {
		panic(err)
	}
	fmt.Println("full to seq", info.GetWatermark(), "then to seq", next.GetWatermark(), "smaller:", incremental.Len() < full.Len())
	// Output: full to seq 13 then to seq 14 smaller: true
}

func ExampleClient_CreateSandbox() {
	addr, stop := startTour()
	defer stop()
	c, _ := client.Dial(addr)
	defer c.Close()

	// Production's data up to the end of split train, as a store of its own
	// (a backup file: `timefence sandbox create` restores it into a directory).
	var sandbox bytes.Buffer
	info, err := c.CreateSandbox(context.Background(), "train", &sandbox)
	if err != nil {
		panic(err)
	}
	fmt.Println("splits", info.GetSplits(), "versions", info.GetVersions(), "left out", info.GetLeftOut())
	// Output: splits [train] versions 8 left out 5
}

func ExampleClient_Conn() {
	addr, stop := startServer(nil)
	defer stop()
	c, _ := client.Dial(addr)
	defer c.Close()

	// The raw gRPC API, on the client's connection.
	registry := timefencev1.NewRegistryServiceClient(c.Conn())
	resp, err := registry.GetSplit(context.Background(), &timefencev1.GetSplitRequest{Name: "train"})
	if err != nil {
		panic(err)
	}
	fmt.Println(resp.GetSplit().GetName())
	// Output: train
}

func ExampleClient_Close() {
	addr, stop := startServer(nil)
	defer stop()
	c, _ := client.Dial(addr)

	fmt.Println(c.Close())
	_, err := c.ListSplits(context.Background())
	fmt.Println(errors.Is(err, client.ErrCancelled))
	// Output:
	// <nil>
	// true
}

func ExampleClient_SkewReport() {
	addr, stop := startTour()
	defer stop()
	c, _ := client.Dial(addr)
	defer c.Close()
	ctx := context.Background()

	// A lookup kept in the serving log, then replayed as a training join
	// reads it now: 0 mismatches.
	res, err := c.GetOnline(ctx, []string{"user_stats:clicks"}, []string{"user_id"}, [][]any{{1}, {2}},
		client.Logged(), client.WithRequestID("checkout-1"))
	if err != nil {
		panic(err)
	}
	rep, err := c.SkewReport(ctx, time.Time{}, time.Time{}, 0)
	if err != nil {
		panic(err)
	}
	fmt.Println(res.RequestID, "lookups", rep.GetLookups(), "values", rep.GetValues(), "mismatches", rep.GetMismatches())
	// Output: checkout-1 lookups 1 values 2 mismatches 0
}

func ExampleClient_ValidationReport() {
	addr, stop := startTour()
	defer stop()
	c, _ := client.Dial(addr)
	defer c.Close()
	ctx := context.Background()

	// Warn when a country outside the list is written: the batch is
	// written, and a validation event recorded with it.
	view, err := c.GetFeatureView(ctx, "user_stats")
	if err != nil {
		panic(err)
	}
	view.Expectations = []*timefencev1.Expectation{{Feature: "country", Allowed: []string{"DE", "FR", "US"},
		Level: timefencev1.ExpectationLevel_EXPECTATION_LEVEL_WARN}}
	if _, err := c.ApplyFeatureView(ctx, view); err != nil {
		panic(err)
	}
	_, err = c.Write(ctx, "user_stats", []client.Row{
		{Key: []any{1}, EventTime: time.Now(), Values: []any{3, 9.5, "DE", true}},
		{Key: []any{2}, EventTime: time.Now(), Values: []any{1, 0.0, "XX", false}},
	})
	if err != nil {
		panic(err)
	}
	rep, err := c.ValidationReport(ctx, time.Time{}, time.Time{}, client.ForView("user_stats"))
	if err != nil {
		panic(err)
	}
	ev := rep.GetEvents()[0]
	fmt.Println(ev.GetFeatureView(), ev.GetKind(), ev.GetRowsFailed(), "of", ev.GetRowsChecked(), "rows; row",
		ev.GetFailedRows()[0].GetRow(), ev.GetFailedRows()[0].GetValue())
	// Output: user_stats allowed 1 of 2 rows; row 1 "XX"
}

func ExampleClient_ServingLog() {
	addr, stop := startTour()
	defer stop()
	c, _ := client.Dial(addr)
	defer c.Close()
	ctx := context.Background()

	// What production served, under a split that ends after the lookup.
	_, err := c.GetOnline(ctx, []string{"user_stats:clicks"}, []string{"user_id"}, [][]any{{1}, {2}},
		client.Logged(), client.WithContext(map[string]any{"device": "ios"}))
	if err != nil {
		panic(err)
	}
	if _, err := c.CreateSplit(ctx, "served", time.Unix(0, 0), time.Now()); err != nil {
		panic(err)
	}
	sum, err := c.ServingLog(ctx, "served", []string{"user_stats:clicks"}, func(rec arrow.Record) error {
		fmt.Println(rec.Schema().Field(3).Name, rec.Schema().Field(4).Name, rec.Schema().Field(5).Name, "rows", rec.NumRows())
		return nil
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("lookups", sum.Lookups, "rows", sum.Rows)
	// Output:
	// user_id context user_stats:clicks rows 2
	// lookups 1 rows 2
}

// Read your writes: a lookup given a write's last seq sees that write. On
// a read replica (timefence serve --replica-of) it waits until the replica
// has applied it; a replica still behind after the call's deadline, at most
// 5 s, returns ErrReplicaBehind.
func ExampleMinWatermark() {
	addr, stop := startServer(nil)
	defer stop()
	c, _ := client.Dial(addr)
	defer c.Close()
	ctx := context.Background()

	res, err := c.Write(ctx, "user_stats", []client.Row{{Key: []any{42}, EventTime: time.Now().Add(-time.Minute), Values: []any{7, 19.9, "DE", true}}})
	if err != nil {
		panic(err)
	}
	got, err := c.GetOnline(ctx, []string{"user_stats:clicks"}, []string{"user_id"}, [][]any{{42}},
		client.MinWatermark(res.LastSeq), client.WithTimeout(time.Second))
	if err != nil {
		panic(err)
	}
	fmt.Println(got.Rows[0][0].Value, got.Watermark >= res.LastSeq)
	// A watermark this server never gave out is a mistake.
	_, err = c.GetOnline(ctx, []string{"user_stats:clicks"}, []string{"user_id"}, [][]any{{42}}, client.MinWatermark(res.LastSeq+100))
	fmt.Println(errors.Is(err, client.ErrInvalidArgument))
	// Output:
	// 7 true
	// true
}
