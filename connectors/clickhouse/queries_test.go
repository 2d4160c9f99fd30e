package clickhouse

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/schemas"
)

// queryEvents returns the events of the KPI test. Tenant acme has 20
// decisions received an hour apart, with decided_ms 10, 20, …, 200. Their
// reasons are rule (0-11), model (12-15) and fallback (16-19), and their
// queues billing (even) and support (odd). Acme also has 3 duplicates.
// Tenant globex has 5 rule decisions in queue billing.
func queryEvents() []schemas.DecisionEvent {
	var out []schemas.DecisionEvent
	for i := range 20 {
		received := baseTime.Add(time.Duration(i) * time.Hour)
		ev := schemas.DecisionEvent{
			EventID:    fmt.Sprintf("acme-%d", i),
			Tenant:     "acme",
			Queue:      []string{"billing", "support"}[i%2],
			ReceivedAt: received,
			DecidedAt:  received.Add(time.Duration(i+1) * 10 * time.Millisecond),
		}
		switch {
		case i < 12:
			ev.Reason = schemas.Reason{Kind: schemas.ReasonRule, RuleID: "r1"}
		case i < 16:
			ev.Reason = schemas.Reason{Kind: schemas.ReasonModel, ModelVersion: "m1"}
		default:
			ev.Reason = schemas.Reason{Kind: schemas.ReasonFallback}
		}
		out = append(out, ev)
	}
	for i := range 3 {
		received := baseTime.Add(time.Duration(100+i) * time.Hour)
		out = append(out, schemas.DecisionEvent{
			EventID:    fmt.Sprintf("acme-dup-%d", i),
			Tenant:     "acme",
			Duplicate:  true,
			ReceivedAt: received,
			DecidedAt:  received.Add(100 * time.Second), // would skew the latency if counted
		})
	}
	for i := range 5 {
		received := baseTime.Add(time.Duration(i) * time.Hour)
		out = append(out, schemas.DecisionEvent{
			EventID:    fmt.Sprintf("globex-%d", i),
			Tenant:     "globex",
			Queue:      "billing",
			Reason:     schemas.Reason{Kind: schemas.ReasonRule, RuleID: "g1"},
			ReceivedAt: received,
			DecidedAt:  received.Add(time.Second),
		})
	}
	return out
}

func TestQueriesOnReplayedRows(t *testing.T) {
	db := newTestDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := ApplySchema(ctx, db.conn, db.database, db.table); err != nil {
		t.Fatalf("ApplySchema: %v", err)
	}

	// The sink's own insert path writes the rows, with no Kafka involved.
	s, err := New(Config{Addr: db.addr, Database: db.database, Table: db.table, KafkaOpts: []kgo.Opt{kgo.SeedBrokers("127.0.0.1:1")}})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer s.Close()

	var rows []row
	for _, ev := range queryEvents() {
		r, err := rowFromEvent(&ev)
		if err != nil {
			t.Fatalf("rowFromEvent(%s): %v", ev.EventID, err)
		}
		rows = append(rows, r)
	}
	// Two copies of every row, as after a replay, then a newer decision
	// for acme-16: the processor ran again and a rule now sends it to sales.
	for copy := 1; copy <= 2; copy++ {
		if err := s.insert(ctx, rows); err != nil {
			t.Fatalf("insert, copy %d: %v", copy, err)
		}
	}
	redecided := rows[16]
	redecided.Queue, redecided.ReasonKind, redecided.Version = "sales", schemas.ReasonRule, redecided.Version+1000
	if err := s.insert(ctx, []row{redecided}); err != nil {
		t.Fatalf("inserting the newer decision: %v", err)
	}
	if got, expected := db.rawCount(ctx, t), uint64(2*len(rows)+1); got < uint64(len(rows)) || got > expected {
		t.Fatalf("stored rows: got %d, expected between %d and %d", got, len(rows), expected)
	}

	q := db.queries(t)
	acme := Filter{Tenant: "acme"}

	t.Run("count", func(t *testing.T) {
		tests := []struct {
			filter Filter
			want   uint64
		}{
			{Filter{}, 28},
			{acme, 23},
			{Filter{Tenant: "globex"}, 5},
			{Filter{Tenant: "acme", From: baseTime.Add(10 * time.Hour), To: baseTime.Add(15 * time.Hour)}, 5},
			{Filter{From: baseTime.Add(100 * time.Hour)}, 3},
		}
		for _, tt := range tests {
			got, err := q.Count(ctx, tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Count(%+v): got %d, expected %d", tt.filter, got, tt.want)
			}
		}
	})

	t.Run("routing coverage", func(t *testing.T) {
		tests := []struct {
			filter Filter
			want   Coverage
		}{
			// 12 rule, 4 model and acme-16 now by rule, of 20 non-duplicates.
			{acme, Coverage{Decisions: 20, Routed: 17, Share: 0.85}},
			{Filter{Tenant: "globex"}, Coverage{Decisions: 5, Routed: 5, Share: 1}},
			{Filter{Tenant: "acme", From: baseTime.Add(16 * time.Hour), To: baseTime.Add(20 * time.Hour)}, Coverage{Decisions: 4, Routed: 1, Share: 0.25}},
			{Filter{Tenant: "nobody"}, Coverage{}},
		}
		for _, tt := range tests {
			got, err := q.RoutingCoverage(ctx, tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("RoutingCoverage(%+v): got %+v, expected %+v", tt.filter, got, tt.want)
			}
		}
	})

	t.Run("decisions per queue", func(t *testing.T) {
		got, err := q.DecisionsPerQueue(ctx, acme)
		if err != nil {
			t.Fatal(err)
		}
		want := []QueueCount{{"support", 10}, {"billing", 9}, {"sales", 1}}
		if !slices.Equal(got, want) {
			t.Errorf("DecisionsPerQueue(acme): got %v, expected %v", got, want)
		}

		all, err := q.DecisionsPerQueue(ctx, Filter{})
		if err != nil {
			t.Fatal(err)
		}
		want = []QueueCount{{"billing", 14}, {"support", 10}, {"sales", 1}}
		if !slices.Equal(all, want) {
			t.Errorf("DecisionsPerQueue(all): got %v, expected %v", all, want)
		}
	})

	t.Run("decided latency", func(t *testing.T) {
		got, err := q.DecidedLatency(ctx, acme)
		if err != nil {
			t.Fatal(err)
		}
		// decided_ms is 10, 20, …, 200; ClickHouse interpolates at rank
		// q*(n-1): p50 between 100 and 110, p95 a twentieth past 190.
		if got.Decisions != 20 || math.Abs(got.P50-105) > 1e-9 || math.Abs(got.P95-190.5) > 1e-9 {
			t.Errorf("DecidedLatency(acme): got %+v, expected 20 decisions, p50 105 and p95 190.5", got)
		}

		none, err := q.DecidedLatency(ctx, Filter{Tenant: "nobody"})
		if err != nil {
			t.Fatal(err)
		}
		if none != (Latency{}) {
			t.Errorf("DecidedLatency(nobody): got %+v, expected zero", none)
		}
	})
}

func TestNewQueriesRejectsBadNames(t *testing.T) {
	for _, name := range []string{"", "a b", "x;DROP", "db`"} {
		if _, err := NewQueries(nil, name, "decisions"); err == nil {
			t.Errorf("NewQueries with database %q: got no error, expected an invalid name error", name)
		}
	}
}
