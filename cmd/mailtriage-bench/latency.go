package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"mailtriage/internal/benchreport"
)

// latencySettings are the flags of `mailtriage-bench latency`.
type latencySettings struct {
	binary        string
	rules         string
	rate          float64
	duration      time.Duration
	maxEmails     int
	workers       int
	poll          time.Duration
	warmupEmails  int
	warmupTimeout time.Duration
	drainTimeout  time.Duration
}

// runLatency measures end-to-end latency: it runs `mailtriage serve`,
// `process` and `sink postgres` as subprocesses against the stack in
// MAILTRIAGE_KAFKA_BROKERS and MAILTRIAGE_POSTGRES_DSN, sends signed JSON
// webhooks at a fixed rate and times each email from the gateway's
// receivedAt to its ticket_messages row. The processor and the sink use
// consumer groups of their own, seeded at the current end of their input
// topics, and the sink writes into a PostgreSQL schema of its own, dropped
// at the end. The topics are the topology's fixed ones, because the roles
// take no topic flags, so mail that other clients send meanwhile also goes
// through the processor and loads it.
func runLatency(args []string) error {
	fs := flag.NewFlagSet("latency", flag.ContinueOnError)
	var s latencySettings
	fs.StringVar(&s.binary, "mailtriage", "", "path of the built mailtriage binary (required)")
	fs.StringVar(&s.rules, "rules", "config/rules.yaml", "ruleset file that the processor loads")
	fs.Float64Var(&s.rate, "rate", 200, "emails per second to send")
	fs.DurationVar(&s.duration, "duration", 30*time.Second, "how long to send at --rate")
	fs.IntVar(&s.maxEmails, "max-emails", 120_000, "upper bound of the emails sent, whatever --rate and --duration give")
	fs.IntVar(&s.workers, "workers", 64, "maximum requests in flight")
	fs.DurationVar(&s.poll, "poll", 10*time.Millisecond, "interval at which ticket_messages is polled for new rows")
	fs.IntVar(&s.warmupEmails, "warmup-emails", 20, "emails sent and awaited before the timed load, so that every role is ready")
	fs.DurationVar(&s.warmupTimeout, "warmup-timeout", 3*time.Minute, "how long to wait for the warm-up emails")
	fs.DurationVar(&s.drainTimeout, "drain-timeout", 2*time.Minute, "how long to wait after the last request for the remaining rows")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case s.binary == "":
		return errors.New("--mailtriage is required: build it with `go build -o BIN ./cmd/mailtriage`")
	case s.rate <= 0 || s.duration <= 0:
		return fmt.Errorf("invalid --rate %g or --duration %s: both must be positive", s.rate, s.duration)
	case s.workers < 1 || s.maxEmails < 1 || s.poll <= 0:
		return errors.New("--workers, --max-emails and --poll must be positive")
	}
	brokers := os.Getenv("MAILTRIAGE_KAFKA_BROKERS")
	baseDSN := os.Getenv("MAILTRIAGE_POSTGRES_DSN")
	if brokers == "" || baseDSN == "" {
		return errors.New("MAILTRIAGE_KAFKA_BROKERS and MAILTRIAGE_POSTGRES_DSN must be set: run `. .stack/env` after `make stack-up`")
	}
	var err error
	if s.binary, err = filepath.Abs(s.binary); err != nil {
		return err
	}
	if s.rules, err = filepath.Abs(s.rules); err != nil {
		return err
	}
	res, err := measureLatency(s, strings.Split(brokers, ","), baseDSN)
	if err != nil {
		return err
	}
	return writeJSON(res)
}

// latencyRun is the state of one run: its names and its roles.
type latencyRun struct {
	settings latencySettings
	tag      string // prefix of every message ID, group and schema name
	dir      string // config, storage and logs
	roles    []*role
}

