package e2e

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"mailtriage/processors"
	"mailtriage/processors/runner"
)

// Variables that make the test binary run as the processor subprocess of
// the fault tests. The "mailtriage process" command reads the shared
// inbound topic only, so the subprocess is this binary running
// TestFaultProcessorHelper on the test's own topics.
const (
	envFaultHelper    = "MAILTRIAGE_FAULT_HELPER"
	envFaultBrokers   = "MAILTRIAGE_FAULT_HELPER_BROKERS"
	envFaultInbound   = "MAILTRIAGE_FAULT_HELPER_INBOUND"
	envFaultChangelog = "MAILTRIAGE_FAULT_HELPER_CHANGELOG"
	envFaultThreads   = "MAILTRIAGE_FAULT_HELPER_THREADS"
	envFaultGroup     = "MAILTRIAGE_FAULT_HELPER_GROUP"
)

// TestFaultProcessorHelper is not a test: it is the processor subprocess
// of the fault tests, and it skips unless envFaultHelper is 1. It runs the
// exactly-once runner with the default chain and config/rules.yaml on the
// topics named by the MAILTRIAGE_FAULT_HELPER_* variables until SIGTERM.
func TestFaultProcessorHelper(t *testing.T) {
	if os.Getenv(envFaultHelper) != "1" {
		t.Skip("runs only as the processor subprocess of the fault tests")
	}
	rules, err := processors.LoadRules(filepath.Join(repoRoot, "config", "rules.yaml"))
	if err != nil {
		t.Fatalf("loading the rules: %v", err)
	}
	chain, err := processors.DefaultChain(processors.ChainConfig{Rules: rules})
	if err != nil {
		t.Fatalf("building the chain: %v", err)
	}

	group := os.Getenv(envFaultGroup)
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})).With("component", "processor")
	r, err := runner.New(runner.Config{
		Brokers:         strings.Split(os.Getenv(envFaultBrokers), ","),
		Group:           group,
		TransactionalID: group + "-txn",
		InputTopic:      os.Getenv(envFaultInbound),
		ChangelogTopic:  os.Getenv(envFaultChangelog),
		GlobalTopic:     os.Getenv(envFaultThreads),
		Chain:           chain,
		Outputs:         processors.Outputs,
		Logger:          logger,
		RestoreTimeout:  2 * time.Minute,
	})
	if err != nil {
		t.Fatalf("creating the runner: %v", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	err = r.Run(ctx)
	r.Close()
	if err != nil {
		t.Fatalf("the runner stopped: %v", err)
	}
}

// startFaultProcessor starts this test binary as the processor subprocess
// on the topics of run.
func startFaultProcessor(t *testing.T, run *faultRun, name string) *processRun {
	t.Helper()
	t.Setenv(envFaultHelper, "1")
	t.Setenv(envFaultBrokers, strings.Join(run.brokers, ","))
	t.Setenv(envFaultInbound, run.topics.inbound)
	t.Setenv(envFaultChangelog, run.topics.changelog)
	t.Setenv(envFaultThreads, run.topics.threads)
	t.Setenv(envFaultGroup, run.group)
	p := startProcess(t, name, os.Args[0], "-test.run=^TestFaultProcessorHelper$", "-test.timeout=0")
	// The subprocess has its copy of the environment, and this process
	// must not pass the helper switch on to the sink subprocesses.
	_ = os.Unsetenv(envFaultHelper)
	return p
}
