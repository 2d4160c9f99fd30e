package clickhouse

import (
	"strconv"
	"strings"
	"time"
)

// The KPI queries are SQL text in Go, not views in ClickHouse. ClickHouse
// 18.16 has no parameterized views and does not push a WHERE clause down
// into a view (enable_optimize_predicate_expression is 0 there), so a view
// would read all four tables in full on every call. The templates below
// put the tenant and time conditions inside each subquery instead, and the
// Grafana dashboard runs the same text with its own macros in those
// places (see Dashboard).
//
// Tokens in braces are replaced by render: {decisions}, {feedback},
// {ticket_events} and {dead_letters} by the qualified table names,
// {tenant_condition} by a condition on the tenant column, {from} and {to}
// by DateTime expressions. Every query counts each event once however
// often the sink inserted it: the decisions table is read with FINAL, and
// the other tables are grouped by (tenant, event_id) with argMax(column,
// version). All of them run on ClickHouse 18.16 and current releases.
// 18.16 allows one JOIN per SELECT, so the joins nest. Its ANY LEFT JOIN
// fills unmatched columns with zeros, so each right side carries a flag
// column (reassigned, replied) that is 1 on a match.
const (
	// queueKPISQL returns one row per day of received_at (UTC), tenant and
	// queue, over non-duplicate decisions:
	//   - routing_coverage: the share decided by a rule or the model
	//     rather than the fallback;
	//   - misroute_rate: of the new tickets (follow_up = 0), the share
	//     whose first reassignment to another queue came at most an hour
	//     after the decision; a change of priority alone is not a misroute;
	//   - first_response_p50_s and _p95_s: seconds from received_at to the
	//     first replied ticket event of an agent or an API client, over the
	//     new tickets with such a reply;
	//   - decision_latency_p50_ms and _p95_ms: milliseconds from receipt to
	//     decision (decided_ms). The time the ticket row was written is not
	//     in ClickHouse, so this is the processing latency up to the
	//     decision, not up to the ticket.
	//
	// A rate or quantile with nothing to measure is nan, because 18.16
	// returns 0 for quantilesIf over no rows. The quantiles interpolate
	// linearly between neighbouring values, exactly up to 8192 values per
	// group; above that, ClickHouse estimates them from a sample.
	queueKPISQL = `SELECT
    day,
    tenant,
    queue,
    decisions,
    routed,
    routed / decisions AS routing_coverage,
    tickets,
    misrouted,
    if(tickets = 0, nan, misrouted / tickets) AS misroute_rate,
    responded,
    if(responded = 0, nan, response_quantiles[1]) AS first_response_p50_s,
    if(responded = 0, nan, response_quantiles[2]) AS first_response_p95_s,
    decision_quantiles[1] AS decision_latency_p50_ms,
    decision_quantiles[2] AS decision_latency_p95_ms
FROM
(
    SELECT
        day,
        tenant,
        queue,
        count() AS decisions,
        countIf(reason_kind IN ('rule', 'model')) AS routed,
        countIf(follow_up = 0) AS tickets,
        countIf(follow_up = 0 AND reassigned = 1 AND reassigned_s - decided_s <= 3600) AS misrouted,
        countIf(follow_up = 0 AND replied = 1) AS responded,
        quantilesIf(0.5, 0.95)(toFloat64(replied_s - received_s), follow_up = 0 AND replied = 1) AS response_quantiles,
        quantiles(0.5, 0.95)(toFloat64(decided_ms)) AS decision_quantiles
    FROM
    (
        SELECT day, tenant, queue, ticket_ref, reason_kind, follow_up, received_s, decided_s, decided_ms, reassigned, reassigned_s
        FROM
        (
            SELECT
                toDate(received_at, 'UTC') AS day, tenant, queue, ticket_ref, reason_kind, follow_up,
                toInt64(received_at) AS received_s, toInt64(decided_at) AS decided_s, decided_ms
            FROM {decisions} FINAL
            WHERE duplicate = 0 AND {tenant_condition} AND received_at >= {from} AND received_at < {to}
        )
        ANY LEFT JOIN
        (
            SELECT tenant, ticket_ref, toUInt8(1) AS reassigned, min(at_s) AS reassigned_s
            FROM
            (
                SELECT
                    tenant, event_id,
                    argMax(ticket_ref, version) AS ticket_ref,
                    argMax(from_queue, version) AS from_queue,
                    argMax(to_queue, version) AS to_queue,
                    argMax(toInt64(at), version) AS at_s
                FROM {feedback}
                WHERE {tenant_condition}
                GROUP BY tenant, event_id
            )
            WHERE from_queue != to_queue
            GROUP BY tenant, ticket_ref
        ) USING (tenant, ticket_ref)
    )
    ANY LEFT JOIN
    (
        SELECT tenant, ticket_ref, toUInt8(1) AS replied, min(at_s) AS replied_s
        FROM
        (
            SELECT
                tenant, event_id,
                argMax(ticket_ref, version) AS ticket_ref,
                argMax(kind, version) AS kind,
                argMax(actor_kind, version) AS actor_kind,
                argMax(toInt64(at), version) AS at_s
            FROM {ticket_events}
            WHERE {tenant_condition}
            GROUP BY tenant, event_id
        )
        WHERE kind = 'replied' AND actor_kind IN ('agent', 'api')
        GROUP BY tenant, ticket_ref
    ) USING (tenant, ticket_ref)
    GROUP BY day, tenant, queue
)
ORDER BY day, tenant, queue`

	// tenantKPISQL returns one row per day (UTC) and tenant. Duplicates
	// and dead letters have no queue, so they are counted per tenant:
	//   - decision_events: every decision event, duplicates included,
	//     which is every inbound record that reached a decision;
	//   - duplicate_rate: duplicates / decision_events;
	//   - dlq_rate: dead letters of every stage, on the day of their first
	//     failure, / decision_events;
	//   - retry_rate: the retries before those records were dead-lettered
	//     (attempts - 1) / decision_events. Retries that later succeeded
	//     reach no topic, so they are not here.
	tenantKPISQL = `SELECT
    day,
    tenant,
    decision_events,
    duplicates,
    if(decision_events = 0, nan, duplicates / decision_events) AS duplicate_rate,
    dead_letters,
    if(decision_events = 0, nan, dead_letters / decision_events) AS dlq_rate,
    dead_letter_retries,
    if(decision_events = 0, nan, dead_letter_retries / decision_events) AS retry_rate
FROM
(
    SELECT
        day,
        tenant,
        sum(decision_count) AS decision_events,
        sum(duplicate_count) AS duplicates,
        sum(dead_letter_count) AS dead_letters,
        sum(retry_count) AS dead_letter_retries
    FROM
    (
        SELECT
            toDate(received_at, 'UTC') AS day, tenant,
            count() AS decision_count, countIf(duplicate = 1) AS duplicate_count,
            toUInt64(0) AS dead_letter_count, toUInt64(0) AS retry_count
        FROM {decisions} FINAL
        WHERE {tenant_condition} AND received_at >= {from} AND received_at < {to}
        GROUP BY day, tenant
        UNION ALL
        SELECT
            toDate(first_failed_at, 'UTC') AS day, tenant,
            toUInt64(0) AS decision_count, toUInt64(0) AS duplicate_count,
            count() AS dead_letter_count, sum(retries) AS retry_count
        FROM
        (
            SELECT
                tenant, event_id,
                min(failed_at) AS first_failed_at,
                toUInt64(greatest(argMax(attempts, version), 1) - 1) AS retries
            FROM {dead_letters}
            WHERE {tenant_condition}
            GROUP BY tenant, event_id
        )
        WHERE first_failed_at >= {from} AND first_failed_at < {to}
        GROUP BY day, tenant
    )
    GROUP BY day, tenant
)
ORDER BY day, tenant`
)

