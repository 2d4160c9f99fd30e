package clickhouse

import (
	"context"
	"fmt"
	"time"
)

// consumedTopics returns the topics of the sink's consumer group: the
// decisions, feedback, ticket events and dead-letter topics.
func (cfg *Config) consumedTopics() []string {
	return []string{cfg.Topic, cfg.FeedbackTopic, cfg.TicketEventsTopic, cfg.DLQTopic}
}

// tables returns the names of the sink's four tables.
func (cfg *Config) tables() Tables {
	return Tables{Decisions: cfg.Table, Feedback: cfg.FeedbackTable, TicketEvents: cfg.TicketEventsTable, DeadLetters: cfg.DeadLettersTable}
}

// validateEventTables checks the names of the tables and topics besides
// the decisions table. A record is routed to its table by its topic, so
// the four topics must differ, and so must the four tables.
func (cfg *Config) validateEventTables() error {
	if _, err := cfg.tables().withDefaults(); err != nil {
		return fmt.Errorf("clickhouse sink config: %w", err)
	}
	if hasRepeat(cfg.consumedTopics()) {
		return fmt.Errorf("clickhouse sink config: Topic %q, FeedbackTopic %q, TicketEventsTopic %q and DLQTopic %q must all differ",
			cfg.Topic, cfg.FeedbackTopic, cfg.TicketEventsTopic, cfg.DLQTopic)
	}
	if hasRepeat([]string{cfg.Table, cfg.FeedbackTable, cfg.TicketEventsTable, cfg.DeadLettersTable}) {
		return fmt.Errorf("clickhouse sink config: Table %q, FeedbackTable %q, TicketEventsTable %q and DeadLettersTable %q must all differ",
			cfg.Table, cfg.FeedbackTable, cfg.TicketEventsTable, cfg.DeadLettersTable)
	}
	return nil
}

func hasRepeat(names []string) bool {
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		if seen[n] {
			return true
		}
		seen[n] = true
	}
	return false
}

// applySchemas creates or upgrades the decisions table and creates the
// other three tables.
func (s *Sink) applySchemas(ctx context.Context) error {
	if err := ApplySchema(ctx, s.conn, s.cfg.Database, s.cfg.Table); err != nil {
		return err
	}
	return ApplyEventSchema(ctx, s.conn, s.cfg.Database, s.cfg.tables())
}

// insertedTables marks the tables that the batch being flushed was
// inserted into.
type insertedTables struct {
	decisions, feedback, ticketEvents, deadLetters bool
}

// insertEvents inserts the rows of b into their tables, one table after
// the other, each retried until it succeeds, and skips the tables that
// s.inserted marks. A crash between two tables inserts the earlier ones
// again on restart, and their copies collapse like those of any replay.
func (s *Sink) insertEvents(ctx context.Context, b *eventBatch) error {
	parts := []struct {
		layout *eventTable
		table  string
		rows   []eventRow
		done   *bool
	}{
		{&feedbackTable, s.cfg.FeedbackTable, b.feedback, &s.inserted.feedback},
		{&ticketEventsTable, s.cfg.TicketEventsTable, b.ticketEvents, &s.inserted.ticketEvents},
		{&deadLettersTable, s.cfg.DeadLettersTable, b.deadLetters, &s.inserted.deadLetters},
	}
	for _, p := range parts {
		if len(p.rows) == 0 || *p.done {
			continue
		}
		err := s.retry(ctx, "inserting into ClickHouse", &s.counters.insertRetries,
			[]any{"table", s.cfg.Database + "." + p.table, "rows", len(p.rows)},
			func(ctx context.Context) error { return s.insertEventRows(ctx, p.layout, p.table, p.rows) })
		if err != nil {
			return err
		}
		s.counters.eventRows.add(int64(len(p.rows)))
		*p.done = true
	}
	return nil
}

// insertEventRows sends rows with one INSERT per group of at most
// maxMonthsPerInsert months of their partition time.
func (s *Sink) insertEventRows(ctx context.Context, layout *eventTable, table string, rows []eventRow) error {
	start := 0
	months := make(map[int]bool)
	for i, r := range rows {
		t := r.partitionTime().UTC()
		month := t.Year()*12 + int(t.Month())
		if !months[month] && len(months) == maxMonthsPerInsert {
			if err := s.insertEventBlock(ctx, layout, table, rows[start:i]); err != nil {
				return err
			}
			clear(months)
			start = i
		}
		months[month] = true
	}
	return s.insertEventBlock(ctx, layout, table, rows[start:])
}

// insertEventBlock sends rows as one batch insert with the explicit column
// list, and applies the schema again when the table or database is gone.
func (s *Sink) insertEventBlock(ctx context.Context, layout *eventTable, table string, rows []eventRow) error {
	batch, err := s.conn.PrepareBatch(ctx, layout.insertStatement(s.cfg.Database, table))
	if err != nil {
		s.reapplySchemaIfMissing(ctx, err)
		return fmt.Errorf("preparing the insert of %d rows into %s: %w", len(rows), table, err)
	}
	defer func() {
		if !batch.IsSent() {
			_ = batch.Abort()
		}
	}()

	now := time.Now()
	for _, r := range rows {
		if err := batch.Append(r.values(now)...); err != nil {
			return fmt.Errorf("adding event %s to the insert into %s: %w", r.eventID(), table, err)
		}
	}
	if err := batch.Send(); err != nil {
		s.reapplySchemaIfMissing(ctx, err)
		return fmt.Errorf("sending the insert of %d rows into %s: %w", len(rows), table, err)
	}
	return nil
}
