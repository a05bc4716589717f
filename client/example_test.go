package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
	"github.com/timefence/timefence/client"
	"github.com/timefence/timefence/server"
	"github.com/timefence/timefence/storage"
)

// exampleServer starts a real server on loopback over a temporary store,
// with entity "user" and view "user_stats" (clicks int64); stop ends it.
func exampleServer() (addr string, stop func()) {
	dir, _ := os.MkdirTemp("", "timefence-example")
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := storage.Open(storage.DefaultOptions(dir).WithLogger(quiet))
	if err != nil {
		panic(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	cfg := server.DefaultConfig()
	cfg.Logger = quiet
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- server.New(st, cfg).Serve(ctx, lis) }()
	c, _ := client.Dial(lis.Addr().String())
	defer c.Close()
	_, err = c.ApplyEntity(ctx, &timefencev1.Entity{Name: "user", JoinKeys: []*timefencev1.JoinKey{
		{Name: "user_id", Type: timefencev1.ValueType_VALUE_TYPE_INT64}}})
	if err == nil {
		_, err = c.ApplyFeatureView(ctx, &timefencev1.FeatureView{Name: "user_stats", Entity: "user", Features: []*timefencev1.Feature{
			{Name: "clicks", Type: timefencev1.ValueType_VALUE_TYPE_INT64}}})
	}
	if err != nil {
		panic(err)
	}
	return lis.Addr().String(), func() { cancel(); <-done; st.Close(); os.RemoveAll(dir) }
}

func ExampleClient_GetOnline() {
	addr, stop := exampleServer()
	defer stop()
	ctx := context.Background()

	c, err := client.Dial(addr)
	if err != nil {
		panic(err)
	}
	defer c.Close()
	_, err = c.Write(ctx, "user_stats", []client.Row{{Key: []any{42}, EventTime: time.Now().Add(-time.Minute), Values: []any{7}}})
	if err != nil {
		panic(err)
	}
	res, err := c.GetOnline(ctx, []string{"user_stats:clicks"}, []string{"user_id"}, [][]any{{42}, {43}})
	if err != nil {
		panic(err)
	}
	for i, row := range res.Rows {
		fmt.Println(res.Features[0], "of user", 42+i, "=", row[0].Value, row[0].Status)
	}
	// Output:
	// user_stats:clicks of user 42 = 7 FEATURE_STATUS_PRESENT
	// user_stats:clicks of user 43 = <nil> FEATURE_STATUS_NOT_FOUND
}

// A late value — an old event time written now — is invisible to a
// training read at any time before it arrived, as it was to production.
func ExampleClient_GetHistorical() {
	addr, stop := exampleServer()
	defer stop()
	ctx := context.Background()
	c, _ := client.Dial(addr)
	defer c.Close()

	day := time.Now().Add(-24 * time.Hour).Truncate(time.Hour)
	// A value that landed on time, then a correction for the same event time
	// plus one minute that only arrives now.
	_, _ = c.Write(ctx, "user_stats", []client.Row{{Key: []any{1}, EventTime: day, Values: []any{10}, AvailableAt: day}}, client.Backfill())
	_, _ = c.Write(ctx, "user_stats", []client.Row{{Key: []any{1}, EventTime: day.Add(time.Minute), Values: []any{99}}})
	_, _ = c.CreateSplit(ctx, "train", day, time.Now())

	schema := arrow.NewSchema([]arrow.Field{{Name: "user_id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "event_timestamp", Type: &arrow.TimestampType{Unit: arrow.Nanosecond}}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	b.Field(0).(*array.Int64Builder).Append(1)
	b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(day.Add(time.Hour).UnixNano()))
	spine, _ := array.NewRecordReader(schema, []arrow.Record{b.NewRecord()})

	sum, err := c.GetHistorical(ctx, "train", []string{"user_stats:clicks"}, spine, func(rec arrow.Record) error {
		fmt.Println("clicks an hour into the day:", rec.Column(2).(*array.Int64).Value(0))
		return nil
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("rows a naive join would have leaked:", sum.NaiveDifferences)

	// A spine row past the cutoff is refused whole.
	b.Field(0).(*array.Int64Builder).Append(1)
	b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(time.Now().Add(time.Hour).UnixNano()))
	late, _ := array.NewRecordReader(schema, []arrow.Record{b.NewRecord()})
	_, err = c.GetHistorical(ctx, "train", []string{"user_stats:clicks"}, late, func(arrow.Record) error { return nil })
	fmt.Println(errors.Is(err, client.ErrCutoffExceeded))
	// Output:
	// clicks an hour into the day: 10
	// rows a naive join would have leaked: 1
	// true
}

func ExampleClient_Write_invalid() {
	addr, stop := exampleServer()
	defer stop()
	c, _ := client.Dial(addr)
	defer c.Close()

	_, err := c.Write(context.Background(), "user_stats", []client.Row{
		{Key: []any{1}, EventTime: time.Now(), Values: []any{1}},
		{Key: []any{2}, EventTime: time.Now(), Values: []any{"many"}},
	})
	fmt.Println(errors.Is(err, client.ErrInvalidArgument))
	fmt.Println(err)
	// Output:
	// true
	// timefence: row 1: feature "clicks": expected int64, got string
}

func ExampleClient_HistoryStatus() {
	addr, stop := exampleServer()
	defer stop()
	ctx := context.Background()

	c, err := client.Dial(addr)
	if err != nil {
		panic(err)
	}
	defer c.Close()
	_, err = c.Write(ctx, "user_stats", []client.Row{
		{Key: []any{1}, EventTime: time.Now().Add(-time.Minute), Values: []any{3}},
		{Key: []any{2}, EventTime: time.Now().Add(-time.Minute), Values: []any{5}},
	})
	if err != nil {
		panic(err)
	}
	views, err := c.HistoryStatus(ctx)
	if err != nil {
		panic(err)
	}
	for _, v := range views {
		// Until the compactor writes them to a run file, versions wait in memory.
		fmt.Println(v.GetFeatureView(), "versions:", v.GetFileVersions()+v.GetTailVersions())
	}
	// Output: user_stats versions: 2
}
