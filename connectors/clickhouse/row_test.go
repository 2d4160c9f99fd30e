package clickhouse

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/schemas"
)

func TestRowFromEventFields(t *testing.T) {
	received := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	ev := schemas.DecisionEvent{
		EventID:   "e1",
		Tenant:    "acme",
		MessageID: "m1@example.test",
		Queue:     "billing",
		Tags:      []string{"vip", "refund"},
		Reason: schemas.Reason{Kind: schemas.ReasonModel, ModelVersion: "m7", Threshold: 0.5, TopLabels: []schemas.LabelScore{
			{Label: "sales", Probability: 0.3}, {Label: "billing", Probability: 0.6}, {Label: "spam", Probability: 0.6},
		}},
		PII:         map[string]int32{"phone": 2, "email": 3, "iban": 0},
		Attachments: 4,
		Warnings:    1,
		ReceivedAt:  received,
		DecidedAt:   received.Add(1500 * time.Millisecond),
	}
	r, err := rowFromEvent(&ev)
	if err != nil {
		t.Fatalf("rowFromEvent: %v", err)
	}

	if r.TopLabel != "billing" || r.TopProbability != 0.6 {
		t.Errorf("top label: got %q %v, expected the first of the highest, billing 0.6", r.TopLabel, r.TopProbability)
	}
	if !slices.Equal(r.PIIKinds, []string{"email", "iban", "phone"}) || !slices.Equal(r.PIICounts, []uint32{3, 0, 2}) {
		t.Errorf("PII columns: got %v %v, expected [email iban phone] [3 0 2]", r.PIIKinds, r.PIICounts)
	}
	if !slices.Equal(r.TopLabels, []string{"sales", "billing", "spam"}) || !slices.Equal(r.TopProbabilities, []float64{0.3, 0.6, 0.6}) {
		t.Errorf("top label arrays: got %v %v, expected the decision's order, [sales billing spam] [0.3 0.6 0.6]", r.TopLabels, r.TopProbabilities)
	}
	if r.PIITotal != 5 {
		t.Errorf("pii_total: got %d, expected 5", r.PIITotal)
	}
	if r.DecidedMs != 1500 {
		t.Errorf("decided_ms: got %d, expected 1500", r.DecidedMs)
	}
	if r.Version != uint64(ev.DecidedAt.UnixMilli()) {
		t.Errorf("version: got %d, expected decidedAt in ms, %d", r.Version, ev.DecidedAt.UnixMilli())
	}
	if r.Attachments != 4 || r.Warnings != 1 {
		t.Errorf("counts: got %d attachments and %d warnings, expected 4 and 1", r.Attachments, r.Warnings)
	}

	inserted := received.Add(3 * time.Second)
	values := r.values(inserted)
	if len(values) != len(columns) {
		t.Fatalf("values: got %d, expected one per column, %d", len(values), len(columns))
	}
	if got := values[slices.Index(columns, "sink_ms")]; got != int64(3000) {
		t.Errorf("sink_ms: got %v, expected 3000", got)
	}
	if got := values[slices.Index(columns, "inserted_at")]; got != inserted {
		t.Errorf("inserted_at: got %v, expected %v", got, inserted)
	}
}

func TestRowFromEventEmptyValues(t *testing.T) {
	ev := schemas.DecisionEvent{EventID: "e1", Tenant: "acme", ReceivedAt: baseTime, DecidedAt: baseTime}
	r, err := rowFromEvent(&ev)
	if err != nil {
		t.Fatalf("rowFromEvent: %v", err)
	}
	// ClickHouse stores empty arrays; nil slices must become empty ones.
	if r.Tags == nil || r.PIIKinds == nil || r.PIICounts == nil {
		t.Errorf("arrays: got tags %#v, kinds %#v, counts %#v; expected empty, non-nil slices", r.Tags, r.PIIKinds, r.PIICounts)
	}
	if r.TopLabel != "" || r.TopProbability != 0 {
		t.Errorf("top label without scores: got %q %v, expected empty and 0", r.TopLabel, r.TopProbability)
	}
}

