package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

// verbFlags returns the flag set of a command whose -h prints its synopsis,
// what it does, its flags and examples.
func verbFlags(name, synopsis, about string, examples []string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: timefence %s\n\n%s\n", synopsis, strings.TrimSpace(about))
		printFlags(stderr, fs, "\nFlags:", func(name string) bool { return !connectionFlag[name] })
		printFlags(stderr, fs, "\nConnection flags:", func(name string) bool { return connectionFlag[name] })
		if len(examples) > 0 {
			fmt.Fprintln(stderr, "\nExamples:")
			for _, e := range examples {
				fmt.Fprintln(stderr, "  "+e)
			}
		}
	}
	return fs
}

// connectionFlag names the flags that connectionFlags adds.
var connectionFlag = map[string]bool{"addr": true, "token": true, "tls": true, "tls-ca": true, "tls-cert": true, "tls-key": true}

// printFlags prints, under title, the flags that keep selects, as
// flag.PrintDefaults does.
func printFlags(w io.Writer, fs *flag.FlagSet, title string, keep func(name string) bool) {
	first := true
	fs.VisitAll(func(f *flag.Flag) {
		if !keep(f.Name) {
			return
		}
		if first {
			fmt.Fprintln(w, title)
			first = false
		}
		name, usage := flag.UnquoteUsage(f)
		line := "  -" + f.Name
		if name != "" {
			line += " " + name
		}
		line += "\n    \t" + strings.ReplaceAll(usage, "\n", "\n    \t")
		if f.DefValue != "" && f.DefValue != "false" {
			line += fmt.Sprintf(" (default %q)", f.DefValue)
		}
		fmt.Fprintln(w, line)
	})
}

// parseArgs parses flags placed anywhere among args (flags may follow the
// positional arguments) and returns the positional ones. After "--" every
// argument is positional.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
}

// usageError reports a misused command in one sentence.
func usageError(name, format string, args ...any) error {
	return fmt.Errorf("%s: %s; run 'timefence %s -h' for help", name, fmt.Sprintf(format, args...), name)
}

// listFlag collects values given as a comma-separated list, repeatedly, or both.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

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

func (r *repeatedFlag) Set(s string) error { *r = append(*r, s); return nil }
