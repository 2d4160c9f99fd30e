// Command mailtriage turns inbound support email into routed tickets. Each
// role of the topology is a subcommand; run "mailtriage help" for the list.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// command is one subcommand. Each lives in a file of its own and adds
// itself to commands with register.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string) error
}

var commands = map[string]command{}

func register(name, summary string, run func(ctx context.Context, args []string) error) {
	commands[name] = command{name: name, summary: summary, run: run}
}

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 0 {
		usage()
		return 2
	}
	if args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage()
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(os.Stderr, "mailtriage: unknown command %q; run \"mailtriage help\" for the list\n", args[0])
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if err := cmd.run(ctx, args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		var usage *usageError
		if errors.As(err, &usage) {
			// The flag package has already printed the error and the usage.
			return 2
		}
		fmt.Fprintf(os.Stderr, "mailtriage %s: %v\n", cmd.name, err)
		return 1
	}
	return 0
}

func usage() {
	fmt.Println("usage: mailtriage COMMAND [flags]")
	fmt.Println()
	fmt.Println("commands:")
	names := make([]string, 0, len(commands))
	for name := range commands {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Printf("  %-10s %s\n", name, commands[name].summary)
	}
	fmt.Println()
	fmt.Println(`Run "mailtriage COMMAND -h" for the flags of one command.`)
}

// usageError is a command-line error that the flag package has already
// reported on standard error.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }

func (e *usageError) Unwrap() error { return e.err }

// parseFlags parses args into fs. A parse error comes back as a
// *usageError, so that main exits with status 2 without printing it twice;
// -h comes back as flag.ErrHelp.
func parseFlags(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return err
	}
	return &usageError{err: err}
}
