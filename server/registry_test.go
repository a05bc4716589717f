package server_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
)

// TestApplyDefinitions: the plan of a file and of messages, with locations
// and the definitions as they would stand; a refused set applies nothing;
// malformed requests are refused whole.
func TestApplyDefinitions(t *testing.T) {
	env := startServer(t)
	env.defineUsers(t, 0)
	ctx := context.Background()
	reg := timefencev1.NewRegistryServiceClient(env.client.Conn())
	file := `entities:
  - name: shop
    join_keys: [{name: shop_id, type: string}]
feature_views:
  - name: sales
    entity: shop
    ttl: 1d
    features: [{name: revenue, type: double}]
splits:
  - {name: all, start: 1970-01-01T00:00:00Z, end: 2100-01-01T00:00:00Z}
`
	resp, err := reg.ApplyDefinitions(ctx, &timefencev1.ApplyDefinitionsRequest{Yaml: file, FileName: "shops.yaml", DryRun: true})
	require.NoError(t, err)
	require.False(t, resp.GetApplied())
	require.Len(t, resp.GetChanges(), 3)
	want := []struct{ kind, name, action, location string }{
		{"entity", "shop", "create", "shops.yaml:2"},
		{"feature_view", "sales", "create", "shops.yaml:5"},
		{"split", "all", "refused", "shops.yaml:10"},
	}
	for i, w := range want {
		c := resp.GetChanges()[i]
		require.Equal(t, w.kind, c.GetKind(), i)
		require.Equal(t, w.name, c.GetName(), i)
		require.Equal(t, w.action, c.GetAction(), i)
		require.Equal(t, w.location, c.GetLocation(), i)
	}
	require.Equal(t, "sales", resp.GetChanges()[1].GetFeatureView().GetName())
	require.Equal(t, int64(86400), resp.GetChanges()[1].GetFeatureView().GetTtl().GetSeconds())
	require.Equal(t, "SPLIT_EXISTS", resp.GetChanges()[2].GetReason())
	require.Contains(t, resp.GetChanges()[2].GetProblem(), "splits are immutable")

	_, err = reg.ApplyDefinitions(ctx, &timefencev1.ApplyDefinitionsRequest{Yaml: file, FileName: "shops.yaml"})
	requireReason(t, err, codes.AlreadyExists, "SPLIT_EXISTS", "shops.yaml:10: ")
	require.Contains(t, messageOf(err), "nothing was applied")
	_, err = env.store.Entity("shop")
	require.Error(t, err, "nothing of a refused file is applied")

	// Without the refused split, the file applies; as messages, the same.
	file = strings.Split(file, "splits:")[0]
	resp, err = reg.ApplyDefinitions(ctx, &timefencev1.ApplyDefinitionsRequest{Yaml: file})
	require.NoError(t, err)
	require.True(t, resp.GetApplied())
	require.Equal(t, "definitions:2", resp.GetChanges()[0].GetLocation())
	view, err := env.client.GetFeatureView(ctx, "sales")
	require.NoError(t, err)
	view.Description = "revenue of a shop"
	resp, err = reg.ApplyDefinitions(ctx, &timefencev1.ApplyDefinitionsRequest{FeatureViews: []*timefencev1.FeatureView{view}})
	require.NoError(t, err)
	require.Equal(t, "update", resp.GetChanges()[0].GetAction())
	require.Equal(t, "feature_views[0]", resp.GetChanges()[0].GetLocation())
	require.Equal(t, int64(2), resp.GetChanges()[0].GetVersion())

	// Malformed requests.
	for _, c := range []struct {
		req *timefencev1.ApplyDefinitionsRequest
		msg string
	}{
		{&timefencev1.ApplyDefinitionsRequest{Yaml: file, Entities: []*timefencev1.Entity{{Name: "x"}}}, "send one or the other"},
		{&timefencev1.ApplyDefinitionsRequest{Yaml: "entities: [", FileName: "bad.yaml"}, "bad.yaml"},
		{&timefencev1.ApplyDefinitionsRequest{Yaml: strings.Repeat("#", 5<<20)}, "at most 4194304 are accepted"},
		{&timefencev1.ApplyDefinitionsRequest{FeatureViews: []*timefencev1.FeatureView{{Name: "v", Entity: "shop",
			Features: []*timefencev1.Feature{{Name: "f"}}}}}, "feature_views[0]: "},
	} {
		_, err := reg.ApplyDefinitions(ctx, c.req)
		requireReason(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", c.msg)
	}
}
