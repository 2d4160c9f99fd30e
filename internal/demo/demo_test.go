package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailtriage/connectors/files"
)

const (
	sampleMailbox = "../../samples/mailbox"
	sampleRules   = "../../config/rules.yaml"
	mimeCorpus    = "../../../shared/corpus/mime"
)

func runDemo(t *testing.T, mail ...string) *Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	report, err := Run(ctx, Config{Mail: mail, RulesFile: sampleRules, Timeout: 80 * time.Second})
	if err != nil {
		t.Fatalf("demo run over %v: %v", mail, err)
	}
	return report
}

func TestDemoSampleMailboxTotals(t *testing.T) {
	report := runDemo(t, sampleMailbox)

	want := Totals{
		Inbound:    35,
		Routed:     32,
		Duplicates: 3,
		DLQ:        0,
		Queues: map[string]int{
			"account-security": 7,
			"billing":          8,
			"general":          8,
			"orders":           6,
			"system":           3,
		},
	}
	got := report.Totals
	if got.Inbound != want.Inbound || got.Routed != want.Routed || got.Duplicates != want.Duplicates || got.DLQ != want.DLQ || got.Missing != 0 {
		t.Errorf("totals = %+v, want %+v", got, want)
	}
	for queue, n := range want.Queues {
		if got.Queues[queue] != n {
			t.Errorf("queue %s: got %d messages, want %d", queue, got.Queues[queue], n)
		}
	}
	if len(got.Queues) != len(want.Queues) {
		t.Errorf("queues = %v, want exactly %v", got.Queues, want.Queues)
	}
}

func TestDemoDuplicatesAreRedeliveries(t *testing.T) {
	report := runDemo(t, sampleMailbox)

	for _, row := range report.Rows {
		redelivered := strings.HasSuffix(row.File, ".redelivered.eml")
		if row.Duplicate != redelivered {
			t.Errorf("%s: duplicate = %v, want %v", row.File, row.Duplicate, redelivered)
		}
	}
}

func TestDemoRowsFollowRules(t *testing.T) {
	report := runDemo(t, sampleMailbox)

	want := map[string]struct{ queue, reason string }{
		"billing-double-charge.eml":      {"billing", "rule billing-address"},
		"orders-tracking-to-support.eml": {"orders", "rule orders-keywords"},
		"security-suspicious-login.eml":  {"account-security", "rule security-address"},
		"system-bounce.eml":              {"system", "rule machine-mail"},
		"general-japanese.eml":           {"general", "fallback"},
	}
	seen := 0
	for _, row := range report.Rows {
		exp, ok := want[row.File]
		if !ok {
			continue
		}
		seen++
		if row.Queue != exp.queue || row.Reason != exp.reason {
			t.Errorf("%s: queue %q reason %q, want queue %q reason %q", row.File, row.Queue, row.Reason, exp.queue, exp.reason)
		}
	}
	if seen != len(want) {
		t.Errorf("found %d of the %d expected files in the report", seen, len(want))
	}
}

func TestDemoPIINeverInSubjects(t *testing.T) {
	report := runDemo(t, sampleMailbox)

	for _, row := range report.Rows {
		if strings.Contains(row.Subject, "@") {
			t.Errorf("%s: subject %q shows an address", row.File, row.Subject)
		}
	}
	var withCard bool
	for _, row := range report.Rows {
		if row.File == "billing-double-charge.eml" {
			withCard = row.PII["card"] == 1
		}
	}
	if !withCard {
		t.Error("billing-double-charge.eml: want one card number counted in PII")
	}
}

// The corpus holds real and deliberately broken messages from public MIME
// test suites. None may be lost or stop the run.
func TestDemoCorpusNothingLost(t *testing.T) {
	if _, err := os.Stat(mimeCorpus); err != nil {
		t.Skipf("MIME corpus not found at %s: %v", mimeCorpus, err)
	}
	want, err := files.Count([]string{mimeCorpus})
	if err != nil {
		t.Fatal(err)
	}

	report := runDemo(t, mimeCorpus)

	got := report.Totals
	if got.Inbound != want {
		t.Errorf("inbound = %d, want %d (every message file of the corpus)", got.Inbound, want)
	}
	if got.Routed+got.Duplicates+got.DLQ != got.Inbound || got.Missing != 0 {
		t.Errorf("inbound %d != routed %d + duplicates %d + dlq %d (missing %d)", got.Inbound, got.Routed, got.Duplicates, got.DLQ, got.Missing)
	}
	for _, row := range report.Rows {
		if row.DeadLetter != "" && !strings.Contains(row.DeadLetter, ": ") {
			t.Errorf("%s: dead letter %q does not say which stage failed and why", row.File, row.DeadLetter)
		}
	}
}

// A file that is not mail at all still reaches the dead-letter topic, with
// the stage and the reason, and the rest of the folder flows.
func TestDemoUnreadableFileGoesToDLQ(t *testing.T) {
	dir := t.TempDir()
	good := "From: Ana <ana@example.com>\nTo: support@example.com\nSubject: Hello\nMessage-ID: <good-1@example.com>\n\nHi there.\n"
	if err := os.WriteFile(filepath.Join(dir, "a-good.eml"), []byte(good), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "b-empty.eml"), nil, 0o644); err != nil {
		t.Fatal(err)
	}

	report := runDemo(t, dir)

	got := report.Totals
	if got.Inbound != 2 || got.Routed != 1 || got.DLQ != 1 {
		t.Fatalf("totals = %+v, want inbound 2, routed 1, dlq 1", got)
	}
	dead := report.Rows[1]
	if dead.File != "b-empty.eml" || !strings.HasPrefix(dead.DeadLetter, "parse: ") {
		t.Errorf("row %+v: want b-empty.eml dead-lettered at stage parse", dead)
	}
}

func TestReportJSONShape(t *testing.T) {
	report := runDemo(t, sampleMailbox)

	var buf bytes.Buffer
	if err := report.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("output %q is not JSON: %v", buf.String(), err)
	}
	for _, key := range []string{"inbound", "routed", "duplicates", "dlq", "queues"} {
		if _, ok := got[key]; !ok {
			t.Errorf("JSON totals lack %q: %s", key, buf.String())
		}
	}
	if got["inbound"] != float64(35) {
		t.Errorf("inbound = %v, want 35", got["inbound"])
	}
}
