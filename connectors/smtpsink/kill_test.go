package smtpsink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/mail"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/schemas"
	"mailtriage/topics"
)

// envKillChild carries the JSON killChildConfig to the sink subprocess of
// TestSinkKilledNeverSendsTwice. TestMain runs the sink instead of the
// tests when it is set.
const envKillChild = "MAILTRIAGE_SMTPSINK_KILL_CHILD"

// envKillSeed repeats a run of TestSinkKilledNeverSendsTwice: it fixes the
// kill points.
const envKillSeed = "MAILTRIAGE_SMTPSINK_KILL_SEED"

// Sizes of the kill test.
const (
	killCommands    = 200
	killCount       = 6                     // SIGKILLs during the run
	killRelayDelay  = 5 * time.Millisecond  // the relay's pause before it takes the data
	killHoldTimeout = 30 * time.Second      // bound of a DATA reply held for a kill
	killPollRecords = 20                    // MaxPollRecords of the child
	killMaxDelay    = 20 * time.Millisecond // bound of the random delay of a kill after its threshold
)

// killChildConfig is what the sink subprocess needs.
type killChildConfig struct {
	Brokers []string
	DSN     string
	Relay   string
	Group   string
}

func TestMain(m *testing.M) {
	if raw := os.Getenv(envKillChild); raw != "" {
		os.Exit(runKillChild(raw))
	}
	os.Exit(m.Run())
}

// runKillChild runs a sink until SIGTERM or SIGKILL and returns the exit
// code.
func runKillChild(raw string) int {
	var cfg killChildConfig
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		fmt.Fprintf(os.Stderr, "kill child: invalid %s: %v\n", envKillChild, err)
		return 2
	}
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	templates, err := LoadTemplates(testTemplatesDir)
	if err != nil {
		logger.Error("loading the templates failed", "error", err)
		return 1
	}
	sink, err := New(Config{
		DSN: cfg.DSN,
		KafkaOpts: []kgo.Opt{
			kgo.SeedBrokers(cfg.Brokers...),
			kgo.FetchMaxWait(100 * time.Millisecond),
			// Static membership: a restart takes over the killed run's
			// membership and partitions at once, instead of waiting for
			// the dead member's session to time out.
			kgo.InstanceID("smtpsink-kill-child"),
			kgo.SessionTimeout(time.Second),
			kgo.RebalanceTimeout(2 * time.Second),
			kgo.HeartbeatInterval(200 * time.Millisecond),
		},
		Group:          cfg.Group,
		MaxPollRecords: killPollRecords,
		Relay:          Relay{Addr: cfg.Relay, Timeout: time.Minute}, // a held DATA reply must not time out first
		From:           mail.Address{Name: "Acme Support", Address: "support@acme.test"},
		Templates:      templates,
		Retry:          RetryPolicy{MaxAttempts: 3, BaseDelay: 20 * time.Millisecond, MaxDelay: 100 * time.Millisecond},
		Logger:         logger,
	})
	if err != nil {
		logger.Error("creating the sink failed", "error", err)
		return 1
	}
	defer sink.Close()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := sink.Run(ctx); err != nil {
		logger.Error("sink stopped", "error", err)
		return 1
	}
	logger.Info("sink stopped", "stats", fmt.Sprintf("%+v", sink.Stats()))
	return 0
}

// killRelay is an SMTP server on 127.0.0.1 that counts the messages it
// takes per recipient. When a hold is armed, it lets skip messages pass
// and then keeps the reply to the end of data of the next one until
// release, so that a kill lands while that message is in flight.
type killRelay struct {
	addr string

	mu      sync.Mutex // guards the fields below
	byRcpt  map[string]int
	total   int
	hold    chan string   // receives the recipient of the held message; nil when not armed
	skip    int           // messages to let pass before the held one
	release chan struct{} // closed to let the held message's reply go
}

func startKillRelay(t *testing.T) *killRelay {
	t.Helper()
	r := &killRelay{byRcpt: map[string]int{}}
	server := smtp.NewServer(r)
	server.Domain = "relay.test"
	server.ReadTimeout = time.Minute
	server.WriteTimeout = 10 * time.Second
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listening for the test relay: %v", err)
	}
	r.addr = l.Addr().String()
	go func() { _ = server.Serve(l) }()
	t.Cleanup(func() { _ = server.Close() })
	return r
}

