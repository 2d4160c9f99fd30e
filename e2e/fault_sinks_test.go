package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"mailtriage/connectors/postgres"
	"mailtriage/connectors/slack"
	"mailtriage/topics"
)

// faultSink is one sink subprocess of TestFaultSinkKill.
type faultSink struct {
	name string
	args []string
	proc *processRun
	runs int
}

// start starts the sink from bin, counting the starts.
func (s *faultSink) start(t *testing.T, bin string) {
	t.Helper()
	s.runs++
	s.proc = startProcess(t, fmt.Sprintf("sink %s run %d", s.name, s.runs), bin, s.args...)
}

// TestFaultSinkKill runs the PostgreSQL, ClickHouse and Slack sinks as
// "mailtriage sink" subprocesses and kills each with SIGKILL once, at a
// random point of the run, then restarts it. No ticket, row or post may
// be lost or doubled.
func TestFaultSinkKill(t *testing.T) {
	run := newFaultRun(t, "sinks")
	ctx := run.context(t)
	bin := buildMailtriage(t)
	capture := newSlackCapture(t)
	sinks := prepareSinkProcesses(ctx, t, run, capture.srv.URL+"/services/T000/B000/fault")
	run.produce(ctx, t)

	rng := faultRand(t)
	for _, s := range sinks {
		s.start(t, bin)
	}
	type kill struct {
		share float64
		sink  *faultSink
	}
	var kills []kill
	for _, s := range sinks {
		kills = append(kills, kill{0.1 + 0.8*rng.Float64(), s})
	}
	slices.SortFunc(kills, func(a, b kill) int {
		switch {
		case a.share < b.share:
			return -1
		case a.share > b.share:
			return 1
		}
		return 0
	})
	proc := startFaultProcessor(t, run, "processor 1")
	for _, k := range kills {
		run.waitProcessed(ctx, t, k.share, proc)
		time.Sleep(time.Duration(rng.IntN(2000)) * time.Millisecond)
		if done, err := k.sink.proc.exited(); done {
			t.Fatalf("%s exited on its own before its kill: %v", k.sink.proc.name, err)
		}
		k.sink.proc.kill(t)
		t.Logf("SIGKILL of sink %s at %.0f%% of the inputs processed", k.sink.name, k.share*100)
		k.sink.start(t, bin)
	}
	run.waitAllProcessed(ctx, t, &proc)
	run.check(ctx, t, capture.bodies)
	for _, s := range sinks {
		s.proc.stop(t)
	}
	proc.stop(t)
}

// prepareSinkProcesses migrates the test schema, points each sink's
// group at the current end of its topic and returns the sink commands.
func prepareSinkProcesses(ctx context.Context, t *testing.T, run *faultRun, webhook string) []*faultSink {
	t.Helper()
	if _, err := postgres.Migrate(ctx, run.pool); err != nil {
		t.Fatalf("migrating the test schema: %v", err)
	}
	if err := slack.Migrate(ctx, run.pool, run.schema); err != nil {
		t.Fatalf("migrating the Slack ledger: %v", err)
	}
	next := map[int32]int64{}
	endOffsets(ctx, t, run.adm, topics.Tickets).Each(func(o kadm.ListedOffset) { next[o.Partition] = o.Offset })
	if err := postgres.SeedOffsets(ctx, run.pool, run.group+"-postgres", topics.Tickets, next); err != nil {
		t.Fatal(err)
	}
	seedGroup(ctx, t, run.adm, run.group+"-clickhouse", endOffsets(ctx, t, run.adm, topics.Analytics))
	seedGroup(ctx, t, run.adm, run.group+"-slack", endOffsets(ctx, t, run.adm, topics.Notifications))

	// The webhook goes in a file, as the sink's help advises, and only
	// for the test's tenant: the notifications of other tenants are
	// skipped.
	hooks := filepath.Join(t.TempDir(), "webhooks.yaml")
	if err := os.WriteFile(hooks, fmt.Appendf(nil, "tenants:\n  %q: %q\n", run.tenant, webhook), 0o600); err != nil {
		t.Fatal(err)
	}
	brokers := strings.Join(run.brokers, ",")
	return []*faultSink{
		{name: "postgres", args: []string{"sink", "postgres", "--brokers", brokers,
			"--postgres", run.dsn, "--group", run.group + "-postgres", "--log-level", "WARN"}},
		{name: "clickhouse", args: []string{"sink", "clickhouse", "--brokers", brokers,
			"--clickhouse", run.chAddr, "--database", run.chDB, "--table", run.chTable,
			"--group", run.group + "-clickhouse", "--log-level", "WARN"}},
		{name: "slack", args: []string{"sink", "slack", "--brokers", brokers,
			"--postgres", run.dsn, "--postgres-schema", run.schema, "--webhooks", hooks,
			"--group", run.group + "-slack", "--log-level", "WARN"}},
	}
}
