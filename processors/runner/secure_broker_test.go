package runner

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/internal/kafkaconfig"
	"mailtriage/internal/testenv"
	"mailtriage/processors"
	"mailtriage/schemas"
	"mailtriage/topics"
)

// secureConfig returns the connection settings of the local broker's
// SASL_SSL listener for mechanism, with the CA of the local stack.
func secureConfig(t *testing.T, mechanism string) kafkaconfig.Config {
	t.Helper()
	return kafkaconfig.Config{
		Brokers: strings.Split(testenv.Get(t, testenv.EnvKafkaSecure), ","),
		TLS:     kafkaconfig.TLS{Enabled: true, CAFile: testenv.Get(t, testenv.EnvKafkaCA)},
		SASL: kafkaconfig.SASL{
			Mechanism: mechanism,
			Username:  testenv.Get(t, testenv.EnvKafkaSCRAMUser),
			Password:  testenv.Get(t, testenv.EnvKafkaSCRAMPass),
		},
	}
}

// TestSecureBrokerExactlyOnce runs the production chain over the SASL_SSL
// listener of the local Kafka broker, once per SCRAM mechanism, and reads
// every output back with read_committed exactly once. The SHA-512 run
// reads the password from a file, the SHA-256 run from the setting that
// MAILTRIAGE_KAFKA_SASL_PASSWORD fills.
func TestSecureBrokerExactlyOnce(t *testing.T) {
	const rulesFile = "../../config/rules.yaml"
	if _, err := os.Stat(rulesFile); err != nil {
		t.Skipf("ruleset %s not found: %v", rulesFile, err)
	}

	for _, mechanism := range []string{kafkaconfig.MechanismSCRAMSHA512, kafkaconfig.MechanismSCRAMSHA256} {
		t.Run(mechanism, func(t *testing.T) {
			cfg := secureConfig(t, mechanism)
			if mechanism == kafkaconfig.MechanismSCRAMSHA512 {
				cfg.SASL.PasswordFile = filepath.Join(t.TempDir(), "kafka-password")
				if err := os.WriteFile(cfg.SASL.PasswordFile, []byte(cfg.SASL.Password+"\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				cfg.SASL.Password = ""
			}
			runSecureExactlyOnce(t, cfg, rulesFile)
		})
	}
}

// runSecureExactlyOnce is one run of TestSecureBrokerExactlyOnce. Its
// input, changelog and DLQ topics, group and tenant are unique to the
// run, so runs do not see each other's records. The output topics are the
// topology's, shared with other tests, so the test filters outputs by tenant.
func runSecureExactlyOnce(t *testing.T, cfg kafkaconfig.Config, rulesFile string) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	opts, err := cfg.Opts()
	if err != nil {
		t.Fatalf("kafkaconfig Opts: %v", err)
	}
	adminClient, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatalf("creating the admin client: %v", err)
	}
	t.Cleanup(adminClient.Close)
	adm := kadm.NewClient(adminClient)

	run := fmt.Sprintf("%s-%d", strings.ToLower(strings.ReplaceAll(cfg.SASL.Mechanism, "-", "")), time.Now().UnixNano())
	tenant := "it-" + run
	input := "mailtriage.it." + run + ".inbound"
	changelog := "mailtriage.it." + run + ".changelog"
	dlq := "mailtriage.it." + run + ".dlq"
	threadIndex := "mailtriage.it." + run + ".thread-index"
	group := "mailtriage-it-" + run
	t.Cleanup(func() {
		cleanupCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = adm.DeleteGroups(cleanupCtx, group)
		_, _ = adm.DeleteTopics(cleanupCtx, input, changelog, dlq, threadIndex)
	})
	createSecureTopics(ctx, t, adm, input, changelog, dlq, threadIndex)

	outputTopics := []string{topics.Tickets, topics.Notifications, topics.Analytics}
	starts := committedEnds(ctx, t, adm, outputTopics...)

	const messages, duplicates = 36, 3
	var records []*kgo.Record
	for i := range messages {
		e := testEmail(tenant, fmt.Sprintf("secure%02d", i), fmt.Sprintf("Invoice question %d", i))
		e.From = &schemas.Address{Name: "Customer", Address: fmt.Sprintf("customer%d@example.test", i)}
		e.To = []schemas.Address{{Address: "support@example.test"}}
		value, err := schemas.Marshal(&e)
		if err != nil {
			t.Fatal(err)
		}
		records = append(records, &kgo.Record{Topic: input, Key: []byte(e.Key()), Value: value})
	}
	for i := range duplicates {
		again := *records[i*7]
		records = append(records, &again)
	}
	produceSecure(ctx, t, opts, records)
	inputEnds := committedEnds(ctx, t, adm, input)[input]

	chain, err := processors.DefaultChain(processors.ChainConfig{RulesFile: rulesFile})
	if err != nil {
		t.Fatalf("DefaultChain: %v", err)
	}
	r := newRunner(t, Config{
		Brokers:         cfg.Brokers,
		Group:           group,
		TransactionalID: group,
		InputTopic:      input,
		ChangelogTopic:  changelog,
		DLQTopic:        dlq,
		GlobalTopic:     threadIndex,
		Chain:           chain,
		Outputs:         processors.Outputs,
		ClientOpts:      append(opts, kgo.FetchMaxWait(200*time.Millisecond)),
		MaxPollRecords:  10,
	})
	rr := startRunner(ctx, t, r)
	waitSecureCaughtUp(ctx, t, adm, rr, group, input, inputEnds)
	if err := rr.stop(); err != nil {
		t.Fatalf("Run returned %v", err)
	}

	ends := committedEnds(ctx, t, adm, outputTopics...)
	tickets := readSecure(ctx, t, opts, topics.Tickets, starts[topics.Tickets], ends[topics.Tickets], tenant, decodeTicket)
	notifications := readSecure(ctx, t, opts, topics.Notifications, starts[topics.Notifications], ends[topics.Notifications], tenant, decodeNotification)
	decisions := readSecure(ctx, t, opts, topics.Analytics, starts[topics.Analytics], ends[topics.Analytics], tenant, decodeDecision)

	if distinct := countIDs(tickets, func(id string) string { return id }); len(tickets) != messages || len(distinct) != messages {
		t.Errorf("read %d ticket commands with %d distinct event IDs, expected %d and %d", len(tickets), len(distinct), messages, messages)
	}
	if distinct := countIDs(notifications, func(id string) string { return id }); len(notifications) != messages || len(distinct) != messages {
		t.Errorf("read %d notifications with %d distinct event IDs, expected %d and %d", len(notifications), len(distinct), messages, messages)
	}
	if distinct := countIDs(decisions, func(id string) string { return id }); len(decisions) != messages+duplicates || len(distinct) != messages+duplicates {
		t.Errorf("read %d decisions with %d distinct event IDs, expected %d and %d", len(decisions), len(distinct), messages+duplicates, messages+duplicates)
	}
	if stats := rr.Stats(); stats.Duplicates != duplicates {
		t.Errorf("runner counted %d duplicates, expected %d", stats.Duplicates, duplicates)
	}
	if n := countCommittedRecords(ctx, t, adm, dlq); n != 0 {
		t.Errorf("DLQ %s holds %d records, expected none", dlq, n)
	}
}

