package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/internal/testenv"
	"mailtriage/schemas"
	"mailtriage/topics"
)

// Variables of the fault suite: envFault=1 runs it (make fault), and
// envFaultMessages sets the message count of each scenario.
const (
	envFault         = "MAILTRIAGE_FAULT"
	envFaultMessages = "MAILTRIAGE_FAULT_MESSAGES"
	defaultFaultN    = 50000
)

// faultRun is one scenario's pipeline: its own inbound, changelog and
// thread topics, tenant, groups, PostgreSQL schema and ClickHouse table.
type faultRun struct {
	n        int
	brokers  []string
	adm      *kadm.Client
	topics   runTopics
	tenant   string
	group    string
	dsn      string
	schema   string
	pool     *pgxpool.Pool
	ch       driver.Conn
	chAddr   string
	chDB     string
	chTable  string
	start    kadm.ListedOffsets // end offsets of the shared output topics before the run
	inbound  kadm.ListedOffsets // end offsets of the inbound topic after the load
	began    time.Time
	deadline time.Duration // bound of every wait of the scenario
}

// newFaultRun skips unless envFault is 1, and prepares the topics, the
// schema and the table of a scenario named name. It logs the time the
// scenario took at cleanup.
func newFaultRun(t *testing.T, name string) *faultRun {
	t.Helper()
	if os.Getenv(envFault) != "1" {
		t.Skipf("fault injection runs with %s=1 (make fault)", envFault)
	}
	n := defaultFaultN
	if s := os.Getenv(envFaultMessages); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 100 {
			t.Fatalf("invalid %s %q: give a message count of at least 100", envFaultMessages, s)
		}
		n = v
	}
	run := &faultRun{n: n, brokers: testenv.KafkaBrokers(t), began: time.Now()}
	// 2 minutes plus 10 ms per message bound every wait.
	run.deadline = 2*time.Minute + time.Duration(n)*10*time.Millisecond
	run.dsn, run.schema = testSchemaDSN(t)
	run.pool = newPool(t, run.dsn)
	run.ch, run.chAddr, run.chDB, run.chTable = testClickHouse(t)
	suffix := randomSuffix(t)
	run.tenant = "fault-" + name + "-" + suffix
	run.group = "mailtriage-e2e-fault-" + name + "-" + suffix
	run.adm = newAdmin(t, run.brokers)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ensureTopics(ctx, t, run.adm)
	run.topics = createRunTopics(ctx, t, run.adm, "e2e.fault."+name+"."+suffix)
	run.start = endOffsets(ctx, t, run.adm, topics.Tickets, topics.Analytics, topics.Notifications, topics.DLQ)
	t.Cleanup(func() {
		t.Logf("scenario %s with %d messages took %v", name, run.n, time.Since(run.began).Round(time.Second))
	})
	return run
}

// context returns a context bounded by the scenario's deadline.
func (run *faultRun) context(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), run.deadline)
	t.Cleanup(cancel)
	return ctx
}

// startSinks runs the PostgreSQL, ClickHouse and Slack sinks in this
// process from the current ends of their topics.
func (run *faultRun) startSinks(ctx context.Context, t *testing.T, webhook string) {
	t.Helper()
	startTicketSink(ctx, t, run.adm, run.brokers, run.dsn, run.pool, run.group+"-postgres")
	startClickHouseSink(ctx, t, run.adm, run.brokers, run.chAddr, run.chDB, run.chTable, run.group+"-clickhouse")
	startSlackSink(ctx, t, run.adm, run.brokers, run.pool, run.schema, run.group+"-slack", run.tenant, webhook)
}

// produce writes run.n short distinct messages of the tenant to the
// inbound topic and records its end offsets.
func (run *faultRun) produce(ctx context.Context, t *testing.T) {
	t.Helper()
	client, err := kgo.NewClient(kgo.SeedBrokers(run.brokers...), kgo.ProducerLinger(5*time.Millisecond),
		kgo.MaxBufferedRecords(20000))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	subjects := []string{"Refund for my last invoice", "Where is my order?", "Password reset does not work", "Question about the API"}
	received := time.Now().UTC().Truncate(time.Second)
	const batch = 5000
	for from := 0; from < run.n; from += batch {
		var records []*kgo.Record
		for i := from; i < min(from+batch, run.n); i++ {
			e := schemas.InboundEmail{
				Tenant:     run.tenant,
				MessageID:  fmt.Sprintf("fault-%06d@%s.example.test", i, run.tenant),
				Source:     schemas.SourceImport,
				ReceivedAt: received,
				From:       &schemas.Address{Name: "Customer", Address: fmt.Sprintf("customer%d@example.org", i)},
				To:         []schemas.Address{{Address: "support@example.com"}},
				Subject:    fmt.Sprintf("%s (%d)", subjects[i%len(subjects)], i),
				Text:       fmt.Sprintf("Hello, this is message %d of the fault test. Please have a look when you can.", i),
			}
			records = append(records, &kgo.Record{Topic: run.topics.inbound, Key: []byte(e.Key()), Value: encodeEmail(t, &e)})
		}
		if err := client.ProduceSync(ctx, records...).FirstErr(); err != nil {
			t.Fatalf("producing inbound records %d to %d: %v", from, from+len(records), err)
		}
	}
	run.inbound = endOffsets(ctx, t, run.adm, run.topics.inbound)
}

// processed returns how many inputs the processor group committed, and
// whether it committed all of them.
func (run *faultRun) processed(ctx context.Context) (int64, bool, error) {
	return groupCommitted(ctx, run.adm, run.group, run.topics.inbound, run.inbound)
}

// waitProcessed waits until the processor group committed a share of the
// inputs (between 0 and 1). It fails the test when proc exits.
func (run *faultRun) waitProcessed(ctx context.Context, t *testing.T, share float64, proc *processRun) {
	t.Helper()
	want := int64(share * float64(run.n))
	waitFor(ctx, t, fmt.Sprintf("%.0f%% of the inputs processed", share*100), func() (bool, string) {
		if done, err := proc.exited(); done {
			t.Fatalf("%s exited early: %v", proc.name, err)
		}
		sum, _, err := run.processed(ctx)
		if err != nil {
			return false, err.Error()
		}
		return sum >= want, fmt.Sprintf("%d of %d inputs committed", sum, run.n)
	})
}

// stack runs the stack script with args, as "stack.sh stop postgres".
func stack(t *testing.T, args ...string) {
	t.Helper()
	script := testenv.Get(t, testenv.EnvStackScript)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	started := time.Now()
	out, err := exec.CommandContext(ctx, script, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("stack.sh %v: %v\n%s", args, err, out)
	}
	t.Logf("stack.sh %v took %v", args, time.Since(started).Round(time.Millisecond))
}

// stopService stops service with verb (stop or kill) and starts it again
// at cleanup when the test did not.
func stopService(t *testing.T, verb, service string) (startAgain func()) {
	t.Helper()
	stack(t, verb, service)
	started := false
	startAgain = func() {
		if !started {
			started = true
			stack(t, "start", service)
		}
	}
	t.Cleanup(startAgain)
	return startAgain
}