func TestRowFromEventRejects(t *testing.T) {
	valid := func() schemas.DecisionEvent {
		return schemas.DecisionEvent{EventID: "e1", Tenant: "acme", ReceivedAt: baseTime, DecidedAt: baseTime}
	}
	tests := []struct {
		name   string
		change func(*schemas.DecisionEvent)
		field  string
	}{
		{"empty event ID", func(ev *schemas.DecisionEvent) { ev.EventID = "" }, "eventId"},
		{"empty tenant", func(ev *schemas.DecisionEvent) { ev.Tenant = "" }, "tenant"},
		{"negative attachments", func(ev *schemas.DecisionEvent) { ev.Attachments = -1 }, "attachments -1"},
		{"negative PII count", func(ev *schemas.DecisionEvent) { ev.PII = map[string]int32{"email": -2} }, `"email"`},
		{"zero receivedAt", func(ev *schemas.DecisionEvent) { ev.ReceivedAt = time.Time{} }, "receivedAt"},
		{"decidedAt after 2106", func(ev *schemas.DecisionEvent) { ev.DecidedAt = time.Date(2107, 1, 1, 0, 0, 0, 0, time.UTC) }, "decidedAt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := valid()
			tt.change(&ev)
			_, err := rowFromEvent(&ev)
			if !errors.Is(err, errInvalidEvent) {
				t.Fatalf("got %v, expected an error wrapping errInvalidEvent", err)
			}
			if !strings.Contains(err.Error(), tt.field) {
				t.Errorf("error %q does not name %s", err, tt.field)
			}
		})
	}
}

func TestDecodeRowUndecodable(t *testing.T) {
	notice, err := schemas.Marshal(&schemas.Notification{EventID: "n1", Tenant: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		value []byte
		want  error
	}{
		{"not avro", []byte("{}"), schemas.ErrNotSingleObject},
		{"another contract", notice, schemas.ErrSchemaMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := decodeRow(tt.value); !errors.Is(err, tt.want) {
				t.Errorf("got %v, expected an error wrapping %v", err, tt.want)
			}
		})
	}
}

func TestDeadLetterRecord(t *testing.T) {
	src := &kgo.Record{Topic: "mailtriage.analytics.v1", Partition: 2, Offset: 41, Key: []byte("acme/m1"), Value: []byte("bad")}
	cause := errors.New("decoding failed")

	full, err := deadLetter("dlq", src, "acme", cause, baseTime, true)
	if err != nil {
		t.Fatalf("deadLetter: %v", err)
	}
	var dl schemas.DeadLetter
	if err := schemas.Unmarshal(full.Value, &dl); err != nil {
		t.Fatalf("decoding the dead letter: %v", err)
	}
	if dl.Stage != Stage || dl.SourcePartition != 2 || dl.SourceOffset != 41 || string(dl.Payload) != "bad" || dl.Error != "decoding failed" {
		t.Errorf("dead letter: got %+v", dl)
	}
	if full.Topic != "dlq" || string(full.Key) != "acme/m1" {
		t.Errorf("record: topic %q key %q, expected dlq and the source key", full.Topic, full.Key)
	}

	again, err := deadLetter("dlq", src, "acme", cause, baseTime.Add(time.Hour), false)
	if err != nil {
		t.Fatalf("deadLetter without source: %v", err)
	}
	var stripped schemas.DeadLetter
	if err := schemas.Unmarshal(again.Value, &stripped); err != nil {
		t.Fatalf("decoding the stripped dead letter: %v", err)
	}
	if stripped.EventID != dl.EventID {
		t.Errorf("event ID: got %q for the same source position, expected %q", stripped.EventID, dl.EventID)
	}
	if stripped.Payload != nil || again.Key != nil {
		t.Errorf("stripped dead letter keeps payload %q and key %q, expected neither", stripped.Payload, again.Key)
	}
}

