package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Version is the server and CLI version, set at build time with
// -ldflags "-X main.Version=...".
var Version = "0.1.0-dev"

// defaultAddr is the address the server listens on and the CLI dials.
const defaultAddr = "localhost:7070"

// run runs the command line args, writing to stdout and stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	root := rootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	return root.ExecuteContext(ctx)
}

// rootCmd builds the command tree.
func rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "timefence",
		Short: "timefence is a leakage-safe, time-travel feature store.",
		Long: `timefence is a leakage-safe, time-travel feature store.

Commands that talk to a server take --addr (env TIMEFENCE_ADDR, default ` + defaultAddr + `).`,
		Version:       Version,
		SilenceErrors: true,
		SilenceUsage:  true,
		// A bare call is a usage error.
		RunE: func(cmd *cobra.Command, args []string) error {
			cmd.SetOut(cmd.ErrOrStderr())
			_ = cmd.Usage()
			return &usageErr{msg: "expected a command"}
		},
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return &usageErr{msg: fmt.Sprintf("unknown command %q; run 'timefence --help' for the list", args[0])}
			}
			return nil
		},
	}
	root.SetVersionTemplate("timefence {{.Version}}\n")
	root.SetUsageTemplate(strings.Replace(root.UsageTemplate(), flagsSection, flagsSections, 1))
	root.SetFlagErrorFunc(flagError)
	root.AddGroup(&cobra.Group{ID: "server", Title: "Serving:"},
		&cobra.Group{ID: "data", Title: "Definitions and data:"},
		&cobra.Group{ID: "read", Title: "Reading:"},
		&cobra.Group{ID: "ops", Title: "Operations:"})
	add := func(group string, cmds ...*cobra.Command) {
		for _, c := range cmds {
			c.GroupID = group
			root.AddCommand(c)
		}
	}
	add("server", serveCmd(), quickstartCmd())
	add("data", applyCmd(), writeCmd(), deleteCmd(), splitCmd(), schemaCmd(), importCmd())
	add("read", joinCmd(), exportCmd(), getCmd(), statsCmd(), skewCmd(), validateCmd(), servedCmd(), sandboxCmd())
	add("ops", statusCmd(), backupCmd(), restoreCmd(), verifyCmd(), promoteCmd(), tokenCmd())
	add("ops", versionCmd())
	root.SetHelpCommandGroupID("ops")
	root.SetCompletionCommandGroupID("ops")
	return root
}

// The usage template lists a command's connection flags apart from its own.
const (
	flagsSection  = "Flags:\n{{.LocalFlags.FlagUsages | trimTrailingWhitespaces}}{{end}}"
	flagsSections = "Flags:\n{{flagUsages .LocalFlags false | trimTrailingWhitespaces}}{{if hasConnectionFlags .LocalFlags}}\n\n" +
		"Connection flags:\n{{flagUsages .LocalFlags true | trimTrailingWhitespaces}}{{end}}{{end}}"
	// connectionAnnotation marks the flags connectionFlags adds.
	connectionAnnotation = "timefence_connection"
)

func init() {
	cobra.AddTemplateFunc("flagUsages", func(fs *pflag.FlagSet, connection bool) string {
		sub := pflag.NewFlagSet("", pflag.ContinueOnError)
		fs.VisitAll(func(f *pflag.Flag) {
			if _, ok := f.Annotations[connectionAnnotation]; ok == connection {
				sub.AddFlag(f)
			}
		})
		return sub.FlagUsages()
	})
	cobra.AddTemplateFunc("hasConnectionFlags", func(fs *pflag.FlagSet) bool {
		return fs.Lookup("token") != nil && fs.Lookup("token").Annotations[connectionAnnotation] != nil
	})
}

// verb returns a command with its help text: use is its synopsis, long says
// what it does, and examples are shown under Examples.
func verb(use, short, long string, examples ...string) *cobra.Command {
	return &cobra.Command{
		Use:     use,
		Short:   short,
		Long:    strings.TrimSpace(long),
		Example: "  " + strings.Join(examples, "\n  "),
	}
}

func versionCmd() *cobra.Command {
	cmd := verb("version", "print the version", "Prints the version of this timefence binary.", "timefence version")
	cmd.Args = noArgs
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		fmt.Fprintln(cmd.OutOrStdout(), "timefence", Version)
		return nil
	}
	return cmd
}

// usageErr is a misused command: main exits with status 2 for it.
type usageErr struct{ msg string }

func (e *usageErr) Error() string { return e.msg }

// usageError reports a misused command in one sentence.
func usageError(name, format string, args ...any) error {
	return &usageErr{msg: fmt.Sprintf("%s: %s; run 'timefence %s --help' for help", name, fmt.Sprintf(format, args...), name)}
}

// flagError turns a flag parsing error into a usage error naming the command.
func flagError(cmd *cobra.Command, err error) error {
	name := strings.TrimPrefix(cmd.CommandPath(), "timefence ")
	return usageError(name, "%v", err)
}

// exitCode is the process status for err: 0, 2 for a usage error, else 1.
func exitCode(err error) int {
	var u *usageErr
	switch {
	case err == nil:
		return 0
	case errors.As(err, &u):
		return 2
	}
	return 1
}

// noArgs refuses positional arguments.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError(strings.TrimPrefix(cmd.CommandPath(), "timefence "), "unexpected argument %q", args[0])
	}
	return nil
}

// exactArgs refuses any number of positional arguments but n, saying what
// was expected.
func exactArgs(n int, expected string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError(strings.TrimPrefix(cmd.CommandPath(), "timefence "), "%s", expected)
		}
		return nil
	}
}

// defaultDataDir is $TIMEFENCE_DATA, else $XDG_DATA_HOME/timefence, else
// ~/.local/share/timefence.
func defaultDataDir() string {
	if d := os.Getenv("TIMEFENCE_DATA"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "timefence")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "timefence")
	}
	return "timefence-data"
}

func envOr(name, def string) string {
	if v := strings.TrimSpace(os.Getenv(name)); v != "" {
		return v
	}
	return def
}

// listFlag collects values given as a comma-separated list, repeatedly, or both.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Type() string { return "list" }

func (l *listFlag) Set(s string) error {
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			*l = append(*l, part)
		}
	}
	return nil
}

// repeatedFlag collects each value given, unsplit.
type repeatedFlag []string

func (r *repeatedFlag) String() string { return strings.Join(*r, " ") }

func (r *repeatedFlag) Type() string { return "name=value" }

func (r *repeatedFlag) Set(s string) error { *r = append(*r, s); return nil }

var (
	_ pflag.Value = (*listFlag)(nil)
	_ pflag.Value = (*repeatedFlag)(nil)
	_ pflag.Value = (*sizeFlag)(nil)
)
