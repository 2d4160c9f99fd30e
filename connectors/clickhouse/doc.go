// Package clickhouse is the analytics sink: it consumes the DecisionEvent
// records of topics.Analytics and inserts them, one row each, into a
// ReplacingMergeTree table of ClickHouse, where analysts run the KPI
// queries of this package.
//
// The same consumer group also reads topics.Feedback (reassignments),
// topics.TicketEvents (replies, status changes and notes) and topics.DLQ
// into tables of their own (events_schema.go), with the same delivery
// rules. KPIQueries computes the KPIs over the four tables, and Dashboard
// charts them in Grafana with the same SQL.
//
// # Delivery
//
// The sink reads with read_committed in a consumer group, batches records
// by count and by time, inserts each batch with one INSERT, and only then
// commits the group offsets. Kafka auto-commit is off. A crash between the
// insert and the commit therefore inserts the batch again on restart, and
// nothing is lost.
//
// The copies do not double-count. Each row is derived from its record
// alone, apart from inserted_at and sink_ms, and the table is keyed by
// (tenant, event_id) with decidedAt in milliseconds as the version.
// ReplacingMergeTree keeps one row of each key when it merges parts, and
// queries with FINAL or argMax(column, version) see one row before that.
// Merges run in the background at no set time, so a plain count() without
// FINAL can exceed the number of events until they do.
//
// # Compatibility
//
// The DDL and queries run on ClickHouse 18.16, the release Debian ships,
// and on current releases. The sink speaks the native protocol through
// clickhouse-go/v2 with an explicit column list on every insert and no
// bound arguments in Exec. Against 18.16.1 and clickhouse-go v2.51, a
// batch prepared without the list had no columns, and Exec with arguments
// hung.
//
// # Failures
//
// While ClickHouse is down, the sink retries the insert with exponential
// backoff and jitter, logs each failed attempt once, and resumes from the
// same batch when the server returns. A record that does not decode, or
// whose fields ClickHouse cannot store, goes to topics.DLQ as a
// schemas.DeadLetter with stage "sink-clickhouse" before the offsets are
// committed.
package clickhouse
