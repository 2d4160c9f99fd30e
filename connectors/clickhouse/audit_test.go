package clickhouse

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/schemas"
)

// TestSinkStoresModelAudit sends a model decision with three top labels
// through the sink and reads every audit column back.
func TestSinkStoresModelAudit(t *testing.T) {
	db := newTestDB(t)
	brokers := startKafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	ev := testEvent("acme", 0)
	ev.Reason = schemas.Reason{
		Kind:           schemas.ReasonModel,
		RulesetVersion: "rs-9",
		ModelVersion:   "m-2025-03",
		TopLabels: []schemas.LabelScore{
			{Label: "refunds", Probability: 0.625},
			{Label: "billing", Probability: 0.25},
			{Label: "general", Probability: 0.125},
		},
		Threshold: 0.55,
	}
	produce(ctx, t, newClient(t, brokers), []*kgo.Record{eventRecord(t, ev)})
	sink := startSink(t, testConfig(db, brokers, "sink-audit", nil))
	waitForFinalCount(ctx, t, db, 1)
	sink.stop(t)

	var (
		reasonKind, ruleID, rulesetVersion, modelVersion, topLabel string
		topLabels                                                  []string
		topProbabilities                                           []float64
		topProbability, threshold                                  float64
	)
	err := db.conn.QueryRow(ctx, fmt.Sprintf(`SELECT reason_kind, rule_id, ruleset_version, model_version,
		top_label, top_probability, top_labels, top_probabilities, threshold FROM %s FINAL`, db.qualified())).
		Scan(&reasonKind, &ruleID, &rulesetVersion, &modelVersion, &topLabel, &topProbability, &topLabels, &topProbabilities, &threshold)
	if err != nil {
		t.Fatalf("reading the row: %v", err)
	}

	checks := []struct {
		name      string
		got, want any
	}{
		{"reason_kind", reasonKind, "model"},
		{"rule_id", ruleID, ""},
		{"ruleset_version", rulesetVersion, "rs-9"},
		{"model_version", modelVersion, "m-2025-03"},
		{"top_label", topLabel, "refunds"},
		{"top_probability", topProbability, 0.625},
		{"top_labels", strings.Join(topLabels, ","), "refunds,billing,general"},
		{"top_probabilities", fmt.Sprint(topProbabilities), "[0.625 0.25 0.125]"},
		{"threshold", threshold, 0.55},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, expected %v", c.name, c.got, c.want)
		}
	}
}

// TestApplySchemaUpgradesOldTable creates the decisions table in the
// layout without the top label arrays and stores a row. ApplySchema must
// add the columns in the order of a new table. The old row must read back
// with empty arrays, and the sink's insert must work.
func TestApplySchemaUpgradesOldTable(t *testing.T) {
	db := newTestDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	oldDDL := fmt.Sprintf(tableDDL, db.qualified())
	for _, c := range addedColumns {
		line := "    " + c.name + " "
		start := strings.Index(oldDDL, line)
		if start < 0 {
			t.Fatalf("column %s not found in tableDDL", c.name)
		}
		end := start + strings.IndexByte(oldDDL[start:], '\n') + 1
		oldDDL = oldDDL[:start] + oldDDL[end:]
	}
	if err := db.conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+quoteIdentifier(db.database)); err != nil {
		t.Fatalf("creating the database: %v", err)
	}
	if err := db.conn.Exec(ctx, oldDDL); err != nil {
		t.Fatalf("creating the old table: %v", err)
	}
	// A batch, because an INSERT with VALUES through Exec hangs on 18.16.
	old, err := db.conn.PrepareBatch(ctx, "INSERT INTO "+db.qualified()+" (event_id, tenant, reason_kind, received_at, decided_at, inserted_at, version)")
	if err != nil {
		t.Fatalf("preparing the insert of the old layout: %v", err)
	}
	if err := old.Append("old-1", "acme", "rule", baseTime, baseTime, time.Now(), uint64(1)); err != nil {
		t.Fatalf("appending a row of the old layout: %v", err)
	}
	if err := old.Send(); err != nil {
		t.Fatalf("inserting a row of the old layout: %v", err)
	}

	for i := 1; i <= 2; i++ {
		if err := ApplySchema(ctx, db.conn, db.database, db.table); err != nil {
			t.Fatalf("ApplySchema on the old table, run %d: %v", i, err)
		}
	}
	got, err := orderedColumns(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, columns) {
		t.Errorf("columns after the upgrade:\n got      %v\n expected %v", got, columns)
	}

	var labels []string
	var probabilities []float64
	if err := db.conn.QueryRow(ctx, fmt.Sprintf("SELECT top_labels, top_probabilities FROM %s WHERE event_id = 'old-1'", db.qualified())).
		Scan(&labels, &probabilities); err != nil {
		t.Fatalf("reading the old row: %v", err)
	}
	if len(labels) != 0 || len(probabilities) != 0 {
		t.Errorf("old row: top_labels %v, top_probabilities %v, expected empty arrays", labels, probabilities)
	}

	ev := testEvent("acme", 2)
	r, err := rowFromEvent(&ev)
	if err != nil {
		t.Fatalf("rowFromEvent: %v", err)
	}
	batch, err := db.conn.PrepareBatch(ctx, insertStatement(db.database, db.table))
	if err != nil {
		t.Fatalf("preparing the insert: %v", err)
	}
	if err := batch.Append(r.values(time.Now())...); err != nil {
		t.Fatalf("appending the row: %v", err)
	}
	if err := batch.Send(); err != nil {
		t.Fatalf("inserting into the upgraded table: %v", err)
	}
	if n := db.rawCount(ctx, t); n != 2 {
		t.Errorf("rows after the insert: got %d, expected 2", n)
	}
}

// orderedColumns lists the table's columns in their order.
func orderedColumns(ctx context.Context, db *testDB) ([]string, error) {
	rows, err := db.conn.Query(ctx, "SELECT name FROM system.columns WHERE database = ? AND table = ?", db.database, db.table)
	if err != nil {
		return nil, fmt.Errorf("listing columns: %w", err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("reading a column name: %w", err)
		}
		names = append(names, name)
	}
	return names, rows.Err()
}