func (r *killRelay) NewSession(*smtp.Conn) (smtp.Session, error) {
	return &killSession{relay: r}, nil
}

// armHold makes the relay hold the message after the next skip ones and
// returns the channel that receives its recipient and the function that
// releases it.
func (r *killRelay) armHold(skip int) (<-chan string, func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	held := make(chan string, 1)
	release := make(chan struct{})
	r.hold, r.skip, r.release = held, skip, release
	var once sync.Once
	return held, func() { once.Do(func() { close(release) }) }
}

// counts returns the messages taken per recipient and in total.
func (r *killRelay) counts() (map[string]int, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int, len(r.byRcpt))
	for rcpt, n := range r.byRcpt {
		out[rcpt] = n
	}
	return out, r.total
}

// waitTotal waits until the relay has taken n messages in all, or fails
// when ctx ends.
func (r *killRelay) waitTotal(ctx context.Context, t *testing.T, n int, logPath string) {
	t.Helper()
	for {
		if _, total := r.counts(); total >= n {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for message %d at the relay; log:\n%s", n, tailLog(logPath))
		case <-time.After(time.Millisecond):
		}
	}
}

type killSession struct {
	relay *killRelay
	rcpt  string
}

func (s *killSession) Reset()                                    { s.rcpt = "" }
func (s *killSession) Logout() error                             { return nil }
func (s *killSession) Mail(string, *smtp.MailOptions) error      { return nil }
func (s *killSession) Rcpt(to string, _ *smtp.RcptOptions) error { s.rcpt = to; return nil }

func (s *killSession) Data(r io.Reader) error {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	time.Sleep(killRelayDelay)

	s.relay.mu.Lock()
	var held chan string
	release := s.relay.release
	switch {
	case s.relay.hold == nil:
	case s.relay.skip > 0:
		s.relay.skip--
	default:
		held, s.relay.hold = s.relay.hold, nil
	}
	// The relay queues the message before it replies, as a real one does,
	// so a kill while the reply is held leaves the message delivered and
	// its outcome unknown to the sink.
	s.relay.byRcpt[s.rcpt]++
	s.relay.total++
	s.relay.mu.Unlock()

	if held != nil {
		held <- s.rcpt
		select {
		case <-release:
		case <-time.After(killHoldTimeout):
		}
	}
	return nil
}

// killCommand returns the acknowledgement command number i, with a ticket
// and a recipient of its own, so that no rate limit applies.
func killCommand(i int) schemas.AutoReply {
	ref := fmt.Sprintf("T-%010d", i)
	return schemas.AutoReply{
		EventID:    "kill-event-" + strconv.Itoa(i),
		Tenant:     "acme",
		Kind:       schemas.AutoReplyAcknowledgement,
		TicketRef:  ref,
		Queue:      "general",
		To:         schemas.Address{Name: "Customer", Address: fmt.Sprintf("customer%03d@customer.test", i)},
		Subject:    "Question about my order",
		InReplyTo:  fmt.Sprintf("inbound-%03d@mail.customer.test", i),
		References: []string{fmt.Sprintf("inbound-%03d@mail.customer.test", i)},
		ReceivedAt: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
		DecidedAt:  time.Date(2025, 3, 1, 12, 0, 1, 0, time.UTC),
	}
}

