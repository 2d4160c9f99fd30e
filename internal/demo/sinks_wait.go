package demo

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/connectors/slack"
	"mailtriage/schemas"
	"mailtriage/topics"
)

// sinkPollInterval is how often the demo checks whether the sinks caught up.
const sinkPollInterval = 200 * time.Millisecond

// runOutputs are the event IDs that the processor wrote for the messages of
// one run, by topic.
type runOutputs struct {
	decisions     []string
	tickets       []string
	notifications []string
}

// readOutputs reads the analytics, tickets and notifications topics from
// the sinks' start offsets until it has found the outputs of every message
// that the report counts. Those are a decision for each routed or
// duplicate message, and a ticket command and a notification for each
// routed one. Decisions are matched by the imported record keys, and the
// other two by the ticket references of those decisions.
func (s *sinkRun) readOutputs(ctx context.Context, items []imported, report *Report) (runOutputs, error) {
	wantDecisions := report.Totals.Routed + report.Totals.Duplicates
	wantTickets := report.Totals.Routed

	keys := make(map[string]bool, len(items))
	for _, it := range items {
		keys[it.key] = true
	}

	consumer, err := kgo.NewClient(
		kgo.SeedBrokers(s.brokers...),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumePartitions(startOffsets(s.start)),
	)
	if err != nil {
		return runOutputs{}, fmt.Errorf("creating the consumer of the processor's outputs: %w", err)
	}
	defer consumer.Close()

	var out runOutputs
	ticketKeys := make(map[string]bool)
	var tickets, notifications []*kgo.Record // kept until their decisions are known
	for {
		out.tickets = matchTicketKeys[schemas.TicketCommand](tickets, ticketKeys)
		out.notifications = matchTicketKeys[schemas.Notification](notifications, ticketKeys)
		if len(out.decisions) >= wantDecisions && len(out.tickets) >= wantTickets && len(out.notifications) >= wantTickets {
			return out, nil
		}

		fetches := consumer.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return out, fmt.Errorf("reading the outputs for the sinks: found %d of %d decisions, %d of %d ticket commands and %d of %d notifications: %w",
				len(out.decisions), wantDecisions, len(out.tickets), wantTickets, len(out.notifications), wantTickets, err)
		}
		if errs := fetches.Errors(); len(errs) > 0 {
			return out, fmt.Errorf("reading %s: %w", errs[0].Topic, errs[0].Err)
		}
		var decodeErr error
		fetches.EachRecord(func(rec *kgo.Record) {
			switch rec.Topic {
			case topics.Analytics:
				if !keys[string(rec.Key)] {
					return
				}
				var d schemas.DecisionEvent
				if err := schemas.Unmarshal(rec.Value, &d); err != nil {
					decodeErr = fmt.Errorf("decoding %s partition %d offset %d: %w", rec.Topic, rec.Partition, rec.Offset, err)
					return
				}
				out.decisions = append(out.decisions, d.EventID)
				if !d.Duplicate {
					ticketKeys[d.Tenant+"/"+d.TicketRef] = true
				}
			case topics.Tickets:
				tickets = append(tickets, rec)
			case topics.Notifications:
				notifications = append(notifications, rec)
			}
		})
		if decodeErr != nil {
			return out, decodeErr
		}
	}
}

// matchTicketKeys returns the event IDs of the records whose key is in
// keys. Records that do not decode are skipped: they are not this run's.
func matchTicketKeys[T schemas.TicketCommand | schemas.Notification](records []*kgo.Record, keys map[string]bool) []string {
	var ids []string
	for _, rec := range records {
		if !keys[string(rec.Key)] {
			continue
		}
		var v T
		if schemas.Unmarshal(rec.Value, &v) != nil {
			continue
		}
		switch v := any(v).(type) {
		case schemas.TicketCommand:
			ids = append(ids, v.EventID)
		case schemas.Notification:
			ids = append(ids, v.EventID)
		}
	}
	return ids
}

// waitCaughtUp waits until every configured sink has stored the outputs of
// the run, and returns the sinks' totals for them.
func (s *sinkRun) waitCaughtUp(ctx context.Context, out runOutputs) (*SinkTotals, error) {
	var chConn driver.Conn // nil without ClickHouseAddr
	if s.cfg.ClickHouseAddr != "" {
		conn, err := s.openClickHouse()
		if err != nil {
			return nil, err
		}
		defer conn.Close()
		chConn = conn
	}

	ticker := time.NewTicker(sinkPollInterval)
	defer ticker.Stop()
	for {
		totals, lagging, err := s.check(ctx, chConn, out)
		if err != nil {
			return nil, err
		}
		if lagging == "" {
			return totals, nil
		}
		if err := s.failure(); err != nil {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%s: %w", lagging, ctx.Err())
		case <-ticker.C:
		}
	}
}

