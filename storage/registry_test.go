package storage

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// registryState is the registry as text, to compare before and after.
func registryState(st *Store) string {
	out := ""
	for _, e := range st.Entities() {
		out += fmt.Sprintf("entity %s v%d %v %q\n", e.Name, e.Version, e.JoinKeys, e.Description)
	}
	for _, v := range st.Views() {
		out += fmt.Sprintf("view %s v%d id%d %v %v\n", v.Name, v.Version, v.ID, v.Features, v.TTL)
	}
	for _, sp := range st.Splits() {
		out += fmt.Sprintf("split %s %d %d\n", sp.Name, sp.Start, sp.End)
	}
	return out
}

// TestApplyDefinitionsIsAllOrNothing: a set of definitions with one refused
// applies nothing, before or after a restart; a dry run applies nothing and
// gives the same plan; the same set without the refusal applies whole, a
// view using an entity of the same set included.
func TestApplyDefinitionsIsAllOrNothing(t *testing.T) {
	dir := t.TempDir()
	st, err := Open(DefaultOptions(dir).WithSyncWrites(false))
	require.NoError(t, err)
	defineUser(t, st, 0)
	before := registryState(st)

	stats, err := st.View("stats")
	require.NoError(t, err)
	retyped := *stats
	retyped.Features = append([]Feature{}, stats.Features...)
	retyped.Features[0].Type = TypeString // refused: a type change
	defs := Definitions{
		Entities: []Entity{
			{Name: "merchant", JoinKeys: []JoinKey{{"merchant_id", TypeString}}},
			{Name: "user", JoinKeys: []JoinKey{{"user_id", TypeInt64}, {"region", TypeString}}, Description: "now described"},
		},
		Views: []View{
			{Name: "sales", Entity: "merchant", TTL: time.Hour, Features: []Feature{{Name: "revenue", Type: TypeFloat64}}},
			retyped,
			{Name: "orphan", Entity: "nobody", Features: []Feature{{Name: "x", Type: TypeInt64}}},
		},
		Splits: []Split{{Name: "train", Start: 0, End: 100}},
	}
	want := []struct {
		kind, name string
		action     Action
		version    int64
		err        error
	}{
		{"entity", "merchant", Create, 1, nil},
		{"entity", "user", Update, 2, nil},
		{"feature_view", "sales", Create, 1, nil},
		{"feature_view", "stats", Refused, 0, ErrSchemaMismatch},
		{"feature_view", "orphan", Refused, 0, ErrUnknownEntity},
		{"split", "train", Create, 0, nil},
	}
	check := func(plan []Change) {
		t.Helper()
		require.Len(t, plan, len(want))
		for i, w := range want {
			c := plan[i]
			require.Equal(t, w.kind, c.Kind, "change %d", i)
			require.Equal(t, w.name, c.Name, "change %d", i)
			require.Equal(t, w.action, c.Action, "change %d", i)
			require.Equal(t, w.version, c.Version, "change %d", i)
			if w.err != nil {
				require.ErrorIs(t, c.Err, w.err, "change %d", i)
			} else {
				require.NoError(t, c.Err, "change %d", i)
			}
		}
	}

	plan, err := st.ApplyDefinitions(defs, true)
	require.NoError(t, err, "a dry run reports refusals in its plan")
	check(plan)
	require.Equal(t, before, registryState(st), "a dry run applies nothing")

	plan, err = st.ApplyDefinitions(defs, false)
	require.ErrorIs(t, err, ErrSchemaMismatch, "the first refusal")
	check(plan)
	require.Equal(t, before, registryState(st), "a refused set applies nothing")
	require.NoError(t, st.Close())
	st, err = Open(DefaultOptions(dir).WithSyncWrites(false))
	require.NoError(t, err)
	defer func() { require.NoError(t, st.Close()) }()
	require.Equal(t, before, registryState(st), "nothing of a refused set was stored")

	// Without the refused views, the set applies whole, and again changes nothing.
	defs.Views = defs.Views[:1]
	plan, err = st.ApplyDefinitions(defs, false)
	require.NoError(t, err)
	require.Len(t, plan, 4)
	for _, c := range plan {
		require.NotEqual(t, Unchanged, c.Action, c.Name)
	}
	sales, err := st.View("sales")
	require.NoError(t, err)
	require.Equal(t, []JoinKey{{"merchant_id", TypeString}}, sales.JoinKeys)
	require.NotEqual(t, stats.ID, sales.ID)
	plan, err = st.ApplyDefinitions(defs, false)
	require.NoError(t, err)
	for _, c := range plan {
		require.Equal(t, Unchanged, c.Action, c.Name)
	}
	applied := registryState(st)
	require.NoError(t, st.Close())
	st, err = Open(DefaultOptions(dir).WithSyncWrites(false))
	require.NoError(t, err)
	require.Equal(t, applied, registryState(st), "the applied set survives a restart")
}

// TestReservedNames: no new join key or feature may take the name of a
// column that exports and bulk writes add.
func TestReservedNames(t *testing.T) {
	runStoreTest(t, func(st *Store, _ *fakeClock) {
		defineUser(t, st, 0)
		for _, name := range []string{"event_timestamp", "available_at", "deleted", "backfilled"} {
			_, _, err := st.ApplyView(View{Name: "v_" + name, Entity: "user", Features: []Feature{{Name: name, Type: TypeBool}}})
			require.ErrorIs(t, err, ErrInvalid, name)
			require.ErrorContains(t, err, "the name is reserved", name)
			_, _, err = st.ApplyEntity(Entity{Name: "e_" + name, JoinKeys: []JoinKey{{name, TypeInt64}}})
			require.ErrorIs(t, err, ErrInvalid, name)
		}
		_, _, err := st.ApplyView(View{Name: "ok", Entity: "user", Features: []Feature{{Name: "deleted_at", Type: TypeInt64}}})
		require.NoError(t, err)
	})
}
