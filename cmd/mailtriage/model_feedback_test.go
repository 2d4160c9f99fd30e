package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/internal/testenv"
	"mailtriage/schemas"
)

// feedbackFixture returns a reassignment of tenant/ref at the given time.
func feedbackFixture(tenant, ref string, sequence int64, at time.Time, from, to, subject, reply string) schemas.FeedbackEvent {
	return schemas.FeedbackEvent{
		EventID:   schemas.FeedbackEventID(tenant, ref, sequence),
		Tenant:    tenant,
		TicketRef: ref,
		MessageID: ref + "@example.test",
		Actor:     "dana",
		Source:    schemas.FeedbackSourceCLI,
		At:        at,
		From:      schemas.Assignment{Queue: from, Priority: "normal"},
		To:        schemas.Assignment{Queue: to, Priority: "normal"},
		Reason:    schemas.Reason{Kind: schemas.ReasonFallback, RulesetVersion: "rs-1"},
		Subject:   subject,
		ReplyText: reply,
	}
}

// produceFeedbackSet creates a topic on the local broker and writes a
// known set of records to it: eight records, of which two make rows with
// --tenant acme --since 2025-03-01.
func produceFeedbackSet(t *testing.T, brokers []string) string {
	t.Helper()
	suffix := make([]byte, 4)
	if _, err := rand.Read(suffix); err != nil {
		t.Fatalf("reading random bytes: %v", err)
	}
	topic := "mailtriage.feedback.v1.exporttest-" + hex.EncodeToString(suffix)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	client, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))
	if err != nil {
		t.Fatalf("creating the Kafka client: %v", err)
	}
	t.Cleanup(client.Close)
	admin := kadm.NewClient(client)
	created, err := admin.CreateTopics(ctx, 3, 1, nil, topic)
	if err == nil {
		err = created.Error()
	}
	if err != nil {
		t.Fatalf("creating topic %s: %v", topic, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.DeleteTopics(ctx, topic); err != nil {
			t.Logf("deleting topic %s: %v", topic, err)
		}
	})

	day := time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC)
	refundsFirst := feedbackFixture("acme", "T-1", 1, day.Add(10*time.Hour), "billing", "refunds", "Charged twice", "I was charged twice.")
	backToBilling := feedbackFixture("acme", "T-1", 2, day.Add(11*time.Hour), "refunds", "billing", "Charged twice", "I was charged twice.")
	sales := feedbackFixture("acme", "T-2", 1, day.Add(10*time.Hour+30*time.Minute), "general", "sales", "Bulk licence", "Price for 50 seats?")
	events := []schemas.FeedbackEvent{
		refundsFirst,
		sales,
		sales, // a copy sent again after a relay crash
		feedbackFixture("globex", "T-9", 1, day.Add(10*time.Hour), "general", "support", "Login fails", "Cannot log in."),
		feedbackFixture("acme", "T-3", 1, time.Date(2025, 2, 1, 9, 0, 0, 0, time.UTC), "general", "sales", "Old", "Before the cut-off."),
		feedbackFixture("acme", "T-4", 1, day.Add(12*time.Hour), "general", "spam", "", " "),
		backToBilling,
	}
	var records []*kgo.Record
	for _, ev := range events {
		value, err := schemas.Marshal(&ev)
		if err != nil {
			t.Fatalf("encoding event %s: %v", ev.EventID, err)
		}
		records = append(records, &kgo.Record{Topic: topic, Key: []byte(ev.Key()), Value: value})
	}
	records = append(records, &kgo.Record{Topic: topic, Key: []byte("acme/T-5"), Value: []byte("not avro")})
	if err := client.ProduceSync(ctx, records...).FirstErr(); err != nil {
		t.Fatalf("producing the feedback set: %v", err)
	}
	return topic
}

func TestExportFeedbackKnownSet(t *testing.T) {
	brokers := testenv.KafkaBrokers(t)
	topic := produceFeedbackSet(t, brokers)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	csvPath := filepath.Join(dir, "feedback.csv")
	var report bytes.Buffer
	err := exportFeedback(ctx, []string{"--brokers", strings.Join(brokers, ","), "--topic", topic,
		"--tenant", "acme", "--since", "2025-03-01", "--out", csvPath}, &report)
	if err != nil {
		t.Fatalf("export-feedback to CSV: %v", err)
	}
	got, err := os.ReadFile(csvPath)
	if err != nil {
		t.Fatalf("reading the CSV: %v", err)
	}
	wantCSV := "text,label\n" +
		"\"Charged twice\nI was charged twice.\",billing\n" +
		"\"Bulk licence\nPrice for 50 seats?\",sales\n"
	if string(got) != wantCSV {
		t.Errorf("CSV:\n got      %q\n expected %q", got, wantCSV)
	}
	wantReport := "wrote 2 rows to " + csvPath + " from 8 feedback events; skipped 6 (2 older or repeated events of a ticket, " +
		"1 undecodable, 1 of other tenants, 1 before --since, 1 without text or queue)\n"
	if report.String() != wantReport {
		t.Errorf("report:\n got      %q\n expected %q", report.String(), wantReport)
	}

	jsonlPath := filepath.Join(dir, "feedback.jsonl")
	report.Reset()
	err = exportFeedback(ctx, []string{"--brokers", strings.Join(brokers, ","), "--topic", topic, "--out", jsonlPath}, &report)
	if err != nil {
		t.Fatalf("export-feedback to JSONL: %v", err)
	}
	got, err = os.ReadFile(jsonlPath)
	if err != nil {
		t.Fatalf("reading the JSONL: %v", err)
	}
	// Without filters, the tickets of globex and the early T-3 count too,
	// in the order of tenant and ticket reference.
	wantJSONL := `{"text":"Charged twice\nI was charged twice.","label":"billing"}` + "\n" +
		`{"text":"Bulk licence\nPrice for 50 seats?","label":"sales"}` + "\n" +
		`{"text":"Old\nBefore the cut-off.","label":"sales"}` + "\n" +
		`{"text":"Login fails\nCannot log in.","label":"support"}` + "\n"
	if string(got) != wantJSONL {
		t.Errorf("JSONL:\n got      %s\n expected %s", got, wantJSONL)
	}
}

func TestExportFeedbackFlagErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no output", []string{"--brokers", "127.0.0.1:1"}, "missing --out"},
		{"wrong extension", []string{"--brokers", "127.0.0.1:1", "--out", "feedback.txt"}, `invalid --out "feedback.txt": the file name must end in .csv or .jsonl`},
		{"bad since", []string{"--brokers", "127.0.0.1:1", "--out", "f.csv", "--since", "yesterday"}, `invalid --since "yesterday"`},
		{"bad timeout", []string{"--brokers", "127.0.0.1:1", "--out", "f.csv", "--timeout", "0s"}, "invalid --timeout 0s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := exportFeedback(ctx, tc.args, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error: got %v, expected it to contain %q", err, tc.want)
			}
		})
	}
}

func TestExportFeedbackMissingTopic(t *testing.T) {
	brokers := testenv.KafkaBrokers(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := filepath.Join(t.TempDir(), "f.csv")
	err := exportFeedback(ctx, []string{"--brokers", strings.Join(brokers, ","), "--topic", "mailtriage.feedback.v1.does-not-exist", "--out", out}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "topic mailtriage.feedback.v1.does-not-exist does not exist") {
		t.Errorf("error: got %v, expected it to name the missing topic", err)
	}
	if _, statErr := os.Stat(out); !os.IsNotExist(statErr) {
		t.Errorf("output file exists after a failed export (stat: %v)", statErr)
	}
}
