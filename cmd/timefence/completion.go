package main

import (
	"context"
	"strings"
	"time"

	"github.com/spf13/cobra"

	timefencev1 "github.com/timefence/timefence/api/timefence/v1"
)

// completionTimeout bounds how long a shell completion waits for the server.
const completionTimeout = 2 * time.Second

// completer lists candidate names from a running server.
type completer func(ctx context.Context, s *session) ([]string, error)

// completeFlags completes the named flags of cmd from the server that its
// connection flags name. A list flag (--features a,b) completes its last item.
func completeFlags(cmd *cobra.Command, conn *connFlags, byFlag map[string]completer) {
	for name, c := range byFlag {
		_ = cmd.RegisterFlagCompletionFunc(name, func(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			return fromServer(cmd, conn, c, toComplete)
		})
	}
}

// completeViewThenFile completes a VIEW FILE pair of arguments.
func completeViewThenFile(conn *connFlags) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		switch len(args) {
		case 0:
			return fromServer(cmd, conn, viewNames, toComplete)
		case 1:
			return nil, cobra.ShellCompDirectiveDefault
		}
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
}

// fromServer asks the server for names and keeps those that complete
// toComplete's last comma-separated item. No server, no completions.
func fromServer(cmd *cobra.Command, conn *connFlags, c completer, toComplete string) ([]string, cobra.ShellCompDirective) {
	ctx, cancel := context.WithTimeout(cmd.Context(), completionTimeout)
	defer cancel()
	s, err := conn.dial(ctx)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveError
	}
	defer s.Close()
	names, err := c(ctx, s)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveError
	}
	head, last := "", toComplete
	if i := strings.LastIndex(toComplete, ","); i >= 0 {
		head, last = toComplete[:i+1], toComplete[i+1:]
	}
	var out []string
	for _, n := range names {
		if strings.HasPrefix(n, last) {
			out = append(out, head+n)
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

func viewNames(ctx context.Context, s *session) ([]string, error) {
	views, err := s.views(ctx)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(views))
	for i, v := range views {
		names[i] = v.GetName()
	}
	return names, nil
}

func splitNames(ctx context.Context, s *session) ([]string, error) {
	splits, err := s.ListSplits(ctx)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, sp := range splits {
		names = append(names, sp.GetName())
	}
	return names, nil
}

// featureRefs lists every view and every view:feature reference.
func featureRefs(ctx context.Context, s *session) ([]string, error) {
	views, err := s.views(ctx)
	if err != nil {
		return nil, err
	}
	var refs []string
	for _, v := range views {
		refs = append(refs, v.GetName())
		for _, f := range v.GetFeatures() {
			refs = append(refs, v.GetName()+":"+f.GetName())
		}
	}
	return refs, nil
}

// featuresOfView lists the features of the view named by the --view flag.
func featuresOfView(view *string) completer {
	return func(ctx context.Context, s *session) ([]string, error) {
		views, err := s.views(ctx)
		if err != nil {
			return nil, err
		}
		var names []string
		for _, v := range views {
			if v.GetName() != *view {
				continue
			}
			for _, f := range v.GetFeatures() {
				names = append(names, f.GetName())
			}
		}
		return names, nil
	}
}

func (s *session) views(ctx context.Context) ([]*timefencev1.FeatureView, error) {
	return s.ListFeatureViews(ctx)
}