// createSecureTopics creates the run's own topics (input, changelog, DLQ
// and thread index) with three partitions, and the topology's output
// topics when they are missing.
func createSecureTopics(ctx context.Context, t *testing.T, adm *kadm.Client, input, changelog, dlq, threadIndex string) {
	t.Helper()
	const partitions = 3
	compact := "compact"
	own := []struct {
		name    string
		configs map[string]*string
	}{
		{input, nil},
		{changelog, map[string]*string{"cleanup.policy": &compact}},
		{dlq, nil},
		{threadIndex, map[string]*string{"cleanup.policy": &compact}},
	}
	for _, topic := range own {
		if _, err := adm.CreateTopic(ctx, partitions, 1, topic.configs, topic.name); err != nil {
			t.Fatalf("creating topic %s over SASL_SSL: %v", topic.name, err)
		}
	}

	for _, spec := range topics.Specs(partitions, 1) {
		if spec.Name != topics.Tickets && spec.Name != topics.Notifications && spec.Name != topics.Analytics {
			continue
		}
		_, err := adm.CreateTopic(ctx, spec.Partitions, spec.ReplicationFactor, spec.Configs, spec.Name)
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			t.Fatalf("creating topic %s over SASL_SSL: %v", spec.Name, err)
		}
	}

	waitTopicsVisible(ctx, t, adm, input, changelog, dlq, threadIndex, topics.Tickets, topics.Notifications, topics.Analytics)
}

