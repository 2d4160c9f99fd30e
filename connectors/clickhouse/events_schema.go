package clickhouse

import (
	"context"
	"fmt"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Default names of the tables that hold the records of the topics other
// than the decisions topic.
const (
	DefaultFeedbackTable     = "feedback"
	DefaultTicketEventsTable = "ticket_events"
	DefaultDeadLettersTable  = "dead_letters"
)

// Tables names the four tables of one database that the sink writes and
// the KPI queries read. Empty fields take the Default* names.
type Tables struct {
	Decisions    string // DecisionEvent records; default DefaultTable ("decisions")
	Feedback     string // FeedbackEvent records (reassignments); default DefaultFeedbackTable
	TicketEvents string // TicketEvent records (replies, status changes, notes); default DefaultTicketEventsTable
	DeadLetters  string // DeadLetter records, counts only; default DefaultDeadLettersTable
}

// withDefaults returns t with empty names set to the defaults, or an error
// naming the first invalid one.
func (t Tables) withDefaults() (Tables, error) {
	setDefault(&t.Decisions, DefaultTable)
	setDefault(&t.Feedback, DefaultFeedbackTable)
	setDefault(&t.TicketEvents, DefaultTicketEventsTable)
	setDefault(&t.DeadLetters, DefaultDeadLettersTable)
	for _, name := range []string{t.Decisions, t.Feedback, t.TicketEvents, t.DeadLetters} {
		if !identifierPattern.MatchString(name) {
			return t, fmt.Errorf("invalid ClickHouse table name %q: use 1 to 63 ASCII letters, digits or underscores, not starting with a digit", name)
		}
	}
	return t, nil
}

// eventTable is the layout of one of the tables besides the decisions
// table. Each is a ReplacingMergeTree keyed by (tenant, event_id), like
// the decisions table, and its version is the event time in milliseconds,
// so the copies that a replay inserts collapse into one row.
//
// A background merge collapses copies only within one partition, and the
// partition is a month of the event time, which every copy of a record
// shares. The KPI queries group by (tenant, event_id) instead of using
// FINAL, so they count a record once even when two records with one event
// ID carry times in different months.
type eventTable struct {
	columns []string // in the order of the DDL, the INSERT and the values of eventRow
	ddl     string   // CREATE TABLE IF NOT EXISTS with %s for the qualified name
}

// The layouts of the feedback, ticket events and dead letters tables. They
// avoid what ClickHouse 18.16 lacks, as the decisions table does: times
// are DateTime in whole seconds, with the milliseconds in at_ms where a KPI
// measures durations.
var (
	// feedbackTable holds reassignments without the actor and without the
	// subject and text of the ticket.
	feedbackTable = eventTable{
		columns: []string{"event_id", "tenant", "ticket_ref", "source", "from_queue", "from_priority",
			"to_queue", "to_priority", "reason_kind", "at", "at_ms", "inserted_at", "version"},
		ddl: `CREATE TABLE IF NOT EXISTS %s
(
    event_id      String,
    tenant        String,
    ticket_ref    String,
    source        String,
    from_queue    String,
    from_priority String,
    to_queue      String,
    to_priority   String,
    reason_kind   String,
    at            DateTime,
    at_ms         Int64,
    inserted_at   DateTime,
    version       UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(at)
ORDER BY (tenant, event_id)`,
	}

	// ticketEventsTable holds the replies, status changes and notes of
	// people, which carry no text.
	ticketEventsTable = eventTable{
		columns: []string{"event_id", "tenant", "ticket_ref", "kind", "status", "actor_kind", "at", "at_ms", "inserted_at", "version"},
		ddl: `CREATE TABLE IF NOT EXISTS %s
(
    event_id    String,
    tenant      String,
    ticket_ref  String,
    kind        String,
    status      String,
    actor_kind  String,
    at          DateTime,
    at_ms       Int64,
    inserted_at DateTime,
    version     UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(at)
ORDER BY (tenant, event_id)`,
	}

	// deadLettersTable counts dead letters: it keeps where and when a
	// record failed, never its key, payload or error text, which may
	// quote the record.
	deadLettersTable = eventTable{
		columns: []string{"event_id", "tenant", "stage", "source_topic", "source_partition", "source_offset",
			"attempts", "failed_at", "inserted_at", "version"},
		ddl: `CREATE TABLE IF NOT EXISTS %s
(
    event_id         String,
    tenant           String,
    stage            String,
    source_topic     String,
    source_partition Int32,
    source_offset    Int64,
    attempts         UInt32,
    failed_at        DateTime,
    inserted_at      DateTime,
    version          UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(failed_at)
ORDER BY (tenant, event_id)`,
	}
)

// EventSchemaStatements returns the DDL that ApplyEventSchema runs: the
// database, then the feedback, ticket events and dead letters tables, all
// with IF NOT EXISTS.
func EventSchemaStatements(database string, tables Tables) ([]string, error) {
	if !identifierPattern.MatchString(database) {
		return nil, fmt.Errorf("invalid ClickHouse database name %q: use 1 to 63 ASCII letters, digits or underscores, not starting with a digit", database)
	}
	tables, err := tables.withDefaults()
	if err != nil {
		return nil, err
	}
	return []string{
		"CREATE DATABASE IF NOT EXISTS " + quoteIdentifier(database),
		fmt.Sprintf(feedbackTable.ddl, qualifiedName(database, tables.Feedback)),
		fmt.Sprintf(ticketEventsTable.ddl, qualifiedName(database, tables.TicketEvents)),
		fmt.Sprintf(deadLettersTable.ddl, qualifiedName(database, tables.DeadLetters)),
	}, nil
}

// ApplyEventSchema creates the database and the feedback, ticket events
// and dead letters tables when they do not exist. ApplySchema creates the
// decisions table.
func ApplyEventSchema(ctx context.Context, conn driver.Conn, database string, tables Tables) error {
	statements, err := EventSchemaStatements(database, tables)
	if err != nil {
		return err
	}
	for _, stmt := range statements {
		// No bound arguments, as in ApplySchema.
		if err := conn.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("applying the ClickHouse schema (%s): %w", firstLine(stmt), err)
		}
	}
	return nil
}

// insertStatement returns the INSERT with the explicit column list that a
// batch of rows of this table is sent with.
func (t *eventTable) insertStatement(database, table string) string {
	return "INSERT INTO " + qualifiedName(database, table) + " (" + strings.Join(t.columns, ", ") + ")"
}
