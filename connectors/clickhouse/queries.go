package clickhouse

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// The KPI queries of the decisions table. Each reads every event once,
// however often the sink inserted it: with FINAL, which collapses the rows
// of one (tenant, event_id) at query time, or with argMax(column, version)
// grouped by (tenant, event_id), which picks the newest decision. %[1]s is
// the table and %[2]s the conditions of a Filter.
//
// The WHERE clauses filter only on columns that every row of one event
// shares (tenant, received_at, duplicate), so filtering before or after
// the rows collapse gives the same result. All of them run on ClickHouse
// 18.16 and on current releases.
const (
	countSQL = `SELECT count() AS events
FROM %[1]s FINAL
WHERE 1 = 1%[2]s`

	// Coverage: the share of non-duplicate decisions made by a rule or the
	// model rather than the fallback.
	routingCoverageSQL = `SELECT
    countIf(reason_kind IN ('rule', 'model')) AS routed,
    count() AS decisions
FROM %[1]s FINAL
WHERE duplicate = 0%[2]s`

	// Decisions per queue, newest decision per event, most used queue first.
	decisionsPerQueueSQL = `SELECT last_queue AS queue, count() AS decisions
FROM
(
    SELECT argMax(queue, version) AS last_queue
    FROM %[1]s
    WHERE duplicate = 0%[2]s
    GROUP BY tenant, event_id
)
GROUP BY last_queue
ORDER BY decisions DESC, queue ASC`

	// p50 and p95 of decided_ms. quantiles samples at most 8192 values per
	// aggregation state, so on more rows the result is an estimate.
	decidedLatencySQL = `SELECT
    count() AS decisions,
    quantiles(0.5, 0.95)(toFloat64(decided_ms)) AS q
FROM %[1]s FINAL
WHERE duplicate = 0%[2]s`
)

// Filter narrows a KPI query to one tenant and a span of received_at. Zero
// fields do not filter.
type Filter struct {
	Tenant string
	From   time.Time // inclusive; precision is one second
	To     time.Time // exclusive; precision is one second
}

// conditions returns the SQL conditions of f, each starting with " AND ",
// with their bound arguments.
func (f Filter) conditions() (string, []any) {
	var sql string
	var args []any
	if f.Tenant != "" {
		sql += " AND tenant = ?"
		args = append(args, f.Tenant)
	}
	if !f.From.IsZero() {
		sql += " AND received_at >= toDateTime(?)"
		args = append(args, f.From.Unix())
	}
	if !f.To.IsZero() {
		sql += " AND received_at < toDateTime(?)"
		args = append(args, f.To.Unix())
	}
	return sql, args
}

// Queries runs the KPI queries on one decisions table.
type Queries struct {
	conn  driver.Conn
	table string // quoted `database`.`table`
}

// NewQueries returns the KPI queries of database.table over conn, a
// native-protocol connection.
func NewQueries(conn driver.Conn, database, table string) (*Queries, error) {
	if _, err := SchemaStatements(database, table); err != nil {
		return nil, err
	}
	return &Queries{conn: conn, table: qualifiedName(database, table)}, nil
}

// Count returns the number of distinct events that match f, duplicates
// included.
func (q *Queries) Count(ctx context.Context, f Filter) (uint64, error) {
	query, args := q.build(countSQL, f)
	var n uint64
	if err := q.conn.QueryRow(ctx, query, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting events in %s: %w", q.table, err)
	}
	return n, nil
}

// Coverage is the routing coverage of non-duplicate decisions.
type Coverage struct {
	Decisions uint64  // non-duplicate decisions
	Routed    uint64  // of those, decided by a rule or the model
	Share     float64 // Routed / Decisions; 0 when there are no decisions
}

// RoutingCoverage returns the share of non-duplicate decisions whose reason
// is a rule or the model, not the fallback.
func (q *Queries) RoutingCoverage(ctx context.Context, f Filter) (Coverage, error) {
	query, args := q.build(routingCoverageSQL, f)
	var c Coverage
	if err := q.conn.QueryRow(ctx, query, args...).Scan(&c.Routed, &c.Decisions); err != nil {
		return Coverage{}, fmt.Errorf("computing the routing coverage of %s: %w", q.table, err)
	}
	if c.Decisions > 0 {
		c.Share = float64(c.Routed) / float64(c.Decisions)
	}
	return c, nil
}

// QueueCount is the number of non-duplicate decisions routed to a queue.
type QueueCount struct {
	Queue     string
	Decisions uint64
}

// DecisionsPerQueue returns the non-duplicate decisions per queue, by the
// newest decision of each event, most decisions first and then by queue
// name.
func (q *Queries) DecisionsPerQueue(ctx context.Context, f Filter) ([]QueueCount, error) {
	query, args := q.build(decisionsPerQueueSQL, f)
	rows, err := q.conn.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("counting decisions per queue in %s: %w", q.table, err)
	}
	defer rows.Close()

	var out []QueueCount
	for rows.Next() {
		var qc QueueCount
		if err := rows.Scan(&qc.Queue, &qc.Decisions); err != nil {
			return nil, fmt.Errorf("reading decisions per queue from %s: %w", q.table, err)
		}
		out = append(out, qc)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading decisions per queue from %s: %w", q.table, err)
	}
	return out, nil
}

// Latency holds quantiles of decided_ms, the time from receipt to decision.
type Latency struct {
	Decisions uint64  // non-duplicate decisions measured
	P50       float64 // median, in milliseconds; 0 when Decisions is 0
	P95       float64 // 95th percentile, in milliseconds; 0 when Decisions is 0
}

// DecidedLatency returns the p50 and p95 of decided_ms over non-duplicate
// decisions. ClickHouse interpolates between neighbouring values, and above
// 8192 decisions it estimates from a sample.
func (q *Queries) DecidedLatency(ctx context.Context, f Filter) (Latency, error) {
	query, args := q.build(decidedLatencySQL, f)
	var l Latency
	var quantiles []float64
	if err := q.conn.QueryRow(ctx, query, args...).Scan(&l.Decisions, &quantiles); err != nil {
		return Latency{}, fmt.Errorf("computing decision latency quantiles of %s: %w", q.table, err)
	}
	if l.Decisions == 0 {
		return Latency{}, nil
	}
	if len(quantiles) != 2 {
		return Latency{}, fmt.Errorf("computing decision latency quantiles of %s: got %d quantiles, expected 2", q.table, len(quantiles))
	}
	l.P50, l.P95 = quantiles[0], quantiles[1]
	return l, nil
}

func (q *Queries) build(template string, f Filter) (string, []any) {
	conditions, args := f.conditions()
	return fmt.Sprintf(template, q.table, conditions), args
}