// sqlValues is the replacement text of each token of a KPI template.
type sqlValues struct {
	tables          map[string]string // token without braces, such as "decisions", to the qualified name
	tenantCondition string
	from, to        string
}

// render returns template with its tokens replaced by v.
func (v *sqlValues) render(template string) string {
	pairs := []string{"{tenant_condition}", v.tenantCondition, "{from}", v.from, "{to}", v.to}
	for token, table := range v.tables {
		pairs = append(pairs, "{"+token+"}", table)
	}
	return strings.NewReplacer(pairs...).Replace(template)
}

// goValues returns the values that run a template on tables of database
// for filter f. The tenant is a quoted literal and the times are whole
// seconds, so the text needs no bound arguments.
func goValues(database string, tables Tables, f Filter) *sqlValues {
	v := &sqlValues{
		tables: map[string]string{
			"decisions":     qualifiedName(database, tables.Decisions),
			"feedback":      qualifiedName(database, tables.Feedback),
			"ticket_events": qualifiedName(database, tables.TicketEvents),
			"dead_letters":  qualifiedName(database, tables.DeadLetters),
		},
		tenantCondition: "1 = 1",
		from:            dateTimeLiteral(time.Unix(0, 0)),
		to:              dateTimeLiteral(time.Unix(maxDateTime, 0)),
	}
	if f.Tenant != "" {
		v.tenantCondition = "tenant IN (" + quoteString(f.Tenant) + ")"
	}
	if !f.From.IsZero() {
		v.from = dateTimeLiteral(f.From)
	}
	if !f.To.IsZero() {
		v.to = dateTimeLiteral(f.To)
	}
	return v
}

// maxDateTime is the last second that a ClickHouse DateTime holds,
// 2106-02-07 06:28:15 UTC.
const maxDateTime = 1<<32 - 1

// dateTimeLiteral returns toDateTime(N) for the Unix second of t, the form
// that the Grafana ClickHouse data source gives $__fromTime and $__toTime.
func dateTimeLiteral(t time.Time) string {
	s := min(max(t.Unix(), 0), maxDateTime)
	return "toDateTime(" + strconv.FormatInt(s, 10) + ")"
}

// quoteString returns s as a ClickHouse string literal, with backslashes
// and single quotes escaped.
func quoteString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
