package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// sinks maps each "mailtriage sink KIND" to its runner. Each sink registers
// itself from its own file with registerSink.
var sinks = map[string]func(ctx context.Context, args []string) error{}

// sinkCommand is the name of the subcommand that dispatches to sinks.
const sinkCommand = "sink"

// registerSink adds a sink kind and refreshes the summary of the sink
// command, so that "mailtriage help" lists every kind whatever the order
// in which the files' init functions run.
func registerSink(kind string, run func(ctx context.Context, args []string) error) {
	sinks[kind] = run
	if cmd, ok := commands[sinkCommand]; ok {
		cmd.summary = sinkSummary()
		commands[sinkCommand] = cmd
	}
}

func init() {
	register(sinkCommand, sinkSummary(), runSink)
}

// sinkKinds returns the registered sink kinds in alphabetical order.
func sinkKinds() []string {
	kinds := make([]string, 0, len(sinks))
	for kind := range sinks {
		kinds = append(kinds, kind)
	}
	sort.Strings(kinds)
	return kinds
}

// sinkSummary returns the help line of the sink command, built from the
// sinks registered so far.
func sinkSummary() string {
	return "Run one sink connector: sink " + strings.Join(sinkKinds(), "|")
}

func runSink(ctx context.Context, args []string) error {
	kinds := sinkKinds()
	if len(args) == 0 {
		return fmt.Errorf("missing sink kind: run \"mailtriage sink KIND\" with KIND one of %s", strings.Join(kinds, ", "))
	}
	run, ok := sinks[args[0]]
	if !ok {
		return fmt.Errorf("unknown sink %q: use one of %s", args[0], strings.Join(kinds, ", "))
	}
	return run(ctx, args[1:])
}