// waitTopicsVisible waits until the metadata of every topic lists all its
// partitions with a leader, because a topic created a moment ago can still
// be unknown to the next request.
func waitTopicsVisible(ctx context.Context, t *testing.T, adm *kadm.Client, names ...string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		details, err := adm.ListTopics(ctx, names...)
		if err == nil && allVisible(details, names) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("topics %v were not all visible within 30s: %v", names, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func allVisible(details kadm.TopicDetails, names []string) bool {
	for _, name := range names {
		d, ok := details[name]
		if !ok || d.Err != nil || len(d.Partitions) == 0 {
			return false
		}
		for _, p := range d.Partitions {
			if p.Err != nil || p.Leader < 0 {
				return false
			}
		}
	}
	return true
}

func produceSecure(ctx context.Context, t *testing.T, opts []kgo.Opt, records []*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatalf("creating the producer: %v", err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, records...).FirstErr(); err != nil {
		t.Fatalf("producing %d inbound records over SASL_SSL: %v", len(records), err)
	}
}

// committedEnds returns the last stable offset of every partition of each
// topic, the end that a read_committed consumer can reach.
func committedEnds(ctx context.Context, t *testing.T, adm *kadm.Client, topicNames ...string) map[string]map[int32]int64 {
	t.Helper()
	listed, err := adm.ListCommittedOffsets(ctx, topicNames...)
	if err == nil {
		err = listed.Error()
	}
	if err != nil {
		t.Fatalf("listing the committed end offsets of %v: %v", topicNames, err)
	}
	out := make(map[string]map[int32]int64)
	listed.Each(func(o kadm.ListedOffset) {
		if out[o.Topic] == nil {
			out[o.Topic] = make(map[int32]int64)
		}
		out[o.Topic][o.Partition] = o.Offset
	})
	return out
}

func countCommittedRecords(ctx context.Context, t *testing.T, adm *kadm.Client, topic string) int64 {
	t.Helper()
	var n int64
	for _, end := range committedEnds(ctx, t, adm, topic)[topic] {
		n += end
	}
	return n
}

// waitSecureCaughtUp waits until group has committed offsets at ends on
// the input topic.
func waitSecureCaughtUp(ctx context.Context, t *testing.T, adm *kadm.Client, rr *running, group, input string, ends map[int32]int64) {
	t.Helper()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		committed, err := adm.FetchOffsets(ctx, group)
		if err == nil && caughtUp(committed, input, ends) {
			return
		}
		select {
		case err := <-rr.done:
			rr.done <- err
			t.Fatalf("Run returned %v before catching up", err)
		case <-ctx.Done():
			t.Fatalf("runner did not catch up with %v: stats %+v", ends, rr.Stats())
		case <-tick.C:
		}
	}
}

// readSecure reads topic with read_committed from starts to ends and
// returns the event ID of every record of tenant, decoded with decode.
func readSecure(ctx context.Context, t *testing.T, opts []kgo.Opt, topic string, starts, ends map[int32]int64, tenant string,
	decode func([]byte) (tenant, eventID string, err error)) []string {
	t.Helper()
	parts := make(map[int32]kgo.Offset)
	last := make(map[int32]int64)
	for p, end := range ends {
		if end > starts[p] {
			parts[p] = kgo.NewOffset().At(starts[p])
			last[p] = starts[p] - 1
		}
	}
	if len(parts) == 0 {
		return nil
	}
	cl, err := kgo.NewClient(append(opts,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: parts}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())...)
	if err != nil {
		t.Fatalf("creating the reader: %v", err)
	}
	defer cl.Close()

	var ids []string
	for !readAll(last, ends) {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s: read up to %v of %v: %v", topic, last, ends, ctx.Err())
		}
		fetches.EachError(func(_ string, p int32, err error) { t.Fatalf("reading %s partition %d: %v", topic, p, err) })
		fetches.EachRecord(func(r *kgo.Record) {
			last[r.Partition] = max(last[r.Partition], r.Offset)
			if r.Attrs.IsControl() || r.Offset >= ends[r.Partition] {
				return
			}
			recordTenant, id, err := decode(r.Value)
			if err != nil {
				t.Fatalf("decoding %s at %d/%d: %v", topic, r.Partition, r.Offset, err)
			}
			if recordTenant == tenant {
				ids = append(ids, id)
			}
		})
	}
	return ids
}

func decodeTicket(value []byte) (string, string, error) {
	var c schemas.TicketCommand
	err := schemas.Unmarshal(value, &c)
	return c.Tenant, c.EventID, err
}

func decodeNotification(value []byte) (string, string, error) {
	var n schemas.Notification
	err := schemas.Unmarshal(value, &n)
	return n.Tenant, n.EventID, err
}

func decodeDecision(value []byte) (string, string, error) {
	var d schemas.DecisionEvent
	err := schemas.Unmarshal(value, &d)
	return d.Tenant, d.EventID, err
}

// TestSecureBrokerRejectsBadCredentials checks that the SASL_SSL listener
// really authenticates and verifies: a wrong password and an untrusted CA
// both fail.
func TestSecureBrokerRejectsBadCredentials(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	good := secureConfig(t, kafkaconfig.MechanismSCRAMSHA512)
	if err := listBrokers(ctx, good); err != nil {
		t.Fatalf("listing brokers with the right credentials: %v", err)
	}

	wrongPassword := good
	wrongPassword.SASL.Password = "not-the-password"
	if err := listBrokers(ctx, wrongPassword); !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Errorf("listing brokers with a wrong password returned %v, expected SASL_AUTHENTICATION_FAILED", err)
	}

	otherCA := good
	otherCA.TLS.CAFile = writeSelfSignedCA(t)
	if err := listBrokers(ctx, otherCA); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("listing brokers trusting another CA returned %v, expected a certificate error", err)
	}
}

func listBrokers(ctx context.Context, cfg kafkaconfig.Config) error {
	opts, err := cfg.Opts()
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(append(opts, kgo.RetryTimeout(5*time.Second))...)
	if err != nil {
		return err
	}
	defer cl.Close()
	reqCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err = kadm.NewClient(cl).ListBrokers(reqCtx)
	return err
}

// writeSelfSignedCA writes a CA certificate that signed nothing the local
// broker uses, and returns its path.
func writeSelfSignedCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	template := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "untrusted test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "other-ca.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
