package clickhouse

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/connectors/clickhouse/kpitest"
	"mailtriage/schemas"
	"mailtriage/topics"
)

// startKPIKafka starts a kfake broker with the sink's topics and the
// auto-replies topic, and produces the known run of kpitest to it.
func startKPIKafka(ctx context.Context, t *testing.T) []string {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1),
		kfake.SeedTopics(testPartitions, topics.Analytics, topics.DLQ, topics.Feedback, topics.TicketEvents, topics.AutoReplies))
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	t.Cleanup(cluster.Close)
	brokers := cluster.ListenAddrs()

	records, err := kpitest.Records()
	if err != nil {
		t.Fatal(err)
	}
	produce(ctx, t, newClient(t, brokers), records)
	return brokers
}

// Rows of the known run: 14 decisions, and 3 reassignments, 6 ticket
// events and 1 dead letter in the other tables.
const (
	knownRunDecisions = 14
	knownRunEventRows = 10
)

// runSinkOnce runs a sink in group until it has inserted the whole known
// run, then stops it.
func runSinkOnce(ctx context.Context, t *testing.T, db *testDB, brokers []string, group string) Stats {
	t.Helper()
	sink := startSink(t, testConfig(db, brokers, group, nil))
	waitFor(ctx, t, "the sink to insert the known run", func() (bool, string) {
		st := sink.Stats()
		return st.Rows == knownRunDecisions && st.EventRows == knownRunEventRows,
			fmt.Sprintf("%d decision rows and %d event rows", st.Rows, st.EventRows)
	})
	if err := sink.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	return sink.Stats()
}

// expectedReport decodes kpitest.ExpectedJSON, keeping only the rows
// that keep returns true for.
func expectedReport(t *testing.T, keep func(day, tenant string) bool) map[string]any {
	t.Helper()
	var report map[string]any
	if err := json.Unmarshal([]byte(kpitest.ExpectedJSON), &report); err != nil {
		t.Fatalf("kpitest.ExpectedJSON does not parse: %v", err)
	}
	for _, table := range []string{"queues", "tenants"} {
		kept := []any{}
		for _, r := range report[table].([]any) {
			row := r.(map[string]any)
			if keep(row["day"].(string), row["tenant"].(string)) {
				kept = append(kept, row)
			}
		}
		report[table] = kept
	}
	return report
}

