package runner

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/processors"
	"mailtriage/schemas"
	"mailtriage/topics"
)

// BenchmarkTopology measures the exactly-once runner end to end on a
// broker: topologyEmails InboundEmail records of the topologyMail mix wait
// on a fresh input topic, and one runner consumes them to the end. The
// sub-benchmarks are {kfake, kafka} x {chain, passthrough}:
//
//   - chain runs processors.DefaultChain with config/rules.yaml and
//     processors.Outputs, as `mailtriage process` does;
//   - passthrough runs the same runner with the same transactions, but a
//     processor that does nothing and one small output per input, so it
//     shows what the broker and the transactions alone allow.
//
// kafka uses the broker in MAILTRIAGE_KAFKA_BROKERS and is skipped when
// that variable is not set. Every operation uses topics, a group and a
// transactional ID of its own and deletes the topics and the group after.
// The emails/s metric counts the records from the first committed
// transaction until the last, so it leaves out joining the group and
// restoring state. ns/op includes them. Run it once with
//
//	go test ./processors/runner -run '^$' -bench '^BenchmarkTopology$' -benchtime 1x
//
// MAILTRIAGE_BENCH_TOPOLOGY_EMAILS changes the number of emails.
func BenchmarkTopology(b *testing.B) {
	const rulesFile = "../../config/rules.yaml"
	if _, err := os.Stat(rulesFile); err != nil {
		b.Skipf("ruleset %s not found: %v", rulesFile, err)
	}
	n := topologyEmails(b)
	setBenchLabel(benchPhaseSetup)
	defer pprof.SetGoroutineLabels(context.Background())
	values := encodeMail(b, topologyMail(n))

	brokers := []struct {
		name  string
		start func(b *testing.B) []string
	}{
		{"kfake", startBenchKfake},
		{"kafka", realKafka},
	}
	for _, broker := range brokers {
		b.Run(broker.name, func(b *testing.B) {
			addrs := broker.start(b)
			for _, variant := range []string{"chain", "passthrough"} {
				b.Run(variant, func(b *testing.B) {
					for range b.N {
						runTopologyOnce(b, addrs, variant, rulesFile, values)
					}
				})
			}
		})
	}
}

// defaultTopologyEmails is the number of emails of one BenchmarkTopology
// operation, small enough for the four sub-benchmarks to finish in about
// two minutes on two shared cores.
const defaultTopologyEmails = 5000

func topologyEmails(b *testing.B) int {
	text := os.Getenv("MAILTRIAGE_BENCH_TOPOLOGY_EMAILS")
	if text == "" {
		return defaultTopologyEmails
	}
	n, err := strconv.Atoi(text)
	if err != nil || n < 1 || n > 1_000_000 {
		b.Fatalf("MAILTRIAGE_BENCH_TOPOLOGY_EMAILS=%q is not a number from 1 to 1000000", text)
	}
	return n
}

func startBenchKfake(b *testing.B) []string {
	// The broker's goroutines inherit the label, so that a CPU profile
	// separates kfake's work from the runner's.
	setBenchLabel(benchPhaseKfake)
	defer setBenchLabel(benchPhaseSetup)
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		b.Fatalf("starting kfake: %v", err)
	}
	b.Cleanup(cluster.Close)
	return cluster.ListenAddrs()
}

func realKafka(b *testing.B) []string {
	value := os.Getenv("MAILTRIAGE_KAFKA_BROKERS")
	if value == "" {
		b.Skip("MAILTRIAGE_KAFKA_BROKERS is not set: start the stack with `make stack-up` and run `. .stack/env` to measure the real broker")
	}
	return strings.Split(value, ",")
}

// encodeMail returns each email as a record on no topic yet.
func encodeMail(b *testing.B, mail []schemas.InboundEmail) []*kgo.Record {
	out := make([]*kgo.Record, len(mail))
	for i := range mail {
		value, err := schemas.Marshal(&mail[i])
		if err != nil {
			b.Fatalf("encoding %s: %v", mail[i].MessageID, err)
		}
		out[i] = &kgo.Record{Key: []byte(mail[i].Key()), Value: value}
	}
	return out
}

