package clickhouse

import (
	"encoding/json"
	"strings"
)

// Identifiers that the Grafana provisioning files of deploy/grafana and the
// dashboard share.
const (
	// DashboardDatasourceUID is the uid of the provisioned ClickHouse data
	// source that every panel queries.
	DashboardDatasourceUID = "mailtriage-clickhouse"
	// DashboardUID is the uid of the KPI dashboard.
	DashboardUID = "mailtriage-kpis"
)

// grafanaValues fill the KPI templates for the Grafana ClickHouse data
// source (grafana-clickhouse-datasource v4): the database is the dashboard
// variable database, the tables have their default names, the tenants are
// the dashboard variable tenant, and the time range is the dashboard's, as
// the data source's $__fromTime and $__toTime macros give it.
var grafanaValues = &sqlValues{
	tables: map[string]string{
		"decisions":     "`${database}`.`" + DefaultTable + "`",
		"feedback":      "`${database}`.`" + DefaultFeedbackTable + "`",
		"ticket_events": "`${database}`.`" + DefaultTicketEventsTable + "`",
		"dead_letters":  "`${database}`.`" + DefaultDeadLettersTable + "`",
	},
	tenantCondition: "tenant IN (${tenant:singlequote})",
	from:            "$__fromTime",
	to:              "$__toTime",
}

// Panel is one panel of the KPI dashboard: a time series of some columns
// of a KPI query, one series per tenant and queue (or per tenant), or a
// table of the whole query.
type Panel struct {
	Title       string
	Description string
	Unit        string   // Grafana unit of the values, such as percentunit or s
	Columns     []string // the charted columns; empty for a table of every column
	perQueue    bool     // the query is queueKPISQL rather than tenantKPISQL
}

// Panels returns the panels of the KPI dashboard, in order.
func Panels() []Panel {
	return []Panel{
		{Title: "Auto-routing coverage", Unit: "percentunit", Columns: []string{"routing_coverage"}, perQueue: true,
			Description: "Share of non-duplicate decisions made by a rule or the model rather than the fallback, per day of receipt, tenant and queue."},
		{Title: "Misroute rate", Unit: "percentunit", Columns: []string{"misroute_rate"}, perQueue: true,
			Description: "Share of new tickets moved to another queue within one hour of the decision. A change of priority alone does not count."},
		{Title: "First-response time", Unit: "s", Columns: []string{"first_response_p50_s", "first_response_p95_s"}, perQueue: true,
			Description: "p50 and p95 of the time from receipt to the first reply of an agent or an API client. Automatic acknowledgements do not count."},
		{Title: "Decision latency", Unit: "ms", Columns: []string{"decision_latency_p50_ms", "decision_latency_p95_ms"}, perQueue: true,
			Description: "p50 and p95 of the time from receipt to the routing decision. The time the ticket row was written is not in ClickHouse."},
		{Title: "Duplicate drop rate", Unit: "percentunit", Columns: []string{"duplicate_rate"},
			Description: "Duplicates dropped per decision event (duplicates included), per day and tenant."},
		{Title: "Dead-letter and retry rates", Unit: "percentunit", Columns: []string{"dlq_rate", "retry_rate"},
			Description: "Dead letters of every stage, and the retries before them, per decision event, per day and tenant."},
		{Title: "KPIs per day, tenant and queue", perQueue: true,
			Description: "Every KPI of the queue query, as mailtriage kpi prints it."},
		{Title: "Duplicates and dead letters per day and tenant",
			Description: "Every KPI of the tenant query, as mailtriage kpi prints it."},
	}
}

// template returns the SQL template of p.
func (p *Panel) template() string {
	base, series := tenantKPISQL, "tenant"
	if p.perQueue {
		base, series = queueKPISQL, "concat(tenant, ' / ', queue)"
	}
	if len(p.Columns) == 0 {
		return base
	}
	return "SELECT toDateTime(day, 'UTC') AS time, " + series + " AS series, " + strings.Join(p.Columns, ", ") +
		"\nFROM\n(\n" + base + "\n)\nORDER BY time, series"
}

