package e2e

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/connectors/clickhouse"
	"mailtriage/connectors/postgres"
	"mailtriage/connectors/slack"
	"mailtriage/internal/metrics"
	"mailtriage/processors"
	"mailtriage/processors/runner"
	"mailtriage/topics"
)

// lockedBuffer is a bytes.Buffer that several goroutines write, as the
// log output of every component of a run.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// piiTopics are the topics that the PII test owns besides its runTopics:
// the DLQ and the feedback and ticket events topics, so that reading
// them whole reads only the test's records.
type piiTopics struct {
	dlq, feedback, ticketEvents string
}

// createPIITopics creates the test's own DLQ, feedback and ticket events
// topics, deleted at cleanup.
func createPIITopics(ctx context.Context, t *testing.T, adm *kadm.Client, prefix string) piiTopics {
	t.Helper()
	names := piiTopics{dlq: prefix + ".dlq", feedback: prefix + ".feedback", ticketEvents: prefix + ".ticket-events"}
	for _, name := range []string{names.dlq, names.feedback, names.ticketEvents} {
		resp, err := adm.CreateTopic(ctx, testPartitions, 1, nil, name)
		if err == nil {
			err = resp.Err
		}
		if err != nil {
			t.Fatalf("creating topic %s: %v", name, err)
		}
	}
	deleteTopicsAtCleanup(t, adm, names.dlq, names.feedback, names.ticketEvents)
	return names
}

// piiStack is what the sinks and the processor of the PII test share:
// one logger, one metrics registry and the test's topics. The runner and
// each sink add their own "component" attribute to the logger.
type piiStack struct {
	brokers []string
	adm     *kadm.Client
	log     *slog.Logger
	reg     *metrics.Registry
	run     runTopics
	own     piiTopics
}

// startRunner runs the exactly-once processor with chain, the stack's
// logger and metrics and the test's DLQ, until the returned stop is called
// (also at cleanup).
func (s *piiStack) startRunner(t *testing.T, group string, chain processors.Chain) (stop func()) {
	t.Helper()
	r, err := runner.New(runner.Config{
		Brokers:         s.brokers,
		Group:           group,
		TransactionalID: group + "-txn",
		InputTopic:      s.run.inbound,
		ChangelogTopic:  s.run.changelog,
		GlobalTopic:     s.run.threads,
		DLQTopic:        s.own.dlq,
		Chain:           chain,
		Outputs:         processors.Outputs,
		Logger:          s.log,
		Metrics:         metrics.NewProcessor(s.reg),
		RestoreTimeout:  time.Minute,
	})
	if err != nil {
		t.Fatalf("creating the runner: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()

	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("runner Run returned %v, expected nil after cancel", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("runner Run did not return within 30s of cancel")
		}
		r.Close()
	}
	t.Cleanup(stop)
	return stop
}

// startPostgresSink migrates the test schema of pool and runs the ticket
// sink from the current end of the tickets topic, with the test's DLQ and
// feedback topics.
func (s *piiStack) startPostgresSink(ctx context.Context, t *testing.T, dsn string, pool *pgxpool.Pool, group string) {
	t.Helper()
	if _, err := postgres.Migrate(ctx, pool); err != nil {
		t.Fatalf("migrating the test schema: %v", err)
	}
	next := map[int32]int64{}
	endOffsets(ctx, t, s.adm, topics.Tickets).Each(func(o kadm.ListedOffset) { next[o.Partition] = o.Offset })
	if err := postgres.SeedOffsets(ctx, pool, group, topics.Tickets, next); err != nil {
		t.Fatal(err)
	}
	sink, err := postgres.New(postgres.Config{
		DSN:           dsn,
		KafkaOpts:     []kgo.Opt{kgo.SeedBrokers(s.brokers...)},
		Group:         group,
		DLQTopic:      s.own.dlq,
		FeedbackTopic: s.own.feedback,
		Logger:        s.log,
		Metrics:       metrics.NewSink(s.reg, metrics.SinkPostgres),
	})
	if err != nil {
		t.Fatalf("creating the PostgreSQL sink: %v", err)
	}
	runSink(t, "postgres", sink.Run, sink.Close)
}

// startSlackSink runs the Slack sink from the current end of the
// notifications topic, posting the tenant's notifications to webhook.
func (s *piiStack) startSlackSink(ctx context.Context, t *testing.T, pool *pgxpool.Pool, schema, group, tenant, webhook string) {
	t.Helper()
	if err := slack.Migrate(ctx, pool, schema); err != nil {
		t.Fatalf("migrating the Slack ledger: %v", err)
	}
	seedGroup(ctx, t, s.adm, group, endOffsets(ctx, t, s.adm, topics.Notifications))
	sink, err := slack.New(slack.Config{
		ClientOpts: []kgo.Opt{kgo.SeedBrokers(s.brokers...)},
		Group:      group,
		DLQTopic:   s.own.dlq,
		Webhooks:   slack.Webhooks{Tenants: map[string]string{tenant: webhook}},
		Ledger:     slack.NewPostgresLedger(pool, schema),
		Logger:     s.log,
		Metrics:    metrics.NewSink(s.reg, metrics.SinkSlack),
	})
	if err != nil {
		t.Fatalf("creating the Slack sink: %v", err)
	}
	runSink(t, "slack", sink.Run, sink.Close)
}

// startClickHouseSink runs the ClickHouse sink from the current end of
// the analytics topic, and from the start of the test's own DLQ, feedback
// and ticket events topics, into the tables of tables.
func (s *piiStack) startClickHouseSink(ctx context.Context, t *testing.T, addr, database string, tables clickhouse.Tables, group string) {
	t.Helper()
	seedGroup(ctx, t, s.adm, group, endOffsets(ctx, t, s.adm, topics.Analytics))
	sink, err := clickhouse.New(clickhouse.Config{
		Addr:              addr,
		Database:          database,
		Table:             tables.Decisions,
		FeedbackTable:     tables.Feedback,
		TicketEventsTable: tables.TicketEvents,
		DeadLettersTable:  tables.DeadLetters,
		KafkaOpts:         []kgo.Opt{kgo.SeedBrokers(s.brokers...)},
		Group:             group,
		DLQTopic:          s.own.dlq,
		FeedbackTopic:     s.own.feedback,
		TicketEventsTopic: s.own.ticketEvents,
		Logger:            s.log,
		Metrics:           metrics.NewSink(s.reg, metrics.SinkClickHouse),
	})
	if err != nil {
		t.Fatalf("creating the ClickHouse sink: %v", err)
	}
	runSink(t, "clickhouse", sink.Run, func() { _ = sink.Close() })
}

// dropClickHouseTablesAtCleanup drops the named tables of database at
// cleanup.
func dropClickHouseTablesAtCleanup(t *testing.T, conn driver.Conn, database string, tables ...string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, table := range tables {
			if err := conn.Exec(ctx, fmt.Sprintf("DROP TABLE IF EXISTS `%s`.`%s`", database, table)); err != nil {
				t.Errorf("dropping ClickHouse table %s.%s: %v", database, table, err)
			}
		}
	})
}