// check reads what each sink stored of out. lagging describes the first
// sink that has not caught up, or is empty when all have.
func (s *sinkRun) check(ctx context.Context, conn driver.Conn, out runOutputs) (*SinkTotals, string, error) {
	totals := &SinkTotals{}
	var lagging []string

	if s.cfg.PostgresDSN != "" {
		pg, err := s.postgresTotals(ctx, out.tickets)
		if err != nil {
			return nil, "", err
		}
		totals.Postgres = pg
		if pg.Messages < len(out.tickets) {
			lagging = append(lagging, fmt.Sprintf("PostgreSQL has %d of %d ticket messages", pg.Messages, len(out.tickets)))
		}
	}
	if conn != nil {
		rows, err := s.clickHouseRows(ctx, conn, out.decisions)
		if err != nil {
			return nil, "", err
		}
		totals.ClickHouse = &ClickHouseTotals{Rows: rows}
		if rows < len(out.decisions) {
			lagging = append(lagging, fmt.Sprintf("ClickHouse has %d of %d decisions", rows, len(out.decisions)))
		}
	}
	if s.cfg.SlackWebhook != "" {
		sl, done, err := s.slackTotals(ctx, out.notifications)
		if err != nil {
			return nil, "", err
		}
		totals.Slack = sl
		if done < len(out.notifications) {
			lagging = append(lagging, fmt.Sprintf("the Slack ledger has %d of %d notifications", done, len(out.notifications)))
		}
	}
	return totals, strings.Join(lagging, ", "), nil
}

// postgresTotals counts the ticket messages of the run's ticket commands
// and the tickets they belong to.
func (s *sinkRun) postgresTotals(ctx context.Context, eventIDs []string) (*PostgresTotals, error) {
	var t PostgresTotals
	err := s.pool.QueryRow(ctx,
		`SELECT count(*), count(DISTINCT ticket_id) FROM ticket_messages WHERE event_id = ANY($1)`,
		eventIDs).Scan(&t.Messages, &t.Tickets)
	if err != nil {
		return nil, fmt.Errorf("counting the run's tickets in PostgreSQL: %w", err)
	}
	return &t, nil
}

// eventIDPattern matches the hex event IDs of the processor's outputs,
// which the ClickHouse query contains as literals.
var eventIDPattern = regexp.MustCompile(`^[0-9a-f]{1,128}$`)

// clickHouseRows counts the run's decisions in the decisions table after
// collapsing copies with FINAL.
func (s *sinkRun) clickHouseRows(ctx context.Context, conn driver.Conn, eventIDs []string) (int, error) {
	if len(eventIDs) == 0 {
		return 0, nil
	}
	quoted := make([]string, len(eventIDs))
	for i, id := range eventIDs {
		// The IDs go into the text because clickhouse-go/v2 v2.51 hung
		// on bound parameters against ClickHouse 18.16.
		if !eventIDPattern.MatchString(id) {
			return 0, fmt.Errorf("decision event ID %q is not lower-case hex, so the demo cannot look it up in ClickHouse", id)
		}
		quoted[i] = "'" + id + "'"
	}
	query := fmt.Sprintf("SELECT count() FROM `%s`.`%s` FINAL WHERE event_id IN (%s)",
		s.cfg.ClickHouseDatabase, s.cfg.ClickHouseTable, strings.Join(quoted, ", "))

	var n uint64
	if err := conn.QueryRow(ctx, query).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting the run's decisions in ClickHouse: %w", err)
	}
	return int(n), nil
}

// slackTotals counts the run's notifications that the ledger has in a
// final state (done) and those it delivered (Posts).
func (s *sinkRun) slackTotals(ctx context.Context, eventIDs []string) (*SlackTotals, int, error) {
	var t SlackTotals
	done := 0
	for _, id := range eventIDs {
		e, ok, err := s.ledger.Lookup(ctx, id)
		if err != nil {
			return nil, 0, fmt.Errorf("reading the Slack delivery ledger: %w", err)
		}
		if !ok || e.Status == slack.StatusPending {
			continue
		}
		done++
		if e.Status == slack.StatusDelivered {
			t.Posts++
		}
	}
	return &t, done, nil
}

// openClickHouse connects to ClickHouse over the native protocol.
func (s *sinkRun) openClickHouse() (driver.Conn, error) {
	conn, err := ch.Open(&ch.Options{
		Protocol: ch.Native,
		Addr:     []string{s.cfg.ClickHouseAddr},
		Auth:     ch.Auth{Username: s.cfg.ClickHouseUser, Password: s.cfg.ClickHousePassword},
	})
	if err != nil {
		return nil, fmt.Errorf("connecting to ClickHouse at %s: %w", s.cfg.ClickHouseAddr, err)
	}
	return conn, nil
}

// finish waits until the sinks stored the outputs of the run and adds
// their totals to report.
func (s *sinkRun) finish(ctx context.Context, items []imported, report *Report) error {
	out, err := s.readOutputs(ctx, items, report)
	if err != nil {
		return err
	}
	totals, err := s.waitCaughtUp(ctx, out)
	if err != nil {
		return err
	}
	report.Totals.Sinks = totals
	return nil
}