// benchTopics are the topics of one operation, all named after it.
type benchTopics struct {
	prefix                              string
	input, changelog, dlq, global, pass string
}

func newBenchTopics() benchTopics {
	prefix := fmt.Sprintf("mailtriage.bench.%d.", time.Now().UnixNano())
	return benchTopics{
		prefix:    prefix,
		input:     prefix + "inbound",
		changelog: prefix + "changelog",
		dlq:       prefix + "dlq",
		global:    prefix + "thread-index",
		pass:      prefix + "passthrough",
	}
}

// output maps a topology output topic to this operation's copy of it, so
// that the benchmark writes nothing to the topics that sinks read.
func (t benchTopics) output(topic string) string {
	return t.prefix + strings.TrimPrefix(topic, "mailtriage.")
}

func (t benchTopics) all() []string {
	names := []string{t.input, t.changelog, t.dlq, t.global, t.pass}
	for _, out := range []string{topics.Tickets, topics.Notifications, topics.Analytics, topics.AutoReplies} {
		names = append(names, t.output(out))
	}
	return names
}

func (t benchTopics) create(ctx context.Context, b *testing.B, adm *kadm.Client) {
	compact := "compact"
	for _, name := range t.all() {
		var configs map[string]*string
		if name == t.changelog || name == t.global {
			configs = map[string]*string{"cleanup.policy": &compact}
		}
		if _, err := adm.CreateTopic(ctx, testPartitions, 1, configs, name); err != nil {
			b.Fatalf("creating topic %s: %v", name, err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		details, err := adm.ListTopics(ctx, t.all()...)
		if err == nil && allVisible(details, t.all()) {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("the benchmark topics were not all visible within 30s: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// runTopologyOnce is one operation of BenchmarkTopology: it creates the
// topics, produces the records with the clock stopped, then runs a runner
// until it has committed every record and reports its rate.
func runTopologyOnce(b *testing.B, brokers []string, variant, rulesFile string, values []*kgo.Record) {
	b.StopTimer()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	admClient, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		b.Fatalf("creating the admin client: %v", err)
	}
	defer admClient.Close()
	adm := kadm.NewClient(admClient)

	names := newBenchTopics()
	group := strings.TrimSuffix(names.prefix, ".")
	defer func() {
		cleanupCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = adm.DeleteGroups(cleanupCtx, group)
		_, _ = adm.DeleteTopics(cleanupCtx, names.all()...)
	}()
	names.create(ctx, b, adm)
	produceBench(ctx, b, brokers, names.input, values)

	cfg := Config{
		Brokers:         brokers,
		Group:           group,
		TransactionalID: group,
		InputTopic:      names.input,
		ChangelogTopic:  names.changelog,
		DLQTopic:        names.dlq,
		GlobalTopic:     names.global,
	}
	switch variant {
	case "chain":
		chain, err := processors.DefaultChain(processors.ChainConfig{RulesFile: rulesFile})
		if err != nil {
			b.Fatalf("DefaultChain: %v", err)
		}
		cfg.Chain = chain
		cfg.Outputs = func(m *processors.Message, now time.Time) []processors.Output {
			outs := processors.Outputs(m, now)
			for i := range outs {
				outs[i].Topic = names.output(outs[i].Topic)
			}
			return outs
		}
	case "passthrough":
		cfg.Chain = processors.Chain{passThrough{}}
		cfg.Outputs = func(m *processors.Message, now time.Time) []processors.Output {
			return []processors.Output{{Topic: names.pass, Key: m.Email.Key(), Value: schemas.DecisionEvent{
				EventID: m.Email.Key(), Tenant: m.Email.Tenant, MessageID: m.Email.MessageID, DecidedAt: now,
			}}}
		}
	default:
		b.Fatalf("unknown topology variant %q", variant)
	}

	// The runner's clients and goroutines inherit the label from here.
	setBenchLabel(benchPhaseRunner)
	r, err := New(cfg)
	if err != nil {
		setBenchLabel(benchPhaseSetup)
		b.Fatalf("New: %v", err)
	}
	defer r.Close()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	b.StartTimer()
	go func() { done <- r.Run(runCtx) }()
	setBenchLabel(benchPhaseSetup)

	want := int64(len(values))
	rate, stats, err := waitAllCommitted(ctx, r, done, want)
	b.StopTimer()
	stop()
	if runErr := <-done; err == nil && runErr != nil {
		err = fmt.Errorf("Run returned %w", runErr)
	}
	if err != nil {
		b.Fatalf("%s on %v: %v (stats %+v)", variant, brokers, err, stats)
	}
	if stats.DeadLetters != 0 {
		b.Fatalf("%s sent %d of %d records to the DLQ, expected none", variant, stats.DeadLetters, want)
	}
	b.ReportMetric(rate, "emails/s")
	b.ReportMetric(float64(stats.Commits), "transactions")
}

// waitAllCommitted polls the runner's totals until it has committed want
// records, and returns the rate from its first committed transaction to
// its last.
func waitAllCommitted(ctx context.Context, r *Runner, done chan error, want int64) (float64, Stats, error) {
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	var (
		firstAt    time.Time
		firstCount int64
		stats      Stats
	)
	for {
		stats = r.Stats()
		if stats.RecordsIn > 0 && firstAt.IsZero() {
			firstAt, firstCount = time.Now(), stats.RecordsIn
		}
		if stats.RecordsIn >= want {
			elapsed := time.Since(firstAt).Seconds()
			if stats.RecordsIn == firstCount || elapsed <= 0 {
				return 0, stats, fmt.Errorf("all %d records came in one transaction, so no rate can be measured: use more emails", want)
			}
			return float64(stats.RecordsIn-firstCount) / elapsed, stats, nil
		}
		select {
		case err := <-done:
			done <- err
			return 0, stats, fmt.Errorf("Run returned %v after %d of %d records", err, stats.RecordsIn, want)
		case <-ctx.Done():
			return 0, stats, fmt.Errorf("committed %d of %d records before the deadline", stats.RecordsIn, want)
		case <-tick.C:
		}
	}
}

func produceBench(ctx context.Context, b *testing.B, brokers []string, topic string, values []*kgo.Record) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ProducerBatchMaxBytes(4<<20))
	if err != nil {
		b.Fatalf("creating the producer: %v", err)
	}
	defer cl.Close()
	records := make([]*kgo.Record, len(values))
	for i, v := range values {
		records[i] = &kgo.Record{Topic: topic, Key: v.Key, Value: v.Value}
	}
	if err := cl.ProduceSync(ctx, records...).FirstErr(); err != nil {
		b.Fatalf("producing %d records to %s: %v", len(records), topic, err)
	}
}

// The values of the benchLabel profiler label. In a CPU profile of
// BenchmarkTopology (go test -cpuprofile), a sample of a goroutine that the
// runner started carries benchPhaseRunner, one of kfake's carries
// benchPhaseKfake, and one of building and producing the input carries
// benchPhaseSetup. Goroutines of the runtime, such as the garbage
// collector's workers, may carry any of them or none.
const (
	benchLabel       = "bench"
	benchPhaseSetup  = "setup"
	benchPhaseRunner = "runner"
	benchPhaseKfake  = "kfake"
)

// setBenchLabel sets the benchLabel of the calling goroutine to phase. The
// goroutines it starts afterwards inherit the label.
func setBenchLabel(phase string) {
	pprof.SetGoroutineLabels(pprof.WithLabels(context.Background(), pprof.Labels(benchLabel, phase)))
}

// passThrough is the processor of the passthrough topology: it leaves the
// message as it is.
type passThrough struct{}

func (passThrough) Name() string { return "passthrough" }

func (passThrough) Process(context.Context, *processors.Message) (processors.Result, error) {
	return processors.Continue, nil
}
