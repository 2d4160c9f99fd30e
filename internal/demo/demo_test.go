package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
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

// corpusFiles lists the regular files under root, as slash-separated
// paths relative to it, split into those a folder import reads and those
// it skips by name (README*, LICENSE*, COPYING*). Hidden entries are in
// neither list.
func corpusFiles(t *testing.T, root string) (read, skipped map[string]bool) {
	t.Helper()
	read, skipped = map[string]bool{}, map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path != root && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		upper := strings.ToUpper(d.Name())
		if strings.HasPrefix(upper, "README") || strings.HasPrefix(upper, "LICENSE") || strings.HasPrefix(upper, "COPYING") {
			skipped[filepath.ToSlash(rel)] = true
		} else {
			read[filepath.ToSlash(rel)] = true
		}
		return nil
	})
	if err != nil {
		t.Fatalf("listing %s: %v", root, err)
	}
	return read, skipped
}

// The corpus holds real and deliberately broken messages from public MIME
// test suites, and the pictures, RTF and TNEF files their tests compare
// against. None may be lost or stop the run: every file but the named
// skips is imported, and what is not mail goes to the dead-letter topic.
func TestDemoCorpusNothingLost(t *testing.T) {
	if _, err := os.Stat(mimeCorpus); err != nil {
		t.Skipf("MIME corpus not found at %s: %v", mimeCorpus, err)
	}
	read, skipped := corpusFiles(t, mimeCorpus)
	if len(skipped) == 0 {
		t.Errorf("the corpus has no README, LICENSE or COPYING file, so the skip rule is not exercised")
	}
	count, err := files.Count([]string{mimeCorpus})
	if err != nil {
		t.Fatal(err)
	}

	report := runDemo(t, mimeCorpus)

	got := report.Totals
	if got.Inbound != count || got.Inbound != len(report.Rows) {
		t.Errorf("inbound = %d with %d rows, want %d (every message that files.Count finds)", got.Inbound, len(report.Rows), count)
	}
	if got.Routed+got.Duplicates+got.DLQ != got.Inbound || got.Missing != 0 {
		t.Errorf("inbound %d != routed %d + duplicates %d + dlq %d (missing %d)", got.Inbound, got.Routed, got.Duplicates, got.DLQ, got.Missing)
	}

	// Every file has a row, and the only files without one are the named
	// skips.
	withRow := map[string]bool{}
	for _, row := range report.Rows {
		file, _, _ := strings.Cut(row.File, "#")
		withRow[file] = true
	}
	for file := range read {
		if !withRow[file] {
			t.Errorf("%s: no row, but only README, LICENSE and COPYING files may be skipped", file)
		}
	}
	for file := range withRow {
		if !read[file] {
			t.Errorf("%s: has a row but is not a file the import reads (skipped by name: %v)", file, skipped[file])
		}
	}

	for _, row := range report.Rows {
		stage, reason, ok := strings.Cut(row.DeadLetter, ": ")
		if row.DeadLetter != "" && (!ok || stage == "" || reason == "") {
			t.Errorf("%s: dead letter %q does not say which stage failed and why", row.File, row.DeadLetter)
		}
	}
	if got.DLQ == 0 {
		t.Errorf("dlq = 0, want the corpus's pictures, RTF and TNEF files dead-lettered")
	}
}

// Files that are not mail reach the dead-letter topic at the parse stage,
// each with the reason, and the rest of the folder flows.
func TestDemoNonMailGoesToDLQ(t *testing.T) {
	dir := t.TempDir()
	random := make([]byte, 2048)
	for i := range random {
		random[i] = byte(i*7919 + i/3)
	}
	write := func(name string, content []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a-good.eml", []byte("From: Ana <ana@example.com>\nTo: support@example.com\nSubject: Hello\nMessage-ID: <good-1@example.com>\n\nHi there.\n"))
	write("b-empty.eml", nil)
	write("c-photo.eml", []byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xdb"))
	write("d-random.bin", random)
	write("e-notes.txt", []byte("Shopping list\n- milk\n- eggs\n"))
	write("f-zeros", make([]byte, 512))
	write("LICENSE", []byte("MIT License\n"))
	write("README.md", []byte("# test folder\n"))

	report := runDemo(t, dir)

	got := report.Totals
	if got.Inbound != 6 || got.Routed != 1 || got.DLQ != 5 || got.Missing != 0 {
		t.Fatalf("totals = %+v, want inbound 6, routed 1, dlq 5", got)
	}
	wantFiles := []string{"a-good.eml", "b-empty.eml", "c-photo.eml", "d-random.bin", "e-notes.txt", "f-zeros"}
	for i, row := range report.Rows {
		if row.File != wantFiles[i] {
			t.Errorf("row %d is %s, want %s", i, row.File, wantFiles[i])
		}
		if i == 0 {
			if row.DeadLetter != "" {
				t.Errorf("%s: dead-lettered (%s), want it routed", row.File, row.DeadLetter)
			}
			continue
		}
		if !strings.HasPrefix(row.DeadLetter, "parse: not an email message: ") {
			t.Errorf("%s: dead letter %q, want stage parse and \"not an email message\"", row.File, row.DeadLetter)
		}
		if !strings.Contains(row.DeadLetter, "import RFC 5322 messages (.eml), mbox files or Maildirs") {
			t.Errorf("%s: dead letter %q does not say what to import instead", row.File, row.DeadLetter)
		}
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
