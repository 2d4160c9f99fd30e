package main

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mailtriage/processors"
)

const classifyTestMessage = "From: Jane Doe <jane@customer.example>\r\n" +
	"To: support+billing@shop.example\r\n" +
	"Subject: Refund please, call +44 20 7946 0018\r\n" +
	"Message-ID: <refund-1@customer.example>\r\n" +
	"Date: Mon, 02 Jun 2025 10:00:00 +0000\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"\r\n" +
	"I was charged twice. Please refund ASAP. Reach me at jane@customer.example.\r\n"

func TestClassifyCommandPrintsDecision(t *testing.T) {
	path := filepath.Join(t.TempDir(), "refund.eml")
	if err := os.WriteFile(path, []byte(classifyTestMessage), 0o600); err != nil {
		t.Fatal(err)
	}

	out := captureStdout(t, func() error {
		return runClassify(context.Background(), []string{"--rules", "../../config/rules.yaml", "--tenant", "acme", path})
	})

	var got classifyResult
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	if got.Queue != "billing" || got.Reason.RuleID != "billing-address" {
		t.Errorf("queue %q by rule %q, want billing by billing-address", got.Queue, got.Reason.RuleID)
	}
	if got.Priority != "high" {
		t.Errorf("priority = %q, want high for ASAP", got.Priority)
	}
	if want := processors.TicketRef("acme", "refund-1@customer.example"); got.TicketRef != want {
		t.Errorf("ticketRef = %q, want %q", got.TicketRef, want)
	}
	if got.PII["phone"] != 1 || got.PII["email"] != 1 {
		t.Errorf("pii = %v, want one phone and one email", got.PII)
	}
	if got.Duplicate {
		t.Error("duplicate = true, want false")
	}
	if !strings.Contains(out, `"tags": [`) {
		t.Errorf("output has no tags list:\n%s", out)
	}
}

func TestClassifyCommandRejectsBadInput(t *testing.T) {
	badRules := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(badRules, []byte("version: \"1\"\nrules:\n  - id: x\n    when: {subject_regex: \"[\"}\n    then: {queue: a}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	msg := filepath.Join(t.TempDir(), "m.eml")
	if err := os.WriteFile(msg, []byte(classifyTestMessage), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		args []string
		want string
	}{
		{"invalid rules", []string{"--rules", badRules, msg}, `rules.yaml:4: rule "x": invalid regex "["`},
		{"missing file", []string{"--rules", "../../config/rules.yaml", "absent.eml"}, "absent.eml not found"},
		{"no file argument", []string{"--rules", "../../config/rules.yaml"}, "expected exactly one FILE argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			captureStdout(t, func() error {
				err = runClassify(context.Background(), tt.args)
				return nil
			})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// captureStdout runs fn with os.Stdout redirected and returns what it
// wrote. fn's error fails the test.
func captureStdout(t *testing.T, fn func() error) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stdout
	os.Stdout = w
	done := make(chan string)
	go func() {
		data, _ := io.ReadAll(r)
		done <- string(data)
	}()

	runErr := fn()
	os.Stdout = saved
	w.Close()
	out := <-done
	if runErr != nil {
		t.Fatalf("command failed: %v", runErr)
	}
	return out
}