// clickHouseCount returns the result of a count() query with args.
func clickHouseCount(ctx context.Context, conn driver.Conn, query string, args ...any) (uint64, error) {
	var n uint64
	err := conn.QueryRow(ctx, query, args...).Scan(&n)
	return n, err
}

// clickHouseStringRows returns, for each row of database.table (FINAL),
// the values of its String and Array(String) columns as "column=value"
// lines. The columns come from system.columns, so a column added later
// is read too.
func clickHouseStringRows(ctx context.Context, t *testing.T, conn driver.Conn, database, table string) []string {
	t.Helper()
	rows, err := conn.Query(ctx, "SELECT name, type FROM system.columns WHERE database = ? AND table = ?", database, table)
	if err != nil {
		t.Fatalf("listing the columns of %s.%s: %v", database, table, err)
	}
	var names, types []string
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			t.Fatal(err)
		}
		if typ == "String" || typ == "Array(String)" {
			names, types = append(names, name), append(types, typ)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if len(names) == 0 {
		t.Fatalf("table %s.%s has no String column", database, table)
	}

	query := fmt.Sprintf("SELECT `%s` FROM `%s`.`%s` FINAL", strings.Join(names, "`, `"), database, table)
	rows, err = conn.Query(ctx, query)
	if err != nil {
		t.Fatalf("reading %s.%s: %v", database, table, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		dest := make([]any, len(names))
		for i, typ := range types {
			if typ == "String" {
				dest[i] = new(string)
			} else {
				dest[i] = new([]string)
			}
		}
		if err := rows.Scan(dest...); err != nil {
			t.Fatalf("scanning a row of %s.%s: %v", database, table, err)
		}
		var b strings.Builder
		for i, name := range names {
			switch v := dest[i].(type) {
			case *string:
				fmt.Fprintf(&b, "%s=%s\n", name, *v)
			case *[]string:
				fmt.Fprintf(&b, "%s=%s\n", name, strings.Join(*v, "|"))
			}
		}
		out = append(out, b.String())
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// postgresTexts returns the text columns of the tenant's tickets, ticket
// messages and ticket events that may carry message content: subjects,
// texts, reply texts, attachment metadata and event payloads. The
// requester's name and address are left out, because the ticket store
// keeps them by design.
func postgresTexts(ctx context.Context, t *testing.T, pool *pgxpool.Pool, tenant string) map[string]string {
	t.Helper()
	queries := map[string]string{
		"tickets.subject": `SELECT ticket_ref, subject FROM tickets WHERE tenant = $1`,
		"ticket_messages.subject,text,reply_text,attachments": `SELECT t.ticket_ref, m.subject || E'\n' || m.text || E'\n' || m.reply_text || E'\n' || m.attachments::text
			FROM ticket_messages m JOIN tickets t ON t.id = m.ticket_id WHERE t.tenant = $1`,
		"ticket_events.payload": `SELECT t.ticket_ref, e.payload::text FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id WHERE t.tenant = $1`,
	}
	out := map[string]string{}
	for column, query := range queries {
		rows, err := pool.Query(ctx, query, tenant)
		if err != nil {
			t.Fatalf("reading %s: %v", column, err)
		}
		for rows.Next() {
			var ref, text string
			if err := rows.Scan(&ref, &text); err != nil {
				rows.Close()
				t.Fatal(err)
			}
			out[column+" of "+ref] += text + "\n"
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}