func measureLatency(s latencySettings, brokers []string, baseDSN string) (*benchreport.LatencyResult, error) {
	ctx := context.Background()
	suffix := make([]byte, 4)
	if _, err := rand.Read(suffix); err != nil {
		return nil, err
	}
	run := &latencyRun{settings: s, tag: "latency-" + hex.EncodeToString(suffix)}
	dir, err := os.MkdirTemp("", "mailtriage-latency-")
	if err != nil {
		return nil, err
	}
	run.dir = dir
	defer os.RemoveAll(dir)

	adm, closeAdm, err := newAdmin(brokers)
	if err != nil {
		return nil, err
	}
	defer closeAdm()
	processGroup, sinkGroup := "bench-"+run.tag+"-process", "bench-"+run.tag+"-sink"
	schema := strings.ReplaceAll("bench_"+run.tag, "-", "_")
	defer func() {
		cleanupCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := dropSchema(cleanupCtx, baseDSN, schema); err != nil {
			fmt.Fprintf(os.Stderr, "latency: %v\n", err)
		}
		_, _ = adm.DeleteGroups(cleanupCtx, processGroup, sinkGroup)
	}()

	setupCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	dsn, err := prepareSchema(setupCtx, baseDSN, schema, sinkGroup, adm)
	if err != nil {
		return nil, err
	}
	if err := seedProcessGroup(setupCtx, adm, processGroup); err != nil {
		return nil, err
	}
	watcher, err := newTicketWatcher(ctx, brokers, adm)
	if err != nil {
		return nil, err
	}
	defer watcher.close()
	gatewayURL, secret, err := run.start(strings.Join(brokers, ","), processGroup, sinkGroup, dsn)
	defer run.stopAll()
	if err != nil {
		return nil, err
	}

	poller, err := newRowPoller(ctx, dsn, s.poll)
	if err != nil {
		return nil, err
	}
	defer poller.close()
	go poller.run()

	sender := newSender(gatewayURL, secret, s.workers)
	fmt.Fprintf(os.Stderr, "latency: roles started; sending %d warm-up emails\n", s.warmupEmails)
	warmTag := "warmup-" + run.tag
	if err := sender.warmup(warmTag, s.warmupEmails); err != nil {
		return nil, err
	}
	if err := run.await(poller, warmTag, s.warmupEmails, s.warmupTimeout); err != nil {
		return nil, fmt.Errorf("warm-up: %w", err)
	}

	n := min(int(s.rate*s.duration.Seconds()), s.maxEmails)
	fmt.Fprintf(os.Stderr, "latency: sending %d emails at %g/s\n", n, s.rate)
	sampler := &cpuSampler{roles: run.roles, baseDSN: baseDSN, sinkApplication: run.sinkApplication(),
		kafkaPIDFile: os.Getenv("MAILTRIAGE_KAFKA_PID_FILE")}
	cpuBefore, cpuErr := sampler.sample(ctx)
	windowStart := time.Now()
	load, err := sender.load(run.tag, n, s.rate)
	if err != nil {
		return nil, err
	}
	if err := run.await(poller, run.tag, load.accepted, s.drainTimeout); err != nil {
		fmt.Fprintf(os.Stderr, "latency: %v; the result counts the rows seen so far\n", err)
	}
	cpuAfter, err := sampler.sample(ctx)
	window := time.Since(windowStart)
	cpuErr = errors.Join(cpuErr, err)

	res := summarize(s, load, poller.samples(run.tag), watcher.samples(run.tag))
	if cpuErr != nil {
		fmt.Fprintf(os.Stderr, "latency: the result has no CPU times: %v\n", cpuErr)
	} else {
		res.CPU = cpuUsage(cpuBefore, cpuAfter, window.Seconds())
	}
	res.PeakRSSMiB = map[string]float64{}
	for _, r := range run.roles {
		if res.PeakRSSMiB[r.name], err = r.peakRSSMiB(); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// start writes the gateway configuration and starts the three roles. It
// returns the gateway's base URL and the tenant's signing secret.
func (run *latencyRun) start(brokers, processGroup, sinkGroup, dsn string) (string, []byte, error) {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return "", nil, err
	}
	config := filepath.Join(run.dir, "gateway.yaml")
	content := fmt.Sprintf("tenants:\n  %s:\n    secrets: [%q]\n", latencyTenant, hex.EncodeToString(secret))
	if err := os.WriteFile(config, []byte(content), 0o600); err != nil {
		return "", nil, err
	}
	storage := filepath.Join(run.dir, "storage")
	if err := os.Mkdir(storage, 0o700); err != nil {
		return "", nil, err
	}
	listen, err := freeAddress()
	if err != nil {
		return "", nil, err
	}

	sinkDSN, err := withApplicationName(dsn, run.sinkApplication())
	if err != nil {
		return "", nil, err
	}
	s := run.settings
	specs := []struct {
		name string
		env  []string
		args []string
	}{
		{"serve", nil, []string{"serve", "--brokers", brokers, "--config", config, "--storage", storage, "--listen", listen}},
		{"process", nil, []string{"process", "--brokers", brokers, "--rules", s.rules, "--rules-reload", "0", "--group", processGroup,
			"--transactional-id", processGroup}},
		// The DSN goes through the environment, as the sink's help advises,
		// so that it stays out of the process list.
		{"sink-postgres", []string{"MAILTRIAGE_POSTGRES_DSN=" + sinkDSN}, []string{"sink", "postgres", "--brokers", brokers, "--group", sinkGroup}},
	}
	for _, spec := range specs {
		r, err := startRole(spec.name, s.binary, run.dir, spec.env, spec.args...)
		if err != nil {
			return "", nil, err
		}
		run.roles = append(run.roles, r)
	}
	url := "http://" + listen
	if err := run.waitReady(url+"/readyz", time.Minute); err != nil {
		return "", nil, err
	}
	return url, []byte(hex.EncodeToString(secret)), nil
}

// sinkApplication returns the application_name of the sink's PostgreSQL
// connections, which finds their backends in pg_stat_activity.
func (run *latencyRun) sinkApplication() string { return "bench-" + run.tag + "-sink" }

// stopAll stops every role and prints the log tail of each role that did
// not stop cleanly.
func (run *latencyRun) stopAll() {
	for i := len(run.roles) - 1; i >= 0; i-- {
		r := run.roles[i]
		if err := r.stop(30 * time.Second); err != nil {
			fmt.Fprintf(os.Stderr, "latency: %v; its log follows:\n%s\n", err, tail(r.logPath, 20))
		}
	}
	run.roles = nil
}

// await waits until the poller has seen want rows of tag, a role exits or
// timeout passes.
func (run *latencyRun) await(poller *rowPoller, tag string, want int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		seen := len(poller.samples(tag))
		if seen >= want {
			return nil
		}
		for _, r := range run.roles {
			if err := r.running(); err != nil {
				return err
			}
		}
		if err := poller.failure(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s with %d of %d ticket rows in PostgreSQL", timeout, seen, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
