package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"mailtriage/internal/demo"
	"mailtriage/internal/testenv"
	"mailtriage/topics"
)

// The sample mailbox: 35 messages, 3 of them redeliveries of others.
const (
	sampleMailbox    = "../samples/mailbox"
	sampleRules      = "../config/rules.yaml"
	sampleMessages   = 35
	sampleDuplicates = 3
)

// sampleQueues is the number of routed messages of the sample mailbox per
// queue, as config/rules.yaml decides them.
var sampleQueues = map[string]int{
	"account-security": 7,
	"billing":          8,
	"general":          8,
	"orders":           6,
	"system":           3,
}

// slackCapture is a Slack webhook stand-in on 127.0.0.1 that stores the
// body of every post.
type slackCapture struct {
	srv   *httptest.Server
	mu    sync.Mutex // guards posts
	posts []string
}

func newSlackCapture(t *testing.T) *slackCapture {
	c := &slackCapture{}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "reading the body failed", http.StatusBadRequest)
			return
		}
		c.mu.Lock()
		c.posts = append(c.posts, string(body))
		c.mu.Unlock()
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *slackCapture) bodies() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.posts...)
}

// TestDemoAllRolesOnStack runs "mailtriage demo" with every sink against
// the real broker, PostgreSQL and ClickHouse, and a Slack stand-in, over
// the sample mailbox with a tenant of its own. It checks the demo's own
// totals and then each store directly. PostgreSQL must hold one ticket
// with one message per distinct message, and ClickHouse one row per
// decision with the queue counts of the ruleset. Slack must get one post
// without an address per notification, and the DLQ nothing of the run.
func TestDemoAllRolesOnStack(t *testing.T) {
	brokers := testenv.KafkaBrokers(t)
	dsn, _ := testSchemaDSN(t)
	chConn, chAddr, chDatabase, chTable := testClickHouse(t)
	slack := newSlackCapture(t)

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	suffix := randomSuffix(t)
	tenant := "e2e-" + suffix
	processorGroup := "mailtriage-e2e-demo-" + suffix
	adm := newAdmin(t, brokers)
	ensureTopics(ctx, t, adm)
	// The run's processor group starts at the end of the inbound topic, so
	// it does not process what earlier tests left there.
	seedGroup(ctx, t, adm, processorGroup, endOffsets(ctx, t, adm, topics.Inbound))
	start := endOffsets(ctx, t, adm, topics.DLQ)

	report, err := demo.Run(ctx, demo.Config{
		Brokers:        brokers,
		Mail:           []string{sampleMailbox},
		RulesFile:      sampleRules,
		Tenant:         tenant,
		Partitions:     testPartitions,
		ProcessorGroup: processorGroup,
		Timeout:        3 * time.Minute,
		Sinks: demo.SinkConfig{
			PostgresDSN:        dsn,
			ClickHouseAddr:     chAddr,
			ClickHouseDatabase: chDatabase,
			ClickHouseTable:    chTable,
			SlackWebhook:       slack.srv.URL + "/services/T000/B000/e2e",
			RunID:              suffix,
		},
	})
	if err != nil {
		t.Fatalf("demo run: %v", err)
	}
	routed := sampleMessages - sampleDuplicates
	// general-reply-thread.eml replies to general-export-question.eml and
	// joins its ticket, so one routed message opens no ticket.
	tickets := routed - 1

	t.Run("demo totals", func(t *testing.T) {
		got := report.Totals
		if got.Inbound != sampleMessages || got.Routed != routed || got.Duplicates != sampleDuplicates || got.DLQ != 0 || got.Missing != 0 {
			t.Errorf("totals = %+v, expected inbound %d, routed %d, duplicates %d, dlq 0, missing 0", got, sampleMessages, routed, sampleDuplicates)
		}
		s := got.Sinks
		if s == nil || s.Postgres == nil || s.ClickHouse == nil || s.Slack == nil {
			t.Fatalf("sink totals = %+v, expected all three sinks", s)
		}
		if s.Postgres.Tickets != tickets || s.Postgres.Messages != routed {
			t.Errorf("PostgreSQL totals = %+v, expected %d tickets and %d messages", *s.Postgres, tickets, routed)
		}
		if s.ClickHouse.Rows != sampleMessages {
			t.Errorf("ClickHouse rows = %d, expected %d", s.ClickHouse.Rows, sampleMessages)
		}
		if s.Slack.Posts != routed {
			t.Errorf("Slack posts = %d, expected %d", s.Slack.Posts, routed)
		}
	})

	t.Run("postgres", func(t *testing.T) {
		pool := newPool(t, dsn)
		var ticketRows, messages, maxPerTicket int
		err := pool.QueryRow(ctx, `
			SELECT count(*), coalesce(sum(m.n), 0), coalesce(max(m.n), 0)
			FROM tickets t
			LEFT JOIN (SELECT ticket_id, count(*) AS n FROM ticket_messages GROUP BY ticket_id) m ON m.ticket_id = t.id
			WHERE t.tenant = $1`, tenant).Scan(&ticketRows, &messages, &maxPerTicket)
		if err != nil {
			t.Fatal(err)
		}
		if ticketRows != tickets {
			t.Errorf("%d tickets, expected %d (messages minus duplicates minus the one follow-up)", ticketRows, tickets)
		}
		if messages != routed || maxPerTicket != 2 {
			t.Errorf("%d ticket messages, at most %d per ticket; expected %d, and 2 on the ticket with the follow-up", messages, maxPerTicket, routed)
		}
	})

	t.Run("clickhouse", func(t *testing.T) {
		table := fmt.Sprintf("`%s`.`%s`", chDatabase, chTable)
		var rows uint64
		if err := chConn.QueryRow(ctx, "SELECT count() FROM "+table+" FINAL WHERE tenant = ?", tenant).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		if rows != sampleMessages {
			t.Errorf("%d rows with FINAL, expected %d (one per decision)", rows, sampleMessages)
		}

		result, err := chConn.Query(ctx, "SELECT queue, duplicate, count() FROM "+table+" FINAL WHERE tenant = ? GROUP BY queue, duplicate", tenant)
		if err != nil {
			t.Fatal(err)
		}
		defer result.Close()
		queues := map[string]int{}
		duplicates := 0
		for result.Next() {
			var queue string
			var duplicate uint8
			var n uint64
			if err := result.Scan(&queue, &duplicate, &n); err != nil {
				t.Fatal(err)
			}
			if duplicate == 1 {
				duplicates += int(n)
				continue
			}
			queues[queue] = int(n)
		}
		if err := result.Err(); err != nil {
			t.Fatal(err)
		}
		if duplicates != sampleDuplicates {
			t.Errorf("%d duplicate rows, expected %d", duplicates, sampleDuplicates)
		}
		for queue, want := range sampleQueues {
			if queues[queue] != want {
				t.Errorf("queue %s has %d rows, expected %d", queue, queues[queue], want)
			}
		}
		if len(queues) != len(sampleQueues) {
			t.Errorf("queues %v, expected exactly %v", queues, sampleQueues)
		}
	})

	t.Run("slack", func(t *testing.T) {
		posts := slack.bodies()
		if len(posts) != routed {
			t.Errorf("%d posts, expected %d (one per notification)", len(posts), routed)
		}
		for i, body := range posts {
			if strings.Contains(body, "@") {
				t.Errorf("post %d contains '@', so an address may have reached Slack", i)
			}
		}
	})

	t.Run("dlq", func(t *testing.T) {
		end := stableOffsets(ctx, t, adm, topics.DLQ)
		if dead := tenantRecords(readRange(ctx, t, brokers, topics.DLQ, start, end), tenant); len(dead) != 0 {
			t.Errorf("the DLQ holds %d records of the run, expected none", len(dead))
		}
	})
}