func TestBackoffDelay(t *testing.T) {
	b := backoff{min: 100 * time.Millisecond, max: time.Second}
	tests := []struct {
		attempt int
		ceiling time.Duration
	}{
		{1, 100 * time.Millisecond},
		{2, 200 * time.Millisecond},
		{4, 800 * time.Millisecond},
		{5, time.Second},
		{60, time.Second},
	}
	for _, tt := range tests {
		for range 100 {
			d := b.delay(tt.attempt)
			if d < tt.ceiling/2 || d > tt.ceiling {
				t.Fatalf("delay after attempt %d: got %s, expected %s to %s", tt.attempt, d, tt.ceiling/2, tt.ceiling)
			}
		}
	}
}

func TestConfigValidation(t *testing.T) {
	base := Config{Addr: "127.0.0.1:9000", KafkaOpts: []kgo.Opt{kgo.SeedBrokers("127.0.0.1:9092")}}
	tests := []struct {
		name   string
		change func(*Config)
		field  string
	}{
		{"missing address", func(c *Config) { c.Addr = "" }, "Addr"},
		{"missing Kafka options", func(c *Config) { c.KafkaOpts = nil }, "KafkaOpts"},
		{"database with a quote", func(c *Config) { c.Database = "db`x" }, "Database"},
		{"table starting with a digit", func(c *Config) { c.Table = "1t" }, "Table"},
		{"negative batch rows", func(c *Config) { c.BatchRows = -1 }, "BatchRows"},
		{"batch wait under 1ms", func(c *Config) { c.BatchWait = time.Microsecond }, "BatchWait"},
		{"retry max below min", func(c *Config) { c.RetryMin, c.RetryMax = time.Second, time.Millisecond }, "RetryMin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base
			tt.change(&cfg)
			_, err := cfg.withDefaults()
			if err == nil || !strings.Contains(err.Error(), tt.field) {
				t.Errorf("got %v, expected an error naming %s", err, tt.field)
			}
		})
	}

	cfg, err := base.withDefaults()
	if err != nil {
		t.Fatalf("defaults: %v", err)
	}
	if cfg.Database != DefaultDatabase || cfg.Table != DefaultTable || cfg.BatchRows != DefaultBatchRows || cfg.BatchWait != DefaultBatchWait {
		t.Errorf("defaults: got database %q, table %q, %d rows, %s; expected %q, %q, %d, %s",
			cfg.Database, cfg.Table, cfg.BatchRows, cfg.BatchWait, DefaultDatabase, DefaultTable, DefaultBatchRows, DefaultBatchWait)
	}
}

func TestSplitByMonth(t *testing.T) {
	month := func(m int) row { return row{ReceivedAt: time.Date(2020, time.Month(1+m), 15, 0, 0, 0, 0, time.UTC)} }
	// Months 0, 0, 1, 2, 1, 3, 4: with at most 3 months per group, the
	// fourth distinct month (3) starts a second group.
	rows := []row{month(0), month(0), month(1), month(2), month(1), month(3), month(4)}
	groups := splitByMonth(rows, 3)
	if len(groups) != 2 || len(groups[0]) != 5 || len(groups[1]) != 2 {
		sizes := make([]int, len(groups))
		for i, g := range groups {
			sizes[i] = len(g)
		}
		t.Fatalf("group sizes: got %v, expected [5 2]", sizes)
	}
	if !groups[1][0].ReceivedAt.Equal(rows[5].ReceivedAt) {
		t.Errorf("second group starts at %v, expected %v", groups[1][0].ReceivedAt, rows[5].ReceivedAt)
	}
	if got := splitByMonth(nil, 3); len(got) != 0 {
		t.Errorf("no rows: got %d groups, expected none", len(got))
	}
}
