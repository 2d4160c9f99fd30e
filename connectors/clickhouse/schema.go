package clickhouse

import (
	"context"
	"fmt"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// columns lists the columns of the decisions table in the order of the DDL,
// of the INSERT column list and of row.values. ClickHouse 18.16 accepts a
// batch insert from clickhouse-go/v2 only with an explicit column list.
var columns = []string{
	"event_id",
	"tenant",
	"message_id",
	"ticket_ref",
	"queue",
	"priority",
	"tags",
	"reason_kind",
	"rule_id",
	"ruleset_version",
	"model_version",
	"top_label",
	"top_probability",
	"top_labels",
	"top_probabilities",
	"threshold",
	"duplicate",
	"follow_up",
	"pii_kinds",
	"pii_counts",
	"pii_total",
	"source",
	"sender_domain",
	"attachments",
	"warnings",
	"received_at",
	"decided_at",
	"inserted_at",
	"decided_ms",
	"sink_ms",
	"version",
}

// tableDDL is the decisions table, written for ClickHouse 18.16 and current
// releases alike. It therefore avoids what 18.16 lacks: LowCardinality,
// DateTime64, Map and the Bool type. Times are DateTime (whole seconds,
// shown in the server time zone), booleans are UInt8 (0 or 1), and the PII
// counts are two parallel arrays in which pii_counts[i] counts pii_kinds[i].
// The kinds are sorted. Likewise top_probabilities[i] is the probability of
// top_labels[i], in the order of the decision's top labels, highest first.
//
// The engine keeps one row per (tenant, event_id) once parts merge:
//   - version is decidedAt in milliseconds since the Unix epoch. A record
//     read twice by this sink gives two rows with equal versions, which
//     collapse to one. A message that the processor decided again, after its
//     offsets were reset, gives a higher version, and that newer decision
//     wins.
//   - ReplacingMergeTree collapses rows only within one partition, so the
//     partition key uses received_at, which every copy of an event shares,
//     and never inserted_at, which differs from copy to copy.
//
// inserted_at and sink_ms are the only columns that differ between copies.
// Rows are collapsed in the background and at no set time, so a plain
// count() can exceed the number of events. Count with FINAL, or group by
// (tenant, event_id) with argMax(column, version), as queries.go does.
const tableDDL = `CREATE TABLE IF NOT EXISTS %s
(
    event_id        String,
    tenant          String,
    message_id      String,
    ticket_ref      String,
    queue           String,
    priority        String,
    tags            Array(String),
    reason_kind     String,
    rule_id         String,
    ruleset_version String,
    model_version   String,
    top_label       String,
    top_probability Float64,
    top_labels      Array(String),
    top_probabilities Array(Float64),
    threshold       Float64,
    duplicate       UInt8,
    follow_up       UInt8,
    pii_kinds       Array(String),
    pii_counts      Array(UInt32),
    pii_total       UInt64,
    source          String,
    sender_domain   String,
    attachments     UInt32,
    warnings        UInt32,
    received_at     DateTime,
    decided_at      DateTime,
    inserted_at     DateTime,
    decided_ms      Int64,
    sink_ms         Int64,
    version         UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(received_at)
ORDER BY (tenant, event_id)`

// SchemaStatements returns the DDL that ApplySchema runs, in order: the
// database, then the decisions table. Both use IF NOT EXISTS.
func SchemaStatements(database, table string) ([]string, error) {
	if !identifierPattern.MatchString(database) {
		return nil, fmt.Errorf("invalid ClickHouse database name %q: use 1 to 63 ASCII letters, digits or underscores, not starting with a digit", database)
	}
	if !identifierPattern.MatchString(table) {
		return nil, fmt.Errorf("invalid ClickHouse table name %q: use 1 to 63 ASCII letters, digits or underscores, not starting with a digit", table)
	}
	return []string{
		"CREATE DATABASE IF NOT EXISTS " + quoteIdentifier(database),
		fmt.Sprintf(tableDDL, qualifiedName(database, table)),
	}, nil
}

// ApplySchema creates the database and the decisions table when they do not
// exist, and adds to an existing table the columns that later layouts
// introduced (see addedColumns).
//
// NOTE: only the columns of addedColumns are added. A table whose other
// columns differ is left as it is, and an insert into it fails.
func ApplySchema(ctx context.Context, conn driver.Conn, database, table string) error {
	statements, err := SchemaStatements(database, table)
	if err != nil {
		return err
	}
	for _, stmt := range statements {
		// Exec without bound arguments: with arguments, clickhouse-go/v2
		// v2.51 hung against ClickHouse 18.16.
		if err := conn.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("applying the ClickHouse schema (%s): %w", firstLine(stmt), err)
		}
	}
	return addMissingColumns(ctx, conn, database, table)
}

// insertStatement returns the INSERT that a batch of rows is sent with.
func insertStatement(database, table string) string {
	return "INSERT INTO " + qualifiedName(database, table) + " (" + strings.Join(columns, ", ") + ")"
}

// qualifiedName returns `database`.`table`. Both names must match
// identifierPattern, which admits no backquote.
func qualifiedName(database, table string) string {
	return quoteIdentifier(database) + "." + quoteIdentifier(table)
}

func quoteIdentifier(name string) string { return "`" + name + "`" }

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
