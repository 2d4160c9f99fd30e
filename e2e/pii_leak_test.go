package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kadm"

	"mailtriage/connectors/clickhouse"
	"mailtriage/connectors/postgres"
	"mailtriage/internal/logging"
	"mailtriage/internal/metrics"
	"mailtriage/internal/metrics/metricstest"
	"mailtriage/internal/testenv"
	"mailtriage/processors"
	"mailtriage/processors/runner"
	"mailtriage/schemas"
)

// TestPIILeakNowhereOnStack runs the processor and the PostgreSQL, Slack
// and ClickHouse sinks on the real stack over mail seeded with every PII
// kind that the redactor detects (pii_seeds_test.go), with sender names
// and addresses in the From header. One message fails classification and
// goes to the DLQ after Redact ran. One record is not Avro at all and one
// is an Avro record cut short, both with seeded values in their bytes.
//
// No seeded value may appear raw, JSON-escaped or mrkdwn-escaped in these
// outputs: the Slack posts, the string columns of the ClickHouse
// decisions, dead letters and feedback tables, the DLQ record headers, the
// metrics label values, the log lines (JSON at debug level, from every
// component) and the subject and text columns of the PostgreSQL tickets. The Slack posts must show
// the placeholders of the kinds they replaced, and each analytics row
// must count each kind of its message.
func TestPIILeakNowhereOnStack(t *testing.T) {
	brokers := testenv.KafkaBrokers(t)
	dsn, schema := testSchemaDSN(t)
	pool := newPool(t, dsn)
	chConn, chAddr, chDatabase, chTable := testClickHouse(t)
	slackServer := newSlackCapture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	// The log check is registered first, so it runs last, after every
	// component has stopped and written its last line.
	var logs lockedBuffer
	logger := logging.New(&logs, logging.Options{Role: "pii-e2e", Format: logging.FormatJSON, Level: slog.LevelDebug})
	t.Cleanup(func() { checkLogLines(t, logs.String()) })

	reg := metrics.NewRegistry()
	metricsServer, err := metrics.Listen("127.0.0.1:0", reg, logger.With("component", "metrics"))
	if err != nil {
		t.Fatal(err)
	}
	serveCtx, stopServing := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- metricsServer.Serve(serveCtx) }()
	t.Cleanup(func() {
		stopServing()
		if err := <-served; err != nil {
			t.Errorf("metrics server failed: %v", err)
		}
	})
	metricsURL := "http://" + metricsServer.Addr().String() + metrics.Path

	suffix := randomSuffix(t)
	tenant := "pii-" + suffix
	group := "mailtriage-e2e-pii-" + suffix
	adm := newAdmin(t, brokers)
	ensureTopics(ctx, t, adm)
	stack := &piiStack{
		brokers: brokers,
		adm:     adm,
		log:     logger,
		reg:     reg,
		run:     createRunTopics(ctx, t, adm, "e2e.pii."+suffix),
		own:     createPIITopics(ctx, t, adm, "e2e.pii."+suffix),
	}
	tables := clickhouse.Tables{
		Decisions:    chTable,
		Feedback:     chTable + "_feedback",
		TicketEvents: chTable + "_ticket_events",
		DeadLetters:  chTable + "_dead_letters",
	}
	dropClickHouseTablesAtCleanup(t, chConn, chDatabase, tables.Feedback, tables.TicketEvents, tables.DeadLetters)

	stack.startPostgresSink(ctx, t, dsn, pool, group+"-postgres")
	stack.startSlackSink(ctx, t, pool, schema, group+"-slack", tenant, slackServer.srv.URL+"/services/T000/B000/pii")
	stack.startClickHouseSink(ctx, t, chAddr, chDatabase, tables, group+"-clickhouse")

	// The mail: every test message, then a record that is not Avro and an
	// Avro record cut short.
	received := time.Now().UTC().Truncate(time.Second)
	var values [][]byte
	var keys []string
	byID := map[string]piiMail{} // message ID → test message
	tickets := 0
	for _, m := range piiMails {
		e := &schemas.InboundEmail{
			Tenant:     tenant,
			MessageID:  m.id + "@" + tenant + ".example.test",
			Source:     schemas.SourceImport,
			ReceivedAt: received,
			From:       &schemas.Address{Name: m.fromName, Address: m.fromAddress},
			To:         []schemas.Address{{Name: "Acme Support", Address: "support@acme.example"}},
			Subject:    m.subject,
			Text:       m.body,
		}
		byID[e.MessageID] = m
		values, keys = append(values, encodeEmail(t, e)), append(keys, e.Key())
		if !m.deadLetter {
			tickets++
		}
	}
	values, keys = append(values, undecodablePII), append(keys, tenant+"/undecodable@example.test")
	truncated := encodeEmail(t, &schemas.InboundEmail{
		Tenant: tenant, MessageID: "truncated@" + tenant + ".example.test", Source: schemas.SourceImport, ReceivedAt: received,
		From:    &schemas.Address{Name: piiMails[0].fromName, Address: piiMails[0].fromAddress},
		Subject: piiMails[len(piiMails)-1].subject, Text: piiMails[len(piiMails)-1].body,
	})
	values, keys = append(values, truncated[:len(truncated)*2/3]), append(keys, tenant+"/truncated@example.test")
	produceToPartition(ctx, t, brokers, stack.run.inbound, 0, values, keys)

	rules, err := processors.ParseRules("pii-rules.yaml", []byte(poisonRules))
	if err != nil {
		t.Fatalf("parsing the test rules: %v", err)
	}
	chain, err := processors.DefaultChain(processors.ChainConfig{Rules: rules, Model: markerModel{marker: poisonMarker("classify")}})
	if err != nil {
		t.Fatalf("building the chain: %v", err)
	}
	started := time.Now()
	stop := stack.startRunner(t, group, chain)
	waitGroupAt(ctx, t, adm, group, stack.run.inbound, endOffsets(ctx, t, adm, stack.run.inbound))
	stop()
	t.Logf("processor: %d records in %v", len(values), time.Since(started).Round(time.Millisecond))

	// Wait for every store to hold what the run produced.
	waitFor(ctx, t, "the tickets", func() (bool, string) {
		n := ticketCount(ctx, t, pool, tenant)
		return n >= tickets, fmt.Sprintf("%d of %d tickets", n, tickets)
	})
	waitFor(ctx, t, "the Slack posts", func() (bool, string) {
		n := len(slackServer.bodies())
		return n >= tickets, fmt.Sprintf("%d of %d posts", n, tickets)
	})
	decisions := fmt.Sprintf("`%s`.`%s`", chDatabase, tables.Decisions)
	waitFor(ctx, t, "the ClickHouse decisions", func() (bool, string) {
		n, err := clickHouseCount(ctx, chConn, "SELECT count() FROM "+decisions+" FINAL WHERE tenant = ?", tenant)
		if err != nil {
			return false, err.Error()
		}
		return n >= uint64(tickets), fmt.Sprintf("%d of %d rows", n, tickets)
	})
	deadLetters := fmt.Sprintf("`%s`.`%s`", chDatabase, tables.DeadLetters)
	waitFor(ctx, t, "the ClickHouse dead letters", func() (bool, string) {
		n, err := clickHouseCount(ctx, chConn, "SELECT count() FROM "+deadLetters+" FINAL WHERE source_topic = ?", stack.run.inbound)
		if err != nil {
			return false, err.Error()
		}
		return n >= deadLetterCount, fmt.Sprintf("%d of %d rows", n, deadLetterCount)
	})

	// A reassignment, so that the feedback table gets a row of the tenant.
	reassigned := processors.TicketRef(tenant, piiMails[0].id+"@"+tenant+".example.test")
	if _, err := postgres.Reassign(ctx, pool, postgres.ReassignRequest{
		Tenant: tenant, TicketRef: reassigned, Queue: "vip", Actor: "operator-e2e", Source: schemas.FeedbackSourceCLI,
	}); err != nil {
		t.Fatalf("reassigning ticket %s: %v", reassigned, err)
	}
	feedback := fmt.Sprintf("`%s`.`%s`", chDatabase, tables.Feedback)
	waitFor(ctx, t, "the ClickHouse feedback row", func() (bool, string) {
		n, err := clickHouseCount(ctx, chConn, "SELECT count() FROM "+feedback+" FINAL WHERE tenant = ?", tenant)
		if err != nil {
			return false, err.Error()
		}
		return n >= 1, fmt.Sprintf("%d of 1 rows", n)
	})

	t.Run("slack posts", func(t *testing.T) {
		posts := slackServer.bodies()
		if len(posts) != tickets {
			t.Errorf("%d Slack posts, expected %d (one per message that became a ticket)", len(posts), tickets)
		}
		for i, post := range posts {
			for _, leak := range findLeaks(post) {
				t.Errorf("Slack post %d contains the seeded %s:\n%s", i, leak, post)
			}
		}
		for id, m := range byID {
			if m.deadLetter {
				continue
			}
			post := postOfTicket(posts, processors.TicketRef(tenant, id))
			if post == "" {
				t.Errorf("message %s: no Slack post names ticket %s", m.id, processors.TicketRef(tenant, id))
				continue
			}
			for kind := range m.counts {
				if !strings.Contains(post, piiPlaceholders[kind]) {
					t.Errorf("message %s: Slack post lacks the placeholder %s of the %s values it carried:\n%s", m.id, piiPlaceholders[kind], kind, post)
				}
			}
		}
	})

	t.Run("clickhouse decisions", func(t *testing.T) {
		for i, row := range clickHouseStringRows(ctx, t, chConn, chDatabase, tables.Decisions) {
			for _, leak := range findLeaks(row) {
				t.Errorf("decisions row %d contains the seeded %s:\n%s", i, leak, row)
			}
		}
		counts := clickHousePIICounts(ctx, t, chConn, decisions, tenant)
		if len(counts) != tickets {
			t.Errorf("%d decision rows of the tenant, expected %d", len(counts), tickets)
		}
		for id, m := range byID {
			got, ok := counts[id]
			if m.deadLetter {
				if ok {
					t.Errorf("message %s went to the DLQ but has a decision row", m.id)
				}
				continue
			}
			if !maps.Equal(got, m.counts) {
				t.Errorf("message %s: pii_kinds/pii_counts %v, expected %v", m.id, got, m.counts)
			}
		}
	})

	t.Run("clickhouse dead letters and feedback", func(t *testing.T) {
		for _, table := range []string{tables.DeadLetters, tables.Feedback, tables.TicketEvents} {
			for i, row := range clickHouseStringRows(ctx, t, chConn, chDatabase, table) {
				for _, leak := range findLeaks(row) {
					t.Errorf("%s row %d contains the seeded %s:\n%s", table, i, leak, row)
				}
			}
		}
		stages, err := chConn.Query(ctx, "SELECT stage, count() FROM "+deadLetters+" FINAL WHERE source_topic = ? GROUP BY stage", stack.run.inbound)
		if err != nil {
			t.Fatal(err)
		}
		defer stages.Close()
		got := map[string]uint64{}
		for stages.Next() {
			var stage string
			var n uint64
			if err := stages.Scan(&stage, &n); err != nil {
				t.Fatal(err)
			}
			got[stage] = n
		}
		want := map[string]uint64{runner.StageDecode: 2, "classify": 1}
		if !maps.Equal(got, want) {
			t.Errorf("dead letters by stage %v, expected %v", got, want)
		}
	})

	t.Run("postgres tickets", func(t *testing.T) {
		texts := postgresTexts(ctx, t, pool, tenant)
		if len(texts) == 0 {
			t.Fatalf("no ticket text of tenant %s was read", tenant)
		}
		placeholders := 0
		for column, text := range texts {
			for _, leak := range findLeaks(text) {
				t.Errorf("%s contains the seeded %s:\n%s", column, leak, text)
			}
			for _, p := range piiPlaceholders {
				placeholders += strings.Count(text, p)
			}
		}
		if placeholders == 0 {
			t.Errorf("no ticket text contains a redaction placeholder, expected the redacted subjects and texts")
		}
	})

	// Only the headers: the value of a dead letter keeps the source record
	// as it was, so that it can be replayed.
	t.Run("dlq headers", func(t *testing.T) {
		records := readRange(ctx, t, brokers, stack.own.dlq,
			startOffsets(ctx, t, stack, stack.own.dlq), stableOffsets(ctx, t, adm, stack.own.dlq))
		stages := map[string]int{}
		for _, rec := range records {
			stages[header(rec, runner.HeaderStage)]++
			for _, h := range rec.Headers {
				for _, leak := range findLeaks(h.Key + "=" + string(h.Value)) {
					t.Errorf("DLQ record %d/%d: header %s contains the seeded %s: %q", rec.Partition, rec.Offset, h.Key, leak, h.Value)
				}
			}
		}
		want := map[string]int{runner.StageDecode: 2, "classify": 1}
		if !maps.Equal(stages, want) {
			t.Errorf("DLQ records by stage %v, expected %v", stages, want)
		}
	})

	t.Run("metrics labels", func(t *testing.T) {
		families := metricstest.Scrape(t, metricsURL)
		labels := 0
		for name, fam := range families {
			for _, m := range fam.GetMetric() {
				for _, l := range m.GetLabel() {
					labels++
					for _, leak := range findLeaks(l.GetName() + "=" + l.GetValue()) {
						t.Errorf("metric %s: label %s=%q contains the seeded %s", name, l.GetName(), l.GetValue(), leak)
					}
				}
			}
		}
		if labels == 0 {
			t.Errorf("the scrape has no label at all, expected the processor's and sinks' series")
		}
		for stage, want := range map[string]float64{runner.StageDecode: 2, "classify": 1} {
			if n, ok := families.Value("mailtriage_dead_letters_total", "stage", stage); !ok || n != want {
				t.Errorf("mailtriage_dead_letters_total{stage=%q} = %v (present %v), expected %v", stage, n, ok, want)
			}
		}
	})
}