// asJSONValue returns v marshaled to JSON and decoded again, for a
// comparison with expectedReport.
func asJSONValue(t *testing.T, v any) map[string]any {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestKPIsOfKnownRun(t *testing.T) {
	db := newTestDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	brokers := startKPIKafka(ctx, t)
	runSinkOnce(ctx, t, db, brokers, "kpi-first")

	q, err := NewKPIQueries(db.conn, db.database, db.tables())
	if err != nil {
		t.Fatal(err)
	}
	all := func(string, string) bool { return true }
	day4 := kpitest.Start.Add(24 * time.Hour).Truncate(24 * time.Hour)
	filters := []struct {
		name   string
		filter Filter
		keep   func(day, tenant string) bool
	}{
		{"no filter", Filter{}, all},
		{"tenant acme", Filter{Tenant: "acme"}, func(_, tenant string) bool { return tenant == "acme" }},
		{"from 2025-03-04", Filter{From: day4}, func(day, _ string) bool { return day >= "2025-03-04" }},
		{"until 2025-03-04", Filter{To: day4}, func(day, _ string) bool { return day < "2025-03-04" }},
		{"tenant without data", Filter{Tenant: "nobody's"}, func(string, string) bool { return false }},
	}
	check := func(t *testing.T) {
		for _, tt := range filters {
			report, err := q.Report(ctx, tt.filter)
			if err != nil {
				t.Fatalf("Report(%s): %v", tt.name, err)
			}
			got, want := asJSONValue(t, report), expectedReport(t, tt.keep)
			if !reflect.DeepEqual(got, want) {
				gotJSON, _ := json.MarshalIndent(got, "", "  ")
				wantJSON, _ := json.MarshalIndent(want, "", "  ")
				t.Errorf("Report(%s):\ngot  %s\nwant %s", tt.name, gotJSON, wantJSON)
			}
		}
	}
	t.Run("first run", check)

	// A second group reads every topic from the start again, as a replay
	// does: every row is inserted a second time and no KPI changes.
	st := runSinkOnce(ctx, t, db, brokers, "kpi-replay")
	if st.Rows != knownRunDecisions || st.EventRows != knownRunEventRows {
		t.Fatalf("replay inserted %d decision rows and %d event rows, expected %d and %d",
			st.Rows, st.EventRows, knownRunDecisions, knownRunEventRows)
	}
	t.Run("after a replay", check)

	t.Run("panels", func(t *testing.T) {
		report, err := q.Report(ctx, Filter{})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range Panels() {
			checkPanel(ctx, t, q, p, report)
		}
	})
}

// checkPanel runs the SQL of panel p and compares its rows with report:
// a table panel returns as many rows as its query, and a time series
// panel returns the report's value of each charted column.
func checkPanel(ctx context.Context, t *testing.T, q *KPIQueries, p Panel, report KPIReport) {
	t.Helper()
	rows, err := q.conn.Query(ctx, q.PanelSQL(p, Filter{}))
	if err != nil {
		t.Fatalf("panel %q: %v", p.Title, err)
	}
	defer rows.Close()

	expected := reportValues(report, p)
	n := 0
	for rows.Next() {
		n++
		if len(p.Columns) == 0 {
			continue
		}
		var day time.Time
		var series string
		values := make([]float64, len(p.Columns))
		dest := []any{&day, &series}
		for i := range values {
			dest = append(dest, &values[i])
		}
		if err := rows.Scan(dest...); err != nil {
			t.Fatalf("panel %q: reading a row: %v", p.Title, err)
		}
		key := day.UTC().Format(time.DateOnly) + " " + series
		want, ok := expected[key]
		if !ok {
			t.Errorf("panel %q: unexpected series %q", p.Title, key)
			continue
		}
		if fmt.Sprint(values) != fmt.Sprint(want) {
			t.Errorf("panel %q, %s: got %v, expected %v", p.Title, key, values, want)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("panel %q: %v", p.Title, err)
	}
	wantRows := len(report.Tenants)
	if p.perQueue {
		wantRows = len(report.Queues)
	}
	if n != wantRows {
		t.Errorf("panel %q: got %d rows, expected %d", p.Title, n, wantRows)
	}
}

// reportValues returns the values that the time series panel p charts,
// by "day series", where series is what the panel's SQL names it. A nil
// value of the report is NaN in the panel.
func reportValues(report KPIReport, p Panel) map[string][]float64 {
	value := func(x *float64) float64 {
		if x == nil {
			return nan
		}
		return *x
	}
	out := map[string][]float64{}
	if p.perQueue {
		for _, k := range report.Queues {
			columns := map[string]float64{
				"routing_coverage": k.RoutingCoverage, "misroute_rate": value(k.MisrouteRate),
				"first_response_p50_s": value(k.FirstResponseP50Seconds), "first_response_p95_s": value(k.FirstResponseP95Seconds),
				"decision_latency_p50_ms": k.DecisionLatencyP50Ms, "decision_latency_p95_ms": k.DecisionLatencyP95Ms,
			}
			out[k.Day+" "+k.Tenant+" / "+k.Queue] = pick(columns, p.Columns)
		}
		return out
	}
	for _, k := range report.Tenants {
		columns := map[string]float64{"duplicate_rate": value(k.DuplicateRate), "dlq_rate": value(k.DLQRate), "retry_rate": value(k.RetryRate)}
		out[k.Day+" "+k.Tenant] = pick(columns, p.Columns)
	}
	return out
}

func pick(columns map[string]float64, names []string) []float64 {
	out := make([]float64, len(names))
	for i, name := range names {
		v, ok := columns[name]
		if !ok {
			panic("reportValues: no column " + name)
		}
		out[i] = v
	}
	return out
}

var nan = math.NaN()

// kpitestTicketEventWithoutRef returns a ticket event record of acme with
// no ticket reference.
func kpitestTicketEventWithoutRef() (*kgo.Record, error) {
	ev := schemas.TicketEvent{EventID: "no-ref", Tenant: "acme", Kind: schemas.TicketEventReplied,
		ActorKind: schemas.ActorAgent, At: kpitest.Start}
	value, err := schemas.Marshal(&ev)
	if err != nil {
		return nil, err
	}
	return &kgo.Record{Topic: topics.TicketEvents, Key: []byte("acme/"), Value: value}, nil
}

func TestSinkStoresEventRows(t *testing.T) {
	db := newTestDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	brokers := startKPIKafka(ctx, t)

	// A ticket event without a ticket reference cannot be joined to a
	// ticket, so the sink sends it to the DLQ, and counts that dead letter
	// like any other.
	bad, err := kpitestTicketEventWithoutRef()
	if err != nil {
		t.Fatal(err)
	}
	produce(ctx, t, newClient(t, brokers), []*kgo.Record{bad})

	sink := startSink(t, testConfig(db, brokers, "event-rows", nil))
	waitFor(ctx, t, "the sink to insert the run and its own dead letter", func() (bool, string) {
		st := sink.Stats()
		return st.Rows == knownRunDecisions && st.EventRows == knownRunEventRows+1 && st.DeadLetters == 1,
			fmt.Sprintf("%d decision rows, %d event rows, %d dead letters", st.Rows, st.EventRows, st.DeadLetters)
	})
	sink.stop(t)

	tables := db.tables()
	var ticket, source, fromQueue, toQueue, toPriority string
	var at time.Time
	var atMs int64
	var version uint64
	err = db.conn.QueryRow(ctx, fmt.Sprintf("SELECT ticket_ref, source, from_queue, to_queue, to_priority, at, at_ms, version FROM %s FINAL WHERE ticket_ref = 'T-B1'",
		qualifiedName(db.database, tables.Feedback))).Scan(&ticket, &source, &fromQueue, &toQueue, &toPriority, &at, &atMs, &version)
	if err != nil {
		t.Fatalf("reading the reassignment of T-B1: %v", err)
	}
	wantAt := kpitest.Start.Add(30 * time.Minute)
	if source != "cli" || fromQueue != "billing" || toQueue != "sales" || toPriority != "normal" || !at.Equal(wantAt) || atMs != wantAt.UnixMilli() || version != uint64(wantAt.UnixMilli()) {
		t.Errorf("reassignment of T-B1: source %q, %s -> %s (%s), at %v (%d ms, version %d); expected cli, billing -> sales (normal), at %v",
			source, fromQueue, toQueue, toPriority, at, atMs, version, wantAt)
	}

	var kinds []string
	err = db.conn.QueryRow(ctx, fmt.Sprintf("SELECT groupArray(kind) FROM (SELECT kind FROM %s FINAL WHERE tenant = 'acme' AND ticket_ref = 'T-B2' ORDER BY at)",
		qualifiedName(db.database, tables.TicketEvents))).Scan(&kinds)
	if err != nil {
		t.Fatalf("reading the ticket events of T-B2: %v", err)
	}
	if fmt.Sprint(kinds) != "[note replied replied]" {
		t.Errorf("ticket events of T-B2: got %v, expected [note replied replied]", kinds)
	}

	// The dead letters table keeps counts and positions only.
	columns := map[string]bool{}
	rows, err := db.conn.Query(ctx, "SELECT name FROM system.columns WHERE database = ? AND table = ?", db.database, tables.DeadLetters)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		columns[name] = true
	}
	rows.Close()
	for _, forbidden := range []string{"key", "payload", "error", "raw"} {
		if columns[forbidden] {
			t.Errorf("dead letters table has a %s column, expected counts and positions only", forbidden)
		}
	}
	var stages []string
	err = db.conn.QueryRow(ctx, fmt.Sprintf("SELECT groupArray(stage) FROM (SELECT stage FROM %s FINAL ORDER BY stage)",
		qualifiedName(db.database, tables.DeadLetters))).Scan(&stages)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(stages) != "[classify "+Stage+"]" {
		t.Errorf("dead letter stages: got %v, expected [classify %s]", stages, Stage)
	}
}

func TestConfigRejectsSharedTopicsAndTables(t *testing.T) {
	base := Config{Addr: "127.0.0.1:9000", KafkaOpts: []kgo.Opt{kgo.SeedBrokers("127.0.0.1:9092")}}
	tests := []struct {
		name   string
		change func(*Config)
		field  string
	}{
		{"feedback topic equals decisions topic", func(c *Config) { c.FeedbackTopic = topics.Analytics }, "FeedbackTopic"},
		{"ticket events topic equals DLQ", func(c *Config) { c.TicketEventsTopic = topics.DLQ }, "TicketEventsTopic"},
		{"dead letters table equals decisions table", func(c *Config) { c.DeadLettersTable = DefaultTable }, "DeadLettersTable"},
		{"invalid feedback table", func(c *Config) { c.FeedbackTable = "fb;" }, `"fb;"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base
			tt.change(&cfg)
			if _, err := cfg.withDefaults(); err == nil || !strings.Contains(err.Error(), tt.field) {
				t.Errorf("got %v, expected an error naming %s", err, tt.field)
			}
		})
	}

	cfg, err := base.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{topics.Analytics, topics.Feedback, topics.TicketEvents, topics.DLQ}
	if got := cfg.consumedTopics(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("consumed topics: got %v, expected %v", got, want)
	}
}
