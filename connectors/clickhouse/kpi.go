package clickhouse

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// QueueKPI holds the KPIs of one day (UTC), tenant and queue, over the
// non-duplicate decisions of messages received that day. queueKPISQL
// defines each value. A rate or quantile with nothing to measure is nil.
type QueueKPI struct {
	Day                     string   `json:"day"` // YYYY-MM-DD
	Tenant                  string   `json:"tenant"`
	Queue                   string   `json:"queue"`
	Decisions               uint64   `json:"decisions"`
	Routed                  uint64   `json:"routed"`                  // decided by a rule or the model
	RoutingCoverage         float64  `json:"routingCoverage"`         // Routed / Decisions
	Tickets                 uint64   `json:"tickets"`                 // decisions that opened a ticket (not follow-ups)
	Misrouted               uint64   `json:"misrouted"`               // tickets moved to another queue within an hour of the decision
	MisrouteRate            *float64 `json:"misrouteRate"`            // Misrouted / Tickets
	Responded               uint64   `json:"responded"`               // tickets with a reply of an agent or an API client
	FirstResponseP50Seconds *float64 `json:"firstResponseP50Seconds"` // from receipt to the first reply
	FirstResponseP95Seconds *float64 `json:"firstResponseP95Seconds"`
	DecisionLatencyP50Ms    float64  `json:"decisionLatencyP50Ms"` // from receipt to decision
	DecisionLatencyP95Ms    float64  `json:"decisionLatencyP95Ms"`
}

// TenantKPI holds the KPIs of one day (UTC) and tenant that have no queue:
// duplicates and dead letters. tenantKPISQL defines each value. A rate
// with no decision events that day is nil.
type TenantKPI struct {
	Day               string   `json:"day"` // YYYY-MM-DD
	Tenant            string   `json:"tenant"`
	DecisionEvents    uint64   `json:"decisionEvents"` // duplicates included
	Duplicates        uint64   `json:"duplicates"`
	DuplicateRate     *float64 `json:"duplicateRate"`
	DeadLetters       uint64   `json:"deadLetters"` // every stage, on the day of the first failure
	DLQRate           *float64 `json:"dlqRate"`     // DeadLetters / DecisionEvents
	DeadLetterRetries uint64   `json:"deadLetterRetries"`
	RetryRate         *float64 `json:"retryRate"` // DeadLetterRetries / DecisionEvents
}

// KPIQueries runs the KPI queries on the four tables of one database.
type KPIQueries struct {
	conn     driver.Conn
	database string
	tables   Tables
}

// NewKPIQueries returns the KPI queries of the tables of database over
// conn, a native-protocol connection. Empty table names take the
// defaults.
func NewKPIQueries(conn driver.Conn, database string, tables Tables) (*KPIQueries, error) {
	if !identifierPattern.MatchString(database) {
		return nil, fmt.Errorf("invalid ClickHouse database name %q: use 1 to 63 ASCII letters, digits or underscores, not starting with a digit", database)
	}
	tables, err := tables.withDefaults()
	if err != nil {
		return nil, err
	}
	return &KPIQueries{conn: conn, database: database, tables: tables}, nil
}

// sql returns the text of a KPI query template for these tables and
// filter f. It runs without bound arguments.
func (q *KPIQueries) sql(template string, f Filter) string {
	return goValues(q.database, q.tables, f).render(template)
}

// PerQueue returns the KPIs per day, tenant and queue of the decisions
// received in f, ordered by day, tenant and queue.
func (q *KPIQueries) PerQueue(ctx context.Context, f Filter) ([]QueueKPI, error) {
	rows, err := q.conn.Query(ctx, q.sql(queueKPISQL, f))
	if err != nil {
		return nil, fmt.Errorf("querying the KPIs per queue in %s: %w", q.database, err)
	}
	defer rows.Close()

	var out []QueueKPI
	for rows.Next() {
		var k QueueKPI
		var day time.Time
		var misrouteRate, responseP50, responseP95 float64
		err := rows.Scan(&day, &k.Tenant, &k.Queue, &k.Decisions, &k.Routed, &k.RoutingCoverage,
			&k.Tickets, &k.Misrouted, &misrouteRate, &k.Responded, &responseP50, &responseP95,
			&k.DecisionLatencyP50Ms, &k.DecisionLatencyP95Ms)
		if err != nil {
			return nil, fmt.Errorf("reading the KPIs per queue from %s: %w", q.database, err)
		}
		k.Day = day.Format(time.DateOnly)
		k.MisrouteRate, k.FirstResponseP50Seconds, k.FirstResponseP95Seconds = number(misrouteRate), number(responseP50), number(responseP95)
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the KPIs per queue from %s: %w", q.database, err)
	}
	return out, nil
}

// PerTenant returns the duplicate, dead-letter and retry KPIs per day and
// tenant in f, ordered by day and tenant.
func (q *KPIQueries) PerTenant(ctx context.Context, f Filter) ([]TenantKPI, error) {
	rows, err := q.conn.Query(ctx, q.sql(tenantKPISQL, f))
	if err != nil {
		return nil, fmt.Errorf("querying the KPIs per tenant in %s: %w", q.database, err)
	}
	defer rows.Close()

	var out []TenantKPI
	for rows.Next() {
		var k TenantKPI
		var day time.Time
		var duplicateRate, dlqRate, retryRate float64
		err := rows.Scan(&day, &k.Tenant, &k.DecisionEvents, &k.Duplicates, &duplicateRate,
			&k.DeadLetters, &dlqRate, &k.DeadLetterRetries, &retryRate)
		if err != nil {
			return nil, fmt.Errorf("reading the KPIs per tenant from %s: %w", q.database, err)
		}
		k.Day = day.Format(time.DateOnly)
		k.DuplicateRate, k.DLQRate, k.RetryRate = number(duplicateRate), number(dlqRate), number(retryRate)
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the KPIs per tenant from %s: %w", q.database, err)
	}
	return out, nil
}

// number returns nil for NaN, the value of a rate or quantile with
// nothing to measure, and a pointer to x otherwise.
func number(x float64) *float64 {
	if math.IsNaN(x) {
		return nil
	}
	return &x
}

// KPIReport holds both KPI tables, as "mailtriage kpi --json" prints them.
type KPIReport struct {
	Queues  []QueueKPI  `json:"queues"`
	Tenants []TenantKPI `json:"tenants"`
}

// Report runs PerQueue and PerTenant with filter f. Empty tables come
// back as empty slices, not nil.
func (q *KPIQueries) Report(ctx context.Context, f Filter) (KPIReport, error) {
	queues, err := q.PerQueue(ctx, f)
	if err != nil {
		return KPIReport{}, err
	}
	tenants, err := q.PerTenant(ctx, f)
	if err != nil {
		return KPIReport{}, err
	}
	if queues == nil {
		queues = []QueueKPI{}
	}
	if tenants == nil {
		tenants = []TenantKPI{}
	}
	return KPIReport{Queues: queues, Tenants: tenants}, nil
}