// deadLetterCount is the number of records of the run that go to the DLQ:
// the record that is not Avro, the truncated one and the message whose
// classification fails.
const deadLetterCount = 3

// postOfTicket returns the Slack post that names ticket ref, or "".
func postOfTicket(posts []string, ref string) string {
	for _, p := range posts {
		if strings.Contains(p, ref) {
			return p
		}
	}
	return ""
}

// clickHousePIICounts returns the PII counts of each decision row of
// tenant, by message ID.
func clickHousePIICounts(ctx context.Context, t *testing.T, conn driver.Conn, table, tenant string) map[string]map[string]int32 {
	t.Helper()
	rows, err := conn.Query(ctx, "SELECT message_id, pii_kinds, pii_counts FROM "+table+" FINAL WHERE tenant = ?", tenant)
	if err != nil {
		t.Fatalf("reading the PII counts: %v", err)
	}
	defer rows.Close()
	out := map[string]map[string]int32{}
	for rows.Next() {
		var id string
		var kinds []string
		var counts []uint32
		if err := rows.Scan(&id, &kinds, &counts); err != nil {
			t.Fatal(err)
		}
		if len(kinds) != len(counts) {
			t.Errorf("message %s: %d PII kinds but %d counts", id, len(kinds), len(counts))
			continue
		}
		m := map[string]int32{}
		for i, kind := range kinds {
			m[kind] = int32(counts[i])
		}
		out[id] = m
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// startOffsets lists the start offsets of topic, which the test owns.
func startOffsets(ctx context.Context, t *testing.T, s *piiStack, topic string) kadm.ListedOffsets {
	t.Helper()
	offsets, err := s.adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = offsets.Error()
	}
	if err != nil {
		t.Fatalf("listing the start offsets of %s: %v", topic, err)
	}
	return offsets
}

// checkLogLines checks that every log line is a JSON object and contains
// no seeded value, and that the run logged its dead letters.
func checkLogLines(t *testing.T, text string) {
	lines := strings.Split(strings.TrimSpace(text), "\n")
	deadLetterLines := 0
	for i, line := range lines {
		var decoded map[string]any
		if err := json.Unmarshal([]byte(line), &decoded); err != nil {
			t.Errorf("log line %d is not JSON: %v\n%s", i+1, err, line)
			continue
		}
		if decoded["msg"] == "record sent to the dead-letter topic" {
			deadLetterLines++
		}
		for _, leak := range findLeaks(line) {
			t.Errorf("log line %d contains the seeded %s:\n%s", i+1, leak, line)
		}
	}
	if deadLetterLines != deadLetterCount {
		t.Errorf("%d log lines of dead letters, expected %d (the two undecodable records and the failed classification) among %d lines", deadLetterLines, deadLetterCount, len(lines))
	}
	t.Logf("checked %d log lines", len(lines))
}
