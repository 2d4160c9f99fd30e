package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/connectors/clickhouse"
	"mailtriage/connectors/clickhouse/kpitest"
	"mailtriage/internal/testenv"
	"mailtriage/topics"
)

func TestKPIFlagErrors(t *testing.T) {
	t.Setenv(envClickHouseAddr, "")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"missing address", []string{"--json"},
			"missing --clickhouse: pass the host:port of the ClickHouse native protocol, such as 127.0.0.1:9000, or set MAILTRIAGE_CLICKHOUSE_ADDR"},
		{"invalid since", []string{"--clickhouse", "127.0.0.1:9000", "--since", "03/01/2025"}, `invalid --since "03/01/2025": use ` + timeForms},
		{"invalid until", []string{"--clickhouse", "127.0.0.1:9000", "--until", "2025-02-30"}, `invalid --until "2025-02-30": use ` + timeForms},
		{"reversed range", []string{"--clickhouse", "127.0.0.1:9000", "--since", "2025-03-05", "--until", "2025-03-04"},
			"invalid range: --until 2025-03-04 is not after --since 2025-03-05: swap them or widen the range"},
		{"extra argument", []string{"--clickhouse", "127.0.0.1:9000", "today"}, `unexpected argument "today": ` + kpiUsage},
		{"invalid database", []string{"--clickhouse", "127.0.0.1:9000", "--database", "a-b"}, `invalid ClickHouse database name "a-b"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := kpiCommand(context.Background(), tt.args, &bytes.Buffer{})
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("got %v, expected an error starting with %q", err, tt.want)
			}
		})
	}
}

func TestKPIFlagsTimeRange(t *testing.T) {
	now := time.Date(2025, 3, 5, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name     string
		args     []string
		from, to time.Time
	}{
		// One day: --until includes the whole day.
		{"dates", []string{"--since", "2025-03-03", "--until", "2025-03-03"},
			time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC), time.Date(2025, 3, 4, 0, 0, 0, 0, time.UTC)},
		{"RFC 3339", []string{"--since", "2025-03-03T06:00:00Z", "--until", "2025-03-03T18:00:00Z"},
			time.Date(2025, 3, 3, 6, 0, 0, 0, time.UTC), time.Date(2025, 3, 3, 18, 0, 0, 0, time.UTC)},
		{"duration", []string{"--since", "24h"}, now.Add(-24 * time.Hour), time.Time{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := parseKPIFlags(append([]string{"--clickhouse", "127.0.0.1:9000"}, c.args...), now)
			if err != nil {
				t.Fatal(err)
			}
			if !f.filter.From.Equal(c.from) || !f.filter.To.Equal(c.to) {
				t.Errorf("got [%v, %v), expected [%v, %v)", f.filter.From, f.filter.To, c.from, c.to)
			}
		})
	}
}

func TestKPIAddressFromEnvironment(t *testing.T) {
	t.Setenv(envClickHouseAddr, "127.0.0.1:19000")
	f, err := parseKPIFlags(nil, time.Now())
	if err != nil {
		t.Fatalf("parseKPIFlags without --clickhouse: %v", err)
	}
	if f.addr != "127.0.0.1:19000" {
		t.Errorf("address %q, expected %q from %s", f.addr, "127.0.0.1:19000", envClickHouseAddr)
	}

	f, err = parseKPIFlags([]string{"--clickhouse", "127.0.0.1:9000"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if f.addr != "127.0.0.1:9000" {
		t.Errorf("address %q, expected the flag's 127.0.0.1:9000 over the environment", f.addr)
	}
}

// kpiDatabase returns the name of a ClickHouse database that no other
// test uses. The sink creates it, and the test drops it when it ends.
func kpiDatabase(t *testing.T, addr string) string {
	t.Helper()
	database := fmt.Sprintf("kpi_test_%06d", rand.N(1_000_000))
	t.Cleanup(func() {
		conn, err := ch.Open(&ch.Options{Addr: []string{addr}, DialTimeout: 2 * time.Second})
		if err != nil {
			t.Logf("opening ClickHouse to drop %s: %v", database, err)
			return
		}
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+database); err != nil {
			t.Logf("dropping %s: %v", database, err)
		}
	})
	return database
}

// sinkKnownRun runs the ClickHouse sink in group until it has inserted
// every record of the known run, then stops it.
func sinkKnownRun(ctx context.Context, t *testing.T, addr, database string, brokers []string, group string) {
	t.Helper()
	sink, err := clickhouse.New(clickhouse.Config{
		Addr:      addr,
		Database:  database,
		KafkaOpts: []kgo.Opt{kgo.SeedBrokers(brokers...)},
		Group:     group,
		BatchWait: 50 * time.Millisecond,
		RetryMin:  20 * time.Millisecond,
		RetryMax:  300 * time.Millisecond,
	})
	if err != nil {
		t.Fatalf("creating the sink: %v", err)
	}
	defer sink.Close()

	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- sink.Run(runCtx) }()

	// The run has 14 decisions, and 3 reassignments, 6 ticket events and
	// 1 dead letter for the other tables.
	for {
		st := sink.Stats()
		if st.Rows == 14 && st.EventRows == 10 {
			break
		}
		select {
		case <-ctx.Done():
			stop()
			t.Fatalf("timed out waiting for the sink: %d decision rows and %d event rows inserted, expected 14 and 10", st.Rows, st.EventRows)
		case <-time.After(20 * time.Millisecond):
		}
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("sink Run: %v", err)
	}
}

// decodeJSON decodes a JSON document into a generic value.
func decodeJSON(t *testing.T, text string) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(text), &v); err != nil {
		t.Fatalf("invalid JSON %q: %v", text, err)
	}
	return v
}

// keepRows returns report with only the rows of tenant in both tables.
func keepRows(report map[string]any, tenant string) map[string]any {
	out := map[string]any{}
	for _, table := range []string{"queues", "tenants"} {
		kept := []any{}
		for _, r := range report[table].([]any) {
			if r.(map[string]any)["tenant"] == tenant {
				kept = append(kept, r)
			}
		}
		out[table] = kept
	}
	return out
}

func TestKPICommandOnKnownRun(t *testing.T) {
	addr := testenv.ClickHouseAddr(t)
	database := kpiDatabase(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()

	cluster, err := kfake.NewCluster(kfake.NumBrokers(1),
		kfake.SeedTopics(3, topics.Analytics, topics.DLQ, topics.Feedback, topics.TicketEvents, topics.AutoReplies))
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	defer cluster.Close()
	brokers := cluster.ListenAddrs()
	producer, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	records, err := kpitest.Records()
	if err != nil {
		t.Fatal(err)
	}
	if err := producer.ProduceSync(ctx, records...).FirstErr(); err != nil {
		t.Fatalf("producing the known run: %v", err)
	}

	sinkKnownRun(ctx, t, addr, database, brokers, "kpi-command")

	kpi := func(t *testing.T, args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := kpiCommand(ctx, append([]string{"--clickhouse", addr, "--database", database}, args...), &out); err != nil {
			t.Fatalf("mailtriage kpi %s: %v", strings.Join(args, " "), err)
		}
		return out.String()
	}
	expected := decodeJSON(t, kpitest.ExpectedJSON)

	checkJSON := func(t *testing.T) {
		if got := decodeJSON(t, kpi(t, "--json")); !reflect.DeepEqual(got, expected) {
			t.Errorf("mailtriage kpi --json:\ngot  %v\nwant %v", got, expected)
		}
		got := decodeJSON(t, kpi(t, "--json", "--tenant", "acme", "--since", "2025-03-03", "--until", "2025-03-03"))
		if want := keepRows(expected, "acme"); !reflect.DeepEqual(got, want) {
			t.Errorf("mailtriage kpi --json --tenant acme for 2025-03-03:\ngot  %v\nwant %v", got, want)
		}
		got = decodeJSON(t, kpi(t, "--json", "--since", "2025-03-04"))
		if want := keepRows(expected, "globex"); !reflect.DeepEqual(got, want) {
			t.Errorf("mailtriage kpi --json --since 2025-03-04:\ngot  %v\nwant %v", got, want)
		}
	}
	t.Run("json", checkJSON)

	t.Run("tables", func(t *testing.T) {
		text := kpi(t)
		lines := map[string]string{}
		for _, line := range strings.Split(text, "\n") {
			fields := strings.Fields(line)
			if len(fields) > 3 && strings.HasPrefix(fields[0], "2025-") {
				lines[fields[0]+" "+fields[1]+" "+fields[2]] = strings.Join(fields, " ")
			}
		}
		want := map[string]string{
			"2025-03-03 acme billing":   "2025-03-03 acme billing 7 85.7% 6 1 16.7% 1 10m0s 10m0s 400ms 600ms",
			"2025-03-03 acme support":   "2025-03-03 acme support 4 75.0% 4 0 0.0% 1 40m0s 40m0s 3s 4s",
			"2025-03-04 globex billing": "2025-03-04 globex billing 2 100.0% 2 0 0.0% 0 - - 50ms 50ms",
			"2025-03-03 acme 12":        "2025-03-03 acme 12 1 8.3% 1 8.3% 2 16.7%",
			"2025-03-04 globex 2":       "2025-03-04 globex 2 0 0.0% 0 0.0% 0 0.0%",
		}
		for key, line := range want {
			if lines[key] != line {
				t.Errorf("row %s: got %q, expected %q\nfull output:\n%s", key, lines[key], line, text)
			}
		}
	})

	t.Run("address from the environment", func(t *testing.T) {
		t.Setenv(envClickHouseAddr, addr)
		var out bytes.Buffer
		if err := kpiCommand(ctx, []string{"--database", database, "--json"}, &out); err != nil {
			t.Fatalf("mailtriage kpi without --clickhouse: %v", err)
		}
		if got := decodeJSON(t, out.String()); !reflect.DeepEqual(got, expected) {
			t.Errorf("mailtriage kpi --json with %s:\ngot  %v\nwant %v", envClickHouseAddr, got, expected)
		}
	})

	// A second consumer group reads every topic again from the start, as
	// a replay after an offset reset does. Every row is inserted again,
	// and no KPI changes.
	sinkKnownRun(ctx, t, addr, database, brokers, "kpi-command-replay")
	t.Run("json after a replay", checkJSON)
}

func TestKPICommandReportsUnreachableServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// Port 1 on loopback has no listener, so the dial is refused.
	err := kpiCommand(ctx, []string{"--clickhouse", "127.0.0.1:1"}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, expected a connection error naming 127.0.0.1:1", err)
	}
}

// TestKPIDatabaseFromEnvironment checks that --database defaults to
// MAILTRIAGE_CLICKHOUSE_DATABASE, and to the sink's default without it.
func TestKPIDatabaseFromEnvironment(t *testing.T) {
	t.Setenv(envClickHouseAddr, "127.0.0.1:19000")
	t.Setenv(envClickHouseDatabase, "analytics_eu")
	f, err := parseKPIFlags(nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if f.database != "analytics_eu" {
		t.Errorf("database %q, expected analytics_eu from %s", f.database, envClickHouseDatabase)
	}
	t.Setenv(envClickHouseDatabase, "")
	if f, err = parseKPIFlags(nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	if f.database != clickhouse.DefaultDatabase {
		t.Errorf("database %q without %s, expected the default %q", f.database, envClickHouseDatabase, clickhouse.DefaultDatabase)
	}
}

// TestKPIMissingTablesSaysWhatToRun runs kpi on a database that no sink
// has written, on the stack's ClickHouse, and checks the advice.
func TestKPIMissingTablesSaysWhatToRun(t *testing.T) {
	addr := testenv.ClickHouseAddr(t)
	database := fmt.Sprintf("kpi_empty_%06d", rand.N(1_000_000))
	err := kpiCommand(t.Context(), []string{"--clickhouse", addr, "--database", database}, &bytes.Buffer{})
	if err == nil {
		t.Fatalf("kpi on the empty database %s succeeded, expected an error", database)
	}
	wantStart := fmt.Sprintf("reading the KPIs from database %s of ClickHouse at %s: ", database, addr)
	wantEnd := "; run mailtriage sink clickhouse (or mailtriage demo --clickhouse ADDR) against this database first, or name the database that holds the tables with --database"
	if msg := err.Error(); !strings.HasPrefix(msg, wantStart) || !strings.HasSuffix(msg, wantEnd) || !strings.Contains(msg, "doesn't exist") {
		t.Errorf("kpi on a database without tables: error %q, expected it to start with %q, quote ClickHouse's \"doesn't exist\" and end with %q", msg, wantStart, wantEnd)
	}
}
