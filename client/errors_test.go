package client_test

import (
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
	"github.com/timefence/timefence/client"
	"github.com/timefence/timefence/server"
	"github.com/timefence/timefence/storage"
)

// sentinels are the client's sentinels by reason, as docs/errors.md names
// them (TestErrorVocabulary checks the names).
var sentinels = map[string]error{
	"INVALID_ARGUMENT": client.ErrInvalidArgument, "UNKNOWN_ENTITY": client.ErrUnknownEntity,
	"UNKNOWN_FEATURE_VIEW": client.ErrUnknownFeatureView, "UNKNOWN_FEATURE": client.ErrUnknownFeature,
	"UNKNOWN_SPLIT": client.ErrUnknownSplit, "UNKNOWN_DATASET": client.ErrUnknownDataset,
	"SCHEMA_MISMATCH": client.ErrSchemaMismatch, "SPLIT_EXISTS": client.ErrSplitExists,
	"BATCH_ID_CONFLICT": client.ErrBatchConflict, "SPLIT_REQUIRED": client.ErrSplitRequired,
	"CUTOFF_EXCEEDED": client.ErrCutoffExceeded, "FUTURE_TIME": client.ErrFutureTime,
	"DATASET_MISMATCH": client.ErrDatasetMismatch, "LIMIT_EXCEEDED": client.ErrLimitExceeded,
	"STREAM_IDLE": client.ErrStreamIdle, "STORAGE_FULL": client.ErrStorageFull, "DATA_LOSS": client.ErrDataLoss,
	"PERMISSION_DENIED": client.ErrPermissionDenied, "UNAUTHENTICATED": client.ErrUnauthenticated,
	"UNAVAILABLE": client.ErrUnavailable, "DEADLINE_EXCEEDED": client.ErrDeadlineExceeded,
	"CANCELLED": client.ErrCancelled, "INTERNAL": client.ErrInternal,
	"READ_ONLY": client.ErrReadOnly, "REPLICA_BEHIND": client.ErrReplicaBehind, "EXPECTATION_FAILED": client.ErrExpectationFailed,
}

// requireReason checks that err is the server's refusal with reason and
// code, and matches that reason's sentinel and no other.
func requireReason(t *testing.T, err error, code codes.Code, reason string) {
	t.Helper()
	var ce *client.Error
	require.ErrorAs(t, err, &ce, "want %s, got %v", reason, err)
	require.Equal(t, code, ce.Code, "%s: %v", reason, err)
	require.Equal(t, reason, ce.Reason, "%v", err)
	for r, s := range sentinels {
		if r == reason {
			require.ErrorIs(t, err, s, reason)
		} else if s != sentinels[reason] {
			require.NotErrorIs(t, err, s, "%s matches %s too", reason, r)
		}
	}
}

// stalled is a table that sends nothing until release is closed.
type stalled struct {
	array.RecordReader
	release chan struct{}
}

func (s stalled) Next() bool { <-s.release; return false }

