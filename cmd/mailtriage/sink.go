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

func registerSink(kind string, run func(ctx context.Context, args []string) error) {
	sinks[kind] = run
}

func init() {
	register("sink", "Run one sink connector: sink postgres|clickhouse|slack", runSink)
}

func runSink(ctx context.Context, args []string) error {
	kinds := make([]string, 0, len(sinks))
	for kind := range sinks {
		kinds = append(kinds, kind)
	}
	sort.Strings(kinds)

	if len(args) == 0 {
		return fmt.Errorf("missing sink kind: run \"mailtriage sink KIND\" with KIND one of %s", strings.Join(kinds, ", "))
	}
	run, ok := sinks[args[0]]
	if !ok {
		return fmt.Errorf("unknown sink %q: use one of %s", args[0], strings.Join(kinds, ", "))
	}
	return run(ctx, args[1:])
}