// GrafanaSQL returns the SQL of p as the dashboard holds it, with the
// macros and variables of the Grafana ClickHouse data source.
func (p *Panel) GrafanaSQL() string { return grafanaValues.render(p.template()) }

// PanelSQL returns the SQL of p for these tables and filter f: the text of
// GrafanaSQL with the variables and macros replaced by their values.
func (q *KPIQueries) PanelSQL(p Panel, f Filter) string { return q.sql(p.template(), f) }

// Dashboard returns the Grafana dashboard of the KPIs as indented JSON,
// the content of deploy/grafana/dashboards/mailtriage-kpis.json.
func Dashboard() ([]byte, error) {
	datasource := map[string]any{"type": "grafana-clickhouse-datasource", "uid": DashboardDatasourceUID}

	var panels []any
	x, y := 0, 0 // grid position of the next panel
	for i, p := range Panels() {
		width, height := 12, 8
		if len(p.Columns) == 0 {
			width, height = 24, 10
		}
		if x+width > 24 {
			x, y = 0, y+8
		}
		panel := map[string]any{
			"id":          i + 1,
			"title":       p.Title,
			"description": p.Description,
			"datasource":  datasource,
			"gridPos":     map[string]any{"x": x, "y": y, "w": width, "h": height},
			"targets": []any{map[string]any{
				"refId":      "A",
				"datasource": datasource,
				"editorType": "sql",
				"queryType":  "table",
				"format":     1,
				"rawSql":     p.GrafanaSQL(),
			}},
		}
		if len(p.Columns) == 0 {
			panel["type"] = "table"
			panel["fieldConfig"] = map[string]any{"defaults": map[string]any{}, "overrides": []any{}}
		} else {
			panel["type"] = "timeseries"
			panel["fieldConfig"] = map[string]any{"defaults": map[string]any{"unit": p.Unit}, "overrides": []any{}}
			// The queries return one row per day and series; this turns
			// them into one time series per value of the series column.
			panel["transformations"] = []any{map[string]any{"id": "prepareTimeSeries", "options": map[string]any{"format": "multi"}}}
		}
		panels = append(panels, panel)

		x += width
		if x >= 24 {
			x, y = 0, y+height
		}
	}

	dashboard := map[string]any{
		"uid":           DashboardUID,
		"title":         "mailtriage KPIs",
		"description":   "Routing, response, latency, duplicate and dead-letter KPIs from the ClickHouse tables of mailtriage sink clickhouse. Days are UTC.",
		"tags":          []string{"mailtriage"},
		"timezone":      "utc",
		"editable":      true,
		"schemaVersion": 39,
		"version":       1,
		"refresh":       "",
		"time":          map[string]any{"from": "now-30d", "to": "now"},
		"annotations":   map[string]any{"list": []any{}},
		"templating": map[string]any{"list": []any{
			map[string]any{
				"name":    "database",
				"label":   "Database",
				"type":    "textbox",
				"query":   DefaultDatabase,
				"current": map[string]any{"text": DefaultDatabase, "value": DefaultDatabase},
			},
			map[string]any{
				"name":       "tenant",
				"label":      "Tenant",
				"type":       "query",
				"datasource": datasource,
				"query":      "SELECT DISTINCT tenant FROM `${database}`.`" + DefaultTable + "` ORDER BY tenant",
				"definition": "SELECT DISTINCT tenant FROM `${database}`.`" + DefaultTable + "` ORDER BY tenant",
				"refresh":    2, // on time range change
				"multi":      true,
				"includeAll": true,
				"current":    map[string]any{"text": []string{"All"}, "value": []string{"$__all"}},
			},
		}},
		"panels": panels,
	}
	out, err := json.MarshalIndent(dashboard, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}
