package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
)

// TestBadRegistryAndDatasetRequests sends malformed requests to every
// registry and dataset RPC: each gets a clear canonical error, the
// definitions are unchanged, and the server stays up.
func TestBadRegistryAndDatasetRequests(t *testing.T) {
	env := startServer(t)
	env.defineUsers(t, 0)
	ctx := context.Background()
	reg, ds := timefencev1.NewRegistryServiceClient(env.client.Conn()), timefencev1.NewDatasetServiceClient(env.client.Conn())
	key := []*timefencev1.JoinKey{{Name: "id", Type: tInt64}}
	feat := []*timefencev1.Feature{{Name: "x", Type: tInt64}}
	now := timestamppb.Now()
	cases := []struct {
		name string
		call func() error
		code codes.Code
		msg  string
	}{
		{"entity missing", func() error { _, err := reg.ApplyEntity(ctx, &timefencev1.ApplyEntityRequest{}); return err },
			codes.InvalidArgument, "entity: missing"},
		{"entity bad name", func() error {
			_, err := reg.ApplyEntity(ctx, &timefencev1.ApplyEntityRequest{Entity: &timefencev1.Entity{Name: "no spaces", JoinKeys: key}})
			return err
		}, codes.InvalidArgument, `entity name "no spaces"`},
		{"entity without keys", func() error {
			_, err := reg.ApplyEntity(ctx, &timefencev1.ApplyEntityRequest{Entity: &timefencev1.Entity{Name: "e"}})
			return err
		}, codes.InvalidArgument, "at least one join key is required"},
		{"entity double key", func() error {
			_, err := reg.ApplyEntity(ctx, &timefencev1.ApplyEntityRequest{Entity: &timefencev1.Entity{Name: "e",
				JoinKeys: []*timefencev1.JoinKey{{Name: "k", Type: tDouble}}}})
			return err
		}, codes.InvalidArgument, `join key "k": type must be int64 or string, got double`},
		{"entity unspecified key type", func() error {
			_, err := reg.ApplyEntity(ctx, &timefencev1.ApplyEntityRequest{Entity: &timefencev1.Entity{Name: "e",
				JoinKeys: []*timefencev1.JoinKey{{Name: "k"}}}})
			return err
		}, codes.InvalidArgument, "entity.join_keys[0].type: unknown or unspecified type"},
		{"entity keys changed while used", func() error {
			_, err := reg.ApplyEntity(ctx, &timefencev1.ApplyEntityRequest{Entity: &timefencev1.Entity{Name: "user", JoinKeys: key}})
			return err
		}, codes.FailedPrecondition, `join keys cannot change while feature view "stats" uses it`},
		{"view unknown entity", func() error {
			_, err := reg.ApplyFeatureView(ctx, &timefencev1.ApplyFeatureViewRequest{FeatureView: &timefencev1.FeatureView{Name: "v", Entity: "ghost", Features: feat}})
			return err
		}, codes.NotFound, `unknown entity "ghost"`},
		{"view duplicate feature", func() error {
			_, err := reg.ApplyFeatureView(ctx, &timefencev1.ApplyFeatureViewRequest{FeatureView: &timefencev1.FeatureView{Name: "v", Entity: "user",
				Features: append(feat, feat...)}})
			return err
		}, codes.InvalidArgument, `feature "x" appears twice`},
		{"view no features", func() error {
			_, err := reg.ApplyFeatureView(ctx, &timefencev1.ApplyFeatureViewRequest{FeatureView: &timefencev1.FeatureView{Name: "v", Entity: "user"}})
			return err
		}, codes.InvalidArgument, "at least one feature is required"},
		{"view negative ttl", func() error {
			_, err := reg.ApplyFeatureView(ctx, &timefencev1.ApplyFeatureViewRequest{FeatureView: &timefencev1.FeatureView{Name: "v", Entity: "user",
				Features: feat, Ttl: durationpb.New(-time.Hour)}})
			return err
		}, codes.InvalidArgument, "ttl must not be negative"},
		{"view entity changed", func() error {
			_, err := reg.ApplyEntity(ctx, &timefencev1.ApplyEntityRequest{Entity: &timefencev1.Entity{Name: "other", JoinKeys: key}})
			require.NoError(t, err)
			_, err = reg.ApplyFeatureView(ctx, &timefencev1.ApplyFeatureViewRequest{FeatureView: &timefencev1.FeatureView{Name: "stats", Entity: "other",
				Features: []*timefencev1.Feature{{Name: "clicks", Type: tInt64}, {Name: "score", Type: tDouble}}}})
			return err
		}, codes.FailedPrecondition, `entity cannot change from "user" to "other"`},
		{"split without end", func() error {
			_, err := reg.CreateSplit(ctx, &timefencev1.CreateSplitRequest{Split: &timefencev1.Split{Name: "s"}})
			return err
		}, codes.InvalidArgument, "split.end: missing timestamp"},
		{"split backwards", func() error {
			_, err := reg.CreateSplit(ctx, &timefencev1.CreateSplitRequest{Split: &timefencev1.Split{Name: "s", Start: now,
				End: timestamppb.New(now.AsTime().Add(-time.Hour))}})
			return err
		}, codes.InvalidArgument, "start must be >= 1970-01-01 and <= end"},
		{"split before 1970", func() error {
			_, err := reg.CreateSplit(ctx, &timefencev1.CreateSplitRequest{Split: &timefencev1.Split{Name: "s",
				Start: timestamppb.New(time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC)), End: now}})
			return err
		}, codes.InvalidArgument, "start must be >= 1970-01-01"},
		{"get unknown view", func() error {
			_, err := reg.GetFeatureView(ctx, &timefencev1.GetFeatureViewRequest{Name: "nope"})
			return err
		}, codes.NotFound, `unknown feature view "nope"`},
		{"manifest without id", func() error { _, err := ds.GetManifest(ctx, &timefencev1.GetManifestRequest{}); return err },
			codes.InvalidArgument, "dataset_id: missing"},
		{"statistics without view", func() error {
			_, err := ds.GetStatistics(ctx, &timefencev1.GetStatisticsRequest{Split: "all"})
			return err
		}, codes.InvalidArgument, "feature_view: missing"},
		{"statistics unknown feature", func() error {
			_, err := ds.GetStatistics(ctx, &timefencev1.GetStatisticsRequest{Split: "all", FeatureView: "stats", Features: []string{"nope"}})
			return err
		}, codes.NotFound, `feature view "stats" has no feature "nope"`},
		{"online without rows", func() error {
			_, err := env.client.GetOnline(ctx, []string{"stats"}, []string{"user_id", "region"}, nil)
			return errorsUnwrapStatus(err)
		}, codes.InvalidArgument, "entity_rows: at least one entity row is required"},
		{"online without features", func() error {
			_, err := env.client.GetOnline(ctx, nil, []string{"user_id", "region"}, [][]any{{1, "eu"}})
			return errorsUnwrapStatus(err)
		}, codes.InvalidArgument, "features: name at least one feature"},
	}
	before, err := reg.ListFeatureViews(ctx, &timefencev1.ListFeatureViewsRequest{})
	require.NoError(t, err)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.call()
			require.Equal(t, c.code, codeOf(err), "%v", err)
			require.Contains(t, messageOf(err), c.msg)
		})
	}
	after, err := reg.ListFeatureViews(ctx, &timefencev1.ListFeatureViewsRequest{})
	require.NoError(t, err)
	require.True(t, proto.Equal(before, after), "refused definitions changed nothing")
	splits, err := reg.ListSplits(ctx, &timefencev1.ListSplitsRequest{})
	require.NoError(t, err)
	require.Len(t, splits.GetSplits(), 1, "only the split defineUsers created")
}
