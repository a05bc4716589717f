package main

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
	"github.com/timefence/timefence/client"
	"github.com/timefence/timefence/definitions"
)

func deleteCmd() *cobra.Command {
	cmd := verb("delete [flags] VIEW --key NAME=VALUE [--key ...]", "delete entities from a feature view as of a time",
		`Deletes entities from a feature view: writes, in one atomic batch, a
tombstone for each --key at --event-time (default now). From that time on
the key reads as not found, online and in joins; reads at earlier times,
and exports, still see its history. A later write of the key makes it
present again. Each --key names one entity, by all of its join keys;
composite keys join their parts with commas.

The tombstones are live writes, available from their commit, like rows
written with 'timefence write'. To load deletions that production saw in
the past, write a file with a "deleted" column with 'timefence write
--backfill'.`,
		"timefence delete user_stats --key user_id=1",
		"timefence delete user_stats --key user_id=1 --key user_id=2 --event-time 2024-06-01T00:00:00Z",
		"timefence delete store_sales --key store_id=7,region=eu --batch-id close-store-7")
	cmd.Args = exactArgs(1, "expected a feature view")
	conn := connectionFlags(cmd)
	fs := cmd.Flags()
	var keys repeatedFlag
	fs.Var(&keys, "key", "an entity `key` as name=value (name=value,name=value for composite keys); repeat for more entities")
	eventTime := fs.String("event-time", "", "when the entities stopped existing (RFC 3339; default now)")
	batchID := fs.String("batch-id", "", "idempotency key: deleting with the same batch id, keys and time again writes nothing twice")
	cmd.ValidArgsFunction = func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return fromServer(cmd, conn, viewNames, toComplete)
	}
	cmd.RunE = func(cmd *cobra.Command, pos []string) error {
		ctx, stdout := cmd.Context(), cmd.OutOrStdout()
		if len(keys) == 0 {
			return usageError("delete", "at least one --key is required")
		}
		at := time.Now()
		if *eventTime != "" {
			t, err := definitions.ParseTime(*eventTime)
			if err != nil {
				return fmt.Errorf("--event-time: %v", err)
			}
			at = t
		}
		names, raw, err := parseKeys(keys)
		if err != nil {
			return err
		}
		viewName := pos[0]
		s, err := conn.dial(ctx)
		if err != nil {
			return err
		}
		defer s.Close()
		_, entity, err := s.viewAndEntity(ctx, viewName)
		if err != nil {
			return err
		}
		order, err := entityKeyOrder(viewName, entity, names)
		if err != nil {
			return err
		}
		typed, err := typeKeys(names, raw, []*timefencev1.Entity{entity})
		if err != nil {
			return err
		}
		rows := make([]client.Row, len(typed))
		for i, k := range typed {
			rows[i] = client.Row{Key: make([]any, len(order)), EventTime: at, Delete: true}
			for j, o := range order {
				rows[i].Key[j] = k[o]
			}
		}
		cctx, cancel := call(ctx)
		defer cancel()
		res, err := s.Write(cctx, viewName, rows, client.WithBatchID(*batchID))
		if err != nil {
			return s.explain(err)
		}
		if res.Duplicate {
			fmt.Fprintf(stdout, "batch %q was already written; nothing was written again (%s, seq %d-%d)\n",
				*batchID, plural(res.Rows, "deletion"), res.FirstSeq, res.LastSeq)
			return nil
		}
		fmt.Fprintf(stdout, "deleted %s from %s as of %s in one batch (seq %d-%d, available from %s)\n",
			plural(res.Rows, "entity"), viewName, formatTime(at), res.FirstSeq, res.LastSeq, formatTime(res.CommitTime))
		return nil
	}
	return cmd
}

// entityKeyOrder maps the entity's join keys, in its order, to their
// position among the --key names, which must be exactly the entity's.
func entityKeyOrder(view string, entity *timefencev1.Entity, names []string) ([]int, error) {
	var want []string
	for _, k := range entity.GetJoinKeys() {
		want = append(want, k.GetName())
	}
	order := make([]int, len(want))
	for j, w := range want {
		if order[j] = slices.Index(names, w); order[j] < 0 || len(names) != len(want) {
			return nil, fmt.Errorf("--key %s: %s is keyed by %s (entity %s); name each of them, and only them",
				strings.Join(names, ","), view, strings.Join(want, ", "), entity.GetName())
		}
	}
	return order, nil
}
