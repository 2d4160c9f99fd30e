package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// Processor kills of TestFaultProcessorKill.
const faultProcessorKills = 3

// TestFaultProcessorKill kills the processor subprocess with SIGKILL at
// faultProcessorKills random points of the run and restarts it each time,
// with the PostgreSQL, ClickHouse and Slack sinks running downstream.
func TestFaultProcessorKill(t *testing.T) {
	run := newFaultRun(t, "proc")
	ctx := run.context(t)
	slack := newSlackCapture(t)
	run.startSinks(ctx, t, slack.srv.URL+"/services/T000/B000/fault")
	run.produce(ctx, t)

	rng := faultRand(t)
	shares := make([]float64, faultProcessorKills)
	for i := range shares {
		shares[i] = 0.05 + 0.85*rng.Float64()
	}
	slices.Sort(shares)
	proc := startFaultProcessor(t, run, "processor 1")
	for i, share := range shares {
		run.waitProcessed(ctx, t, share, proc)
		// The processor commits in steps, so the share is reached right
		// after a commit. A random pause moves the kill into the next
		// transaction.
		time.Sleep(time.Duration(rng.IntN(2000)) * time.Millisecond)
		proc.kill(t)
		sum, _, err := run.processed(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("kill %d: SIGKILL with %d of %d inputs committed", i+1, sum, run.n)
		proc = startFaultProcessor(t, run, fmt.Sprintf("processor %d", i+2))
	}
	run.waitAllProcessed(ctx, t, &proc)
	run.check(ctx, t, slack.bodies)
	proc.stop(t)
}

// TestFaultKafkaKill kills the broker with SIGKILL through the stack
// script at a random point of the run and starts it again a few seconds
// later. The processor subprocess and the sinks must survive it. A
// processor that exits during the outage is restarted, as a supervisor
// would restart it.
func TestFaultKafkaKill(t *testing.T) {
	run := newFaultRun(t, "kafka")
	ctx := run.context(t)
	slack := newSlackCapture(t)
	run.startSinks(ctx, t, slack.srv.URL+"/services/T000/B000/fault")
	run.produce(ctx, t)

	rng := faultRand(t)
	proc := startFaultProcessor(t, run, "processor 1")
	run.waitProcessed(ctx, t, 0.2+0.5*rng.Float64(), proc)
	startAgain := stopService(t, "kill", "kafka")
	down := time.Duration(2+rng.IntN(8)) * time.Second
	t.Logf("broker killed; starting it again in %v", down)
	time.Sleep(down)
	startAgain()
	run.waitAllProcessed(ctx, t, &proc)
	run.check(ctx, t, slack.bodies)
	proc.stop(t)
}

// TestFaultDatabaseRestart stops PostgreSQL at a random point of the run
// and ClickHouse at a later one, each for a few seconds, through the
// stack script.
func TestFaultDatabaseRestart(t *testing.T) {
	run := newFaultRun(t, "db")
	ctx := run.context(t)
	slack := newSlackCapture(t)
	run.startSinks(ctx, t, slack.srv.URL+"/services/T000/B000/fault")
	run.produce(ctx, t)

	rng := faultRand(t)
	proc := startFaultProcessor(t, run, "processor 1")
	first := 0.1 + 0.3*rng.Float64()
	for i, service := range []string{"postgres", "clickhouse"} {
		run.waitProcessed(ctx, t, first+0.4*float64(i), proc)
		startAgain := stopService(t, "stop", service)
		down := time.Duration(2+rng.IntN(8)) * time.Second
		t.Logf("%s stopped; starting it again in %v", service, down)
		time.Sleep(down)
		startAgain()
	}
	run.waitAllProcessed(ctx, t, &proc)
	run.check(ctx, t, slack.bodies)
	proc.stop(t)
}

// faultRand returns a random source seeded from MAILTRIAGE_CRASH_SEED or
// the clock, and logs the seed so that a run can be repeated.
func faultRand(t *testing.T) *rand.Rand {
	seed := crashSeed(t)
	t.Logf("fault seed %d (set %s=%d to repeat)", seed, envCrashSeed, seed)
	return rand.New(rand.NewPCG(uint64(seed), 0))
}

// waitAllProcessed waits until the processor group committed every input.
// When the processor exits on its own it is started again, as a
// supervisor would, and the restart is logged.
func (run *faultRun) waitAllProcessed(ctx context.Context, t *testing.T, proc **processRun) {
	t.Helper()
	restarts := 0
	waitFor(ctx, t, "the processor to commit every input", func() (bool, string) {
		if done, err := (*proc).exited(); done {
			restarts++
			t.Logf("%s exited on its own (%v); restart %d", (*proc).name, err, restarts)
			*proc = startFaultProcessor(t, run, fmt.Sprintf("processor restart %d", restarts))
		}
		sum, done, err := run.processed(ctx)
		if err != nil {
			return false, err.Error()
		}
		return done, fmt.Sprintf("%d of %d inputs committed", sum, run.n)
	})
}
