package main

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/connectors/postgres"
	"mailtriage/internal/testenv"
)

// offsetsFixture creates a topic with 2 partitions of 10 records each and
// returns its name, a unique group name and an admin client.
func offsetsFixture(t *testing.T) (brokers []string, topic, group string, admin *kadm.Client) {
	t.Helper()
	brokers = testenv.KafkaBrokers(t)
	suffix := fmt.Sprintf("%d", time.Now().UnixNano())
	topic, group = "offsetscmd."+suffix, "offsetscmd-group-"+suffix
	client, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	admin = kadm.NewClient(client)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := admin.CreateTopic(ctx, 2, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = admin.DeleteTopics(ctx, topic)
		_, _ = admin.DeleteGroups(ctx, group)
	})
	var records []*kgo.Record
	for p := int32(0); p < 2; p++ {
		for i := 0; i < 10; i++ {
			records = append(records, &kgo.Record{Topic: topic, Partition: p, Value: []byte("r")})
		}
	}
	if err := client.ProduceSync(ctx, records...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	return brokers, topic, group, admin
}

// joinGroup starts a consumer in group and waits until it is a member.
func joinGroup(t *testing.T, ctx context.Context, brokers []string, admin *kadm.Client, group, topic, clientID string) *kgo.Client {
	t.Helper()
	member, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ClientID(clientID),
		kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.DisableAutoCommit())
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for ctx.Err() == nil && !member.PollFetches(ctx).IsClientClosed() {
		}
	}()
	for {
		described, err := admin.DescribeGroups(ctx, group)
		if err == nil && len(described[group].Members) > 0 {
			return member
		}
		if ctx.Err() != nil {
			t.Fatalf("consumer %s never joined group %s", clientID, group)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// planRow matches a plan line: partition, current, new and difference.
func planRow(partition int, current, next string, diff string) *regexp.Regexp {
	return regexp.MustCompile(fmt.Sprintf(`(?m)^\s*%d\s+%s\s+%s\s+%s\s*$`, partition, regexp.QuoteMeta(current), next, regexp.QuoteMeta(diff)))
}

func TestOffsetsResetDryRun(t *testing.T) {
	brokers, topic, group, admin := offsetsFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var initial kadm.Offsets
	initial.Add(kadm.Offset{Topic: topic, Partition: 0, At: 6, LeaderEpoch: -1})
	if err := admin.CommitAllOffsets(ctx, group, initial); err != nil {
		t.Fatal(err)
	}

	var out, errOut bytes.Buffer
	args := []string{"--brokers", strings.Join(brokers, ","), "--group", group, "--topic", topic, "--to-earliest", "--dry-run"}
	if err := offsetsReset(ctx, args, &out, &errOut); err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	for _, re := range []*regexp.Regexp{planRow(0, "6", "0", "-6"), planRow(1, "-", "0", "+0")} {
		if !re.MatchString(out.String()) {
			t.Errorf("output lacks a line matching %s:\n%s", re, out.String())
		}
	}
	if !strings.Contains(out.String(), "dry run: nothing changed") {
		t.Errorf("output does not say the dry run changed nothing:\n%s", out.String())
	}

	fetched, err := admin.FetchOffsetsForTopics(ctx, group, topic)
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := fetched.Lookup(topic, 0); o.At != 6 {
		t.Errorf("partition 0 committed at %d after a dry run, expected still 6", o.At)
	}
	if o, _ := fetched.Lookup(topic, 1); o.At != -1 {
		t.Errorf("partition 1 committed at %d after a dry run, expected nothing", o.At)
	}
}

func TestOffsetsResetRefusesLiveGroup(t *testing.T) {
	brokers, topic, group, admin := offsetsFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	member := joinGroup(t, ctx, brokers, admin, group, topic, "refusal-test-consumer")
	defer member.Close()

	var out, errOut bytes.Buffer
	args := []string{"--brokers", strings.Join(brokers, ","), "--group", group, "--topic", topic, "--to-latest"}
	err := offsetsReset(ctx, args, &out, &errOut)
	if err == nil {
		t.Fatal("reset of a group with a live member succeeded, expected a refusal")
	}
	for _, want := range []string{"client refusal-test-consumer on host", "stop them"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if out.Len() != 0 {
		t.Errorf("refusal printed a plan:\n%s", out.String())
	}
}

func TestOffsetsResetPostgres(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	brokers, topic, group, admin := offsetsFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := postgres.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = pool.Exec(context.Background(), `DELETE FROM consumer_offsets WHERE consumer_group = $1`, group)
	})
	if _, err := pool.Exec(ctx, `INSERT INTO consumer_offsets (consumer_group, topic, partition, next_offset) VALUES ($1, $2, 0, 8), ($1, $2, 1, 9)`, group, topic); err != nil {
		t.Fatal(err)
	}
	stored := func() map[int32]int64 {
		rows, err := pool.Query(ctx, `SELECT partition, next_offset FROM consumer_offsets WHERE consumer_group = $1 AND topic = $2`, group, topic)
		if err != nil {
			t.Fatal(err)
		}
		got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([2]int64, error) {
			var p int32
			var o int64
			err := r.Scan(&p, &o)
			return [2]int64{int64(p), o}, err
		})
		if err != nil {
			t.Fatal(err)
		}
		out := map[int32]int64{}
		for _, g := range got {
			out[int32(g[0])] = g[1]
		}
		return out
	}
	args := []string{"--brokers", strings.Join(brokers, ","), "--group", group, "--topic", topic, "--postgres", dsn, "--by-offset", "-4"}

	// A running sink is a member of its Kafka group, so the reset refuses.
	member := joinGroup(t, ctx, brokers, admin, group, topic, "postgres-sink-test")
	var out, errOut bytes.Buffer
	err = offsetsReset(ctx, args, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "client postgres-sink-test") {
		t.Fatalf("reset while the sink runs: error %v, expected a refusal naming postgres-sink-test", err)
	}
	if got := stored(); got[0] != 8 || got[1] != 9 {
		t.Errorf("refused reset changed the stored offsets to %v", got)
	}
	member.Close()
	for {
		described, err := admin.DescribeGroups(ctx, group)
		if err == nil && len(described[group].Members) == 0 {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("the member never left the group")
		}
		time.Sleep(200 * time.Millisecond)
	}

	out.Reset()
	if err := offsetsReset(ctx, args, &out, &errOut); err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	if got := stored(); got[0] != 4 || got[1] != 5 {
		t.Errorf("stored offsets %v after --by-offset -4, expected partition 0 at 4 and 1 at 5", got)
	}
	if !strings.Contains(out.String(), "offsets stored in PostgreSQL") || !planRow(1, "9", "5", "-4").MatchString(out.String()) {
		t.Errorf("output does not show the PostgreSQL plan:\n%s", out.String())
	}
	fetched, err := admin.FetchOffsetsForTopics(ctx, group, topic)
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := fetched.Lookup(topic, 0); o.At != -1 {
		t.Errorf("the reset committed offset %d in Kafka, expected it to touch only PostgreSQL", o.At)
	}
}

func TestOffsetsSinkGroupNeedsPostgres(t *testing.T) {
	t.Setenv(envPostgresDSN, "")
	c := offsetsCommon{group: postgres.DefaultGroup}
	_, _, err := c.store(context.Background(), nil, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "consumer_offsets") || !strings.Contains(err.Error(), "--postgres") {
		t.Errorf("error %v, expected one that points to the consumer_offsets table and --postgres", err)
	}
}