// TestSinkKilledNeverSendsTwice runs the sink as a subprocess over
// killCommands commands and kills it with SIGKILL killCount times, at
// random points of the run. Half the kills come while the relay holds a
// message's reply. The others come up to killMaxDelay after a random
// message, so they land in a claim, a session or the recording of an
// outcome. A last run finishes the topic. Every command must then have a
// final ledger row, and the relay must have taken each message at most
// once and every sent one exactly once. There must be at most one unknown
// row per kill.
func TestSinkKilledNeverSendsTwice(t *testing.T) {
	if testing.Short() {
		t.Skip("kill test skipped in -short mode")
	}
	dsn := testSchema(t)
	pool := newPool(t, dsn)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	cluster, err := kfake.NewCluster(kfake.NumBrokers(1),
		kfake.SeedTopics(2, topics.AutoReplies, topics.DLQ),
		kfake.GroupMinSessionTimeout(500*time.Millisecond))
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	t.Cleanup(cluster.Close)
	brokers := cluster.ListenAddrs()

	cmds := make([]schemas.AutoReply, killCommands)
	recipients := map[string]string{} // event ID to recipient
	for i := range cmds {
		cmds[i] = killCommand(i)
		recipients[cmds[i].EventID] = cmds[i].To.Address
	}
	produceCommands(t, brokers, cmds...)

	relay := startKillRelay(t)
	child := killChildConfig{Brokers: brokers, DSN: dsn, Relay: relay.addr, Group: "smtpsink-kill-test"}
	logDir := t.TempDir()

	seed := killSeed(t)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	t.Logf("kill seed %d (set %s=%d to repeat)", seed, envKillSeed, seed)

	// Kill k comes once the relay has taken threshold messages in all.
	// Each threshold lies in its own of killCount equal segments of the
	// run, so the kills spread over it and each run has work left.
	segment := (killCommands - 15) / killCount
	var inFlight []string // recipients of the messages held at a kill
	for k := range killCount {
		threshold := 5 + k*segment + rng.IntN(segment-4)
		logPath := filepath.Join(logDir, fmt.Sprintf("run%d.log", k))
		var held <-chan string
		var release func()
		holdMode := k%2 == 0
		if holdMode {
			_, total := relay.counts()
			held, release = relay.armHold(max(0, threshold-total-1))
			t.Logf("run %d: SIGKILL while the relay holds the reply to message %d", k, max(threshold, total+1))
		}
		proc := startKillChild(t, child, logPath)

		if holdMode {
			select {
			case rcpt := <-held:
				inFlight = append(inFlight, rcpt)
			case <-ctx.Done():
				t.Fatalf("run %d never sent a message to hold; log:\n%s", k, tailLog(logPath))
			}
		} else {
			delay := time.Duration(rng.Int64N(int64(killMaxDelay)))
			t.Logf("run %d: SIGKILL %v after message %d", k, delay, threshold)
			relay.waitTotal(ctx, t, threshold, logPath)
			time.Sleep(delay)
		}
		if err := proc.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatalf("killing run %d: %v", k, err)
		}
		_ = proc.Wait()
		if release != nil {
			release()
		}
		_, total := relay.counts()
		t.Logf("run %d killed with %d messages at the relay", k, total)
	}

	last := filepath.Join(logDir, "last.log")
	proc := startKillChild(t, child, last)
	lastStart := time.Now()
	waitForFinal(ctx, t, pool, last)
	t.Logf("the last run finished the topic in %v", time.Since(lastStart).Round(time.Millisecond))
	// SIGTERM before the child installed its handler would end it with
	// the default action instead of a graceful stop.
	waitForLogLine(ctx, t, last, "SMTP sink started")
	if err := proc.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("stopping the last run: %v", err)
	}
	waitKillChild(t, proc, 30*time.Second, last)

	states := ledgerStates(ctx, t, pool)
	byRcpt, total := relay.counts()
	counts := map[State]int{}
	for _, cmd := range cmds {
		state, ok := states[cmd.EventID]
		if !ok {
			t.Errorf("command %s has no ledger row, expected a final one", cmd.EventID)
			continue
		}
		counts[state]++
		got := byRcpt[recipients[cmd.EventID]]
		switch state {
		case StateSent:
			if got != 1 {
				t.Errorf("command %s is sent but the relay took it %d times, expected once", cmd.EventID, got)
			}
		case StateUnknown:
			if got > 1 {
				t.Errorf("command %s is unknown and the relay took it %d times, expected at most once", cmd.EventID, got)
			}
		case StateSuppressed, StateFailed:
			if got != 0 {
				t.Errorf("command %s is %s but the relay took it %d times, expected never", cmd.EventID, state, got)
			}
		default:
			t.Errorf("command %s ends %s, expected sent, suppressed, failed or unknown", cmd.EventID, state)
		}
	}
	for rcpt, n := range byRcpt {
		if n > 1 {
			t.Errorf("the relay took %d messages for %s, expected at most 1", n, rcpt)
		}
	}
	if len(states) != killCommands {
		t.Errorf("the ledger has %d rows, expected %d (one per command)", len(states), killCommands)
	}
	if counts[StateUnknown] > killCount {
		t.Errorf("%d unknown rows, expected at most %d (one per kill)", counts[StateUnknown], killCount)
	}
	// Each held message was claimed before its session, so its row was
	// left sending by the kill and the next start marked it unknown.
	for _, rcpt := range inFlight {
		for id, r := range recipients {
			if r == rcpt && states[id] != StateUnknown {
				t.Errorf("command %s was in flight at a kill but ends %s, expected unknown", id, states[id])
			}
		}
	}
	// The relay accepts every message, so nothing fails or is suppressed.
	if counts[StateSent]+counts[StateUnknown] != killCommands {
		t.Errorf("%d sent and %d unknown rows, expected %d together (%d failed, %d suppressed)",
			counts[StateSent], counts[StateUnknown], killCommands, counts[StateFailed], counts[StateSuppressed])
	}
	t.Logf("after %d kills: %d sent, %d unknown, %d messages at the relay", killCount, counts[StateSent], counts[StateUnknown], total)
}