// TestEveryRefusalMapsToItsSentinel causes each refusal the server can be
// brought to on demand, over gRPC and over Flight, and checks its reason,
// code and sentinel. DATA_LOSS, INTERNAL and UNAVAILABLE need a damaged
// store, a bug or a closing server: the server's own tests cause those
// (fault matrix, TestInternalErrorsKeepTheirCause), and
// TestStatusWithoutReason checks their codes here. READ_ONLY and
// REPLICA_BEHIND need a sandbox or a replica: server/replica_test.go and the
// sandbox tests cause them and match their sentinels.
func TestEveryRefusalMapsToItsSentinel(t *testing.T) {
	addr, stop := startServer(func(cfg *server.Config, _ *storage.Options) {
		cfg.MaxWriteRows = 100
		cfg.StreamIdleTimeout = 300 * time.Millisecond
		withAuth(cfg, nil)
	})
	defer stop()
	c, err := client.Dial(addr, client.WithToken(adminToken))
	require.NoError(t, err)
	defer c.Close()
	ctx := context.Background()
	day := time.Date(2024, 1, 10, 0, 0, 0, 0, time.UTC)
	row := func(user int, clicks any) client.Row {
		return client.Row{Key: []any{user}, EventTime: day, AvailableAt: day, Values: []any{clicks, 1.0, "DE", true}}
	}
	_, err = c.Write(ctx, "user_stats", []client.Row{row(1, 1)}, client.Backfill(), client.WithBatchID("b1"))
	require.NoError(t, err)
	spineAt := func(ts time.Time) array.RecordReader {
		s, err := client.NewSpine([]string{"user_id"}, [][]any{{1}}, []time.Time{ts})
		require.NoError(t, err)
		return s
	}
	discard := func(arrow.Record) error { return nil }
	join, err := c.GetHistorical(ctx, "train", []string{"user_stats"}, spineAt(day), discard)
	require.NoError(t, err)

	cases := []struct {
		reason string
		code   codes.Code
		call   func() error
	}{
		{"INVALID_ARGUMENT", codes.InvalidArgument, func() error {
			_, err := c.Write(ctx, "user_stats", []client.Row{row(2, "many")})
			return err
		}},
		{"UNKNOWN_ENTITY", codes.NotFound, func() error { _, err := c.GetEntity(ctx, "shop"); return err }},
		{"UNKNOWN_FEATURE_VIEW", codes.NotFound, func() error {
			_, err := c.GetOnline(ctx, []string{"nope"}, []string{"user_id"}, [][]any{{1}})
			return err
		}},
		{"UNKNOWN_FEATURE", codes.NotFound, func() error {
			_, err := c.GetHistorical(ctx, "train", []string{"user_stats:nope"}, spineAt(day), discard)
			return err
		}},
		{"UNKNOWN_SPLIT", codes.NotFound, func() error { _, err := c.GetSplit(ctx, "nope"); return err }},
		{"UNKNOWN_DATASET", codes.NotFound, func() error {
			_, err := c.ExportDataset(ctx, "nope", discard)
			return err
		}},
		{"SCHEMA_MISMATCH", codes.FailedPrecondition, func() error {
			v, err := c.GetFeatureView(ctx, "user_stats")
			require.NoError(t, err)
			v.Features[0].Type = timefencev1.ValueType_VALUE_TYPE_STRING
			_, err = c.ApplyFeatureView(ctx, v)
			return err
		}},
		{"SPLIT_EXISTS", codes.AlreadyExists, func() error {
			_, err := c.CreateSplit(ctx, "train", day, day.Add(time.Hour))
			return err
		}},
		{"BATCH_ID_CONFLICT", codes.AlreadyExists, func() error {
			_, err := c.Write(ctx, "user_stats", []client.Row{row(1, 2)}, client.Backfill(), client.WithBatchID("b1"))
			return err
		}},
		{"SPLIT_REQUIRED", codes.FailedPrecondition, func() error {
			_, err := c.Export(ctx, "", "user_stats", discard)
			return err
		}},
		{"CUTOFF_EXCEEDED", codes.FailedPrecondition, func() error {
			_, err := c.GetHistorical(ctx, "train", []string{"user_stats"}, spineAt(day.AddDate(0, 1, 0)), discard)
			return err
		}},
		{"FUTURE_TIME", codes.FailedPrecondition, func() error {
			_, err := c.CreateSplit(ctx, "future", day, time.Now().AddDate(1, 0, 0))
			require.NoError(t, err)
			_, err = c.GetOnline(ctx, []string{"user_stats"}, []string{"user_id"}, [][]any{{1}},
				client.AsOf(time.Now().Add(time.Hour)), client.UnderSplit("future"))
			return err
		}},
		{"DATASET_MISMATCH", codes.FailedPrecondition, func() error {
			_, err := c.GetHistorical(ctx, "", nil, spineAt(day.Add(time.Hour)), discard, client.WithDatasetID(join.DatasetID))
			return err
		}},
		{"LIMIT_EXCEEDED", codes.ResourceExhausted, func() error {
			rows := make([]client.Row, 101)
			for i := range rows {
				rows[i] = row(i, i)
			}
			_, err := c.Write(ctx, "user_stats", rows, client.Backfill())
			return err
		}},
		{"STREAM_IDLE", codes.DeadlineExceeded, func() error {
			table := stalled{RecordReader: historyTable(), release: make(chan struct{})}
			time.AfterFunc(1500*time.Millisecond, func() { close(table.release) })
			_, err := c.WriteTable(ctx, "user_stats", table)
			return err
		}},
		{"PERMISSION_DENIED", codes.PermissionDenied, func() error {
			reader, err := client.Dial(addr, client.WithToken("reader-token"))
			require.NoError(t, err)
			defer reader.Close()
			_, err = reader.Write(ctx, "user_stats", []client.Row{row(3, 3)})
			return err
		}},
		{"UNAUTHENTICATED", codes.Unauthenticated, func() error {
			anonymous, err := client.Dial(addr)
			require.NoError(t, err)
			defer anonymous.Close()
			_, err = anonymous.Export(ctx, "train", "user_stats", discard)
			return err
		}},
		{"DEADLINE_EXCEEDED", codes.DeadlineExceeded, func() error {
			_, err := c.GetOnline(ctx, []string{"user_stats"}, []string{"user_id"}, [][]any{{1}}, client.WithTimeout(time.Nanosecond))
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			err := tc.call()
			if tc.reason == "DEADLINE_EXCEEDED" {
				// Out of time before the server saw it: gRPC's own status, no reason.
				require.ErrorIs(t, err, client.ErrDeadlineExceeded)
				require.ErrorIs(t, err, context.DeadlineExceeded)
				return
			}
			requireReason(t, err, tc.code, tc.reason)
		})
	}

	// A cancelled call matches ErrCancelled, which is context.Canceled.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = c.ListSplits(cctx)
	require.ErrorIs(t, err, client.ErrCancelled)
	require.ErrorIs(t, err, context.Canceled)

	// Storage full: a store whose reserve exceeds the free space refuses writes.
	full, stopFull := startFull()
	defer stopFull()
	fc, err := client.Dial(full)
	require.NoError(t, err)
	defer fc.Close()
	_, err = fc.Write(ctx, "user_stats", []client.Row{row(1, 1)}, client.Backfill())
	requireReason(t, err, codes.ResourceExhausted, "STORAGE_FULL")
	_, err = fc.WriteTable(ctx, "user_stats", historyTable(), client.Backfill(),
		client.WithEventTimeColumn("ts"), client.WithAvailableAtColumn("arrived"))
	requireReason(t, err, codes.ResourceExhausted, "STORAGE_FULL")
}