// killSeed returns the seed of envKillSeed, or a new one.
func killSeed(t *testing.T) int64 {
	t.Helper()
	if s := os.Getenv(envKillSeed); s != "" {
		seed, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("invalid %s %q: give an integer", envKillSeed, s)
		}
		return seed
	}
	return time.Now().UnixNano()
}

// startKillChild starts the test binary as a sink subprocess with its
// output in logPath.
func startKillChild(t *testing.T, cfg killChildConfig, logPath string) *exec.Cmd {
	t.Helper()
	raw, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logFile.Close() })

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envKillChild+"="+string(raw))
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the sink subprocess: %v", err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return cmd
}

// waitKillChild waits for cmd to exit with status 0, killing it after
// timeout.
func waitKillChild(t *testing.T, cmd *exec.Cmd, timeout time.Duration, logPath string) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			t.Errorf("the sink subprocess exited with %v, expected 0 after SIGTERM; log:\n%s", err, tailLog(logPath))
		}
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		<-done
		t.Errorf("the sink subprocess did not stop within %v of SIGTERM", timeout)
	}
}

// waitForFinal waits until every command has a ledger row in a final
// state, or fails when ctx ends.
func waitForFinal(ctx context.Context, t *testing.T, pool *pgxpool.Pool, logPath string) {
	t.Helper()
	var n int
	for {
		err := pool.QueryRow(ctx, `SELECT count(*) FROM autoreply_deliveries
			WHERE state IN ('sent', 'suppressed', 'failed', 'unknown')`).Scan(&n)
		if err == nil && n >= killCommands {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("timed out with %d of %d commands final (last error %v); log:\n%s", n, killCommands, err, tailLog(logPath))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitForLogLine waits until the log at path contains text, or fails
// when ctx ends.
func waitForLogLine(ctx context.Context, t *testing.T, path, text string) {
	t.Helper()
	for {
		data, err := os.ReadFile(path)
		if err == nil && strings.Contains(string(data), text) {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %q in the log; log:\n%s", text, tailLog(path))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// ledgerStates returns the state of every ledger row by event ID.
func ledgerStates(ctx context.Context, t *testing.T, pool *pgxpool.Pool) map[string]State {
	t.Helper()
	rows, err := pool.Query(ctx, `SELECT event_id, state FROM autoreply_deliveries`)
	if err != nil {
		t.Fatalf("reading the ledger: %v", err)
	}
	defer rows.Close()
	out := map[string]State{}
	for rows.Next() {
		var id, state string
		if err := rows.Scan(&id, &state); err != nil {
			t.Fatalf("reading the ledger: %v", err)
		}
		out[id] = State(state)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("reading the ledger: %v", err)
	}
	return out
}

// tailLog returns the last 4 KiB of a log file.
func tailLog(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	return string(data[max(0, len(data)-4096):])
}