// TestStatusWithoutReason: a status that carries no reason, as gRPC itself
// makes them, matches the sentinel of its code.
func TestStatusWithoutReason(t *testing.T) {
	for code, want := range map[codes.Code]error{
		codes.InvalidArgument: client.ErrInvalidArgument, codes.ResourceExhausted: client.ErrLimitExceeded,
		codes.PermissionDenied: client.ErrPermissionDenied, codes.Unauthenticated: client.ErrUnauthenticated,
		codes.Unavailable: client.ErrUnavailable, codes.DeadlineExceeded: client.ErrDeadlineExceeded,
		codes.Canceled: client.ErrCancelled, codes.Internal: client.ErrInternal, codes.DataLoss: client.ErrDataLoss,
	} {
		err := error(&client.Error{Code: code, Message: "m"})
		require.ErrorIs(t, err, want, code.String())
		for _, other := range sentinels {
			if other != want {
				require.NotErrorIs(t, err, other, code.String())
			}
		}
	}
	require.NotErrorIs(t, &client.Error{Code: codes.Unknown}, client.ErrInternal)
}

// TestOptionsAreHonoured: each per-call option changes what the call does.
func TestOptionsAreHonoured(t *testing.T) {
	addr, stop := startServer(nil)
	defer stop()
	c, err := client.Dial(addr)
	require.NoError(t, err)
	defer c.Close()
	ctx := context.Background()
	discard := func(arrow.Record) error { return nil }

	// WriteTable: WithEventTimeColumn, Backfill, WithAvailableAtColumn, WithBatchID.
	res, err := c.WriteTable(ctx, "user_stats", historyTable(), client.Backfill(),
		client.WithEventTimeColumn("ts"), client.WithAvailableAtColumn("arrived"), client.WithBatchID("h"))
	require.NoError(t, err)
	again, err := c.WriteTable(ctx, "user_stats", historyTable(), client.Backfill(),
		client.WithEventTimeColumn("ts"), client.WithAvailableAtColumn("arrived"), client.WithBatchID("h"))
	require.NoError(t, err)
	require.True(t, again.Duplicate)
	require.Equal(t, res.FirstSeq, again.FirstSeq)
	_, err = c.WriteTable(ctx, "user_stats", historyTable(), client.WithEventTimeColumn("ts"))
	require.ErrorIs(t, err, client.ErrInvalidArgument, "without Backfill the arrived column is not a feature")

	// GetOnline: AsOf and UnderSplit read the past; a user whose only row
	// arrived late is not found before it arrived.
	day := time.Date(2024, 1, 10, 0, 0, 0, 0, time.UTC)
	before := func(at time.Time) *client.OnlineResult {
		r, err := c.GetOnline(ctx, []string{"user_stats:clicks"}, []string{"user_id"}, [][]any{{8}}, client.AsOf(at), client.UnderSplit("train"))
		require.NoError(t, err)
		return r
	}
	require.Equal(t, int64(1), before(day.Add(3 * time.Hour)).Rows[0][0].Value, "the late row had not arrived")
	require.Equal(t, int64(9), before(day.Add(27 * time.Hour)).Rows[0][0].Value, "the late row has arrived")
	require.Equal(t, day.Add(27*time.Hour), before(day.Add(27*time.Hour)).ReadTime)
	now, err := c.GetOnline(ctx, []string{"user_stats:clicks"}, []string{"user_id"}, [][]any{{8}})
	require.NoError(t, err)
	require.Equal(t, client.Stale, now.Rows[0][0].Status, "at now the value is older than the ttl")
	require.Equal(t, timefencev1.ValueType_VALUE_TYPE_INT64, now.Types[0])

	// Write: WithFeatures in their order, Backfill.
	_, err = c.Write(ctx, "user_stats", []client.Row{{Key: []any{20}, EventTime: day, AvailableAt: day, Values: []any{true, 42}}},
		client.WithFeatures("is_subscriber", "clicks"), client.Backfill())
	require.NoError(t, err)
	r, err := c.GetOnline(ctx, []string{"user_stats:clicks", "user_stats:spend"}, []string{"user_id"}, [][]any{{20}},
		client.AsOf(day.Add(time.Minute)), client.UnderSplit("train"))
	require.NoError(t, err)
	require.Equal(t, int64(42), r.Rows[0][0].Value)
	require.Nil(t, r.Rows[0][1].Value, "a feature left out is null")

	// Export and statistics: WithFeatures.
	var cols []string
	_, err = c.Export(ctx, "train", "user_stats", func(rec arrow.Record) error {
		for _, f := range rec.Schema().Fields() {
			cols = append(cols, f.Name)
		}
		return nil
	}, client.WithFeatures("spend"))
	require.NoError(t, err)
	require.Equal(t, "spend", cols[len(cols)-1])
	require.NotContains(t, cols, "clicks")
	st, err := c.GetStatistics(ctx, "train", "user_stats", client.WithFeatures("country"))
	require.NoError(t, err)
	require.Len(t, st.GetFeatures(), 1)
	require.Equal(t, "country", st.GetFeatures()[0].GetFeature())
	cmp, err := c.CompareStatistics(ctx, "user_stats", "train", "train", client.WithFeatures("clicks"))
	require.NoError(t, err)
	require.Len(t, cmp.GetCurrent().GetFeatures(), 1)

	// GetHistorical: WithTimestampColumn, WithFullFeatureNames, WithDatasetID, WithProgress.
	schema := arrow.NewSchema([]arrow.Field{{Name: "user_id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "when", Type: arrow.FixedWidthTypes.Timestamp_ns}}, nil)
	spine := func() array.RecordReader {
		b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
		b.Field(0).(*array.Int64Builder).Append(8)
		b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(day.Add(3 * time.Hour).UnixNano()))
		rdr, err := array.NewRecordReader(schema, []arrow.Record{b.NewRecord()})
		require.NoError(t, err)
		return rdr
	}
	var names []string
	var progress []client.Progress
	sum, err := c.GetHistorical(ctx, "train", []string{"user_stats:clicks"}, spine(), func(rec arrow.Record) error {
		for _, f := range rec.Schema().Fields() {
			names = append(names, f.Name)
		}
		return nil
	}, client.WithTimestampColumn("when"), client.WithFullFeatureNames(), client.WithProgress(func(p client.Progress) { progress = append(progress, p) }))
	require.NoError(t, err)
	require.Equal(t, []string{"user_id", "when", "user_stats__clicks"}, names)
	require.NotEmpty(t, progress)
	_, err = c.Write(ctx, "user_stats", []client.Row{{Key: []any{8}, EventTime: day.Add(time.Hour), AvailableAt: day.Add(time.Hour),
		Values: []any{100, 1.0, "DE", true}}}, client.Backfill())
	require.NoError(t, err)
	var clicks int64
	reread, err := c.GetHistorical(ctx, "", nil, spine(), func(rec arrow.Record) error {
		clicks = rec.Column(2).(*array.Int64).Value(0)
		return nil
	}, client.WithTimestampColumn("when"), client.WithDatasetID(sum.DatasetID))
	require.NoError(t, err)
	require.Equal(t, int64(1), clicks, "the dataset re-reads as it was, not with the later backfill")
	require.Equal(t, sum.Checksum, reread.Checksum)

	// CreateSplit: WithDescription.
	_, err = c.CreateSplit(ctx, "described", day, day.Add(time.Hour), client.WithDescription("one hour"))
	require.NoError(t, err)
	sp, err := c.GetSplit(ctx, "described")
	require.NoError(t, err)
	require.Equal(t, "one hour", sp.GetDescription())

	// WithDeadline: a deadline in the past ends any call.
	_, err = c.ListEntities(ctx, client.WithDeadline(time.Now().Add(-time.Second)))
	require.ErrorIs(t, err, client.ErrDeadlineExceeded)
	_, err = c.Export(ctx, "train", "user_stats", discard, client.WithDeadline(time.Now().Add(-time.Second)))
	require.ErrorIs(t, err, client.ErrDeadlineExceeded)

	// An option that does not apply is refused before anything is sent.
	before0, err := c.GetHistoryStatus(ctx)
	require.NoError(t, err)
	for name, call := range map[string]func() error{
		"WithBatchID does not apply to GetOnline": func() error {
			_, err := c.GetOnline(ctx, []string{"user_stats"}, []string{"user_id"}, [][]any{{1}}, client.WithBatchID("x"))
			return err
		},
		"AsOf does not apply to Write": func() error {
			_, err := c.Write(ctx, "user_stats", []client.Row{{Key: []any{1}, EventTime: day, Values: []any{1, 1.0, "DE", true}}}, client.AsOf(day))
			return err
		},
		"WithDescription does not apply to GetSplit": func() error {
			_, err := c.GetSplit(ctx, "train", client.WithDescription("x"))
			return err
		},
		"WithFeatures does not apply to WriteTable": func() error {
			_, err := c.WriteTable(ctx, "user_stats", historyTable(), client.WithFeatures("clicks"))
			return err
		},
	} {
		err := call()
		require.ErrorIs(t, err, client.ErrInvalidArgument, name)
		require.Contains(t, err.Error(), "option "+name, name)
	}
	after0, err := c.GetHistoryStatus(ctx)
	require.NoError(t, err)
	require.Equal(t, fmt.Sprint(before0), fmt.Sprint(after0), "nothing was written")
}

// TestEveryMethodHasAnExample: each exported method of Client has an
// Example function, and so runs against a real server in the examples.
func TestEveryMethodHasAnExample(t *testing.T) {
	examples := map[string]bool{}
	files, err := filepath.Glob("*_test.go")
	require.NoError(t, err)
	for _, file := range files {
		f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
		require.NoError(t, err)
		for _, d := range f.Decls {
			if fn, ok := d.(*ast.FuncDecl); ok && strings.HasPrefix(fn.Name.Name, "ExampleClient_") {
				method, _, _ := strings.Cut(strings.TrimPrefix(fn.Name.Name, "ExampleClient_"), "_")
				examples[method] = true
			}
		}
	}
	ct := reflect.TypeOf(&client.Client{})
	require.Positive(t, ct.NumMethod())
	for i := range ct.NumMethod() {
		m := ct.Method(i).Name
		require.True(t, examples[m], "client.Client.%s has no Example function (ExampleClient_%s)", m, m)
	}
}
