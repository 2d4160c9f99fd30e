package main

import (
	"strings"
	"testing"
	"time"
)

func TestFilterFlagsRejectEmptyRange(t *testing.T) {
	f := filterFlags{since: "2026-01-05T00:00:00Z", until: "2026-01-04T00:00:00Z"}
	if _, err := f.resolve(time.Now()); err == nil {
		t.Error("--until before --since was accepted, expected an error")
	}
}

func TestFilterFlagsSinceForms(t *testing.T) {
	now := time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)
	f := filterFlags{since: "2026-01-04", until: "2026-01-04"}
	filter, err := f.resolve(now)
	if err != nil {
		t.Fatalf("resolve: %v", err)
	}
	if want := time.Date(2026, 1, 4, 0, 0, 0, 0, time.UTC); !filter.Since.Equal(want) {
		t.Errorf("Since %v, expected %v", filter.Since, want)
	}
	if want := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC); !filter.Until.Equal(want) {
		t.Errorf("Until %v, expected %v", filter.Until, want)
	}
}

func TestDLQStages(t *testing.T) {
	want := "parse, ingress, decode, dedupe, redact, classify, route, thread, autoreply, chain, outputs, produce, " +
		"sink-postgres, sink-clickhouse, sink-slack, sink-smtp, sink-teams, sink-ticketing, sink-crm"
	if got := strings.Join(dlqStages(), ", "); got != want {
		t.Errorf("dlqStages() = %s\nexpected %s", got, want)
	}
}

func TestFilterFlagsStage(t *testing.T) {
	for _, stage := range []string{"", "classify", "sink-postgres", "ingress"} {
		f := filterFlags{}
		f.filter.Stage = stage
		if _, err := f.resolve(time.Now()); err != nil {
			t.Errorf("--stage %q: %v, expected it to be accepted", stage, err)
		}
	}

	f := filterFlags{}
	f.filter.Stage = "clasify"
	_, err := f.resolve(time.Now())
	want := `invalid --stage "clasify": use one of parse, ingress, decode, dedupe, redact, classify, route, thread, autoreply, ` +
		"chain, outputs, produce, sink-postgres, sink-clickhouse, sink-slack, sink-smtp, sink-teams, sink-ticketing, sink-crm"
	if err == nil || err.Error() != want {
		t.Errorf("error %v, expected %q", err, want)
	}
}

func TestDLQListRejectsUnknownStage(t *testing.T) {
	code, _, errOut := runCaptured(t, "dlq", "list", "--brokers", "127.0.0.1:1", "--stage", "X")
	if code != 1 {
		t.Errorf("exit code %d, expected 1", code)
	}
	if want := `mailtriage dlq: invalid --stage "X": use one of parse, ingress, decode,`; !strings.HasPrefix(errOut, want) {
		t.Errorf("stderr %q, expected it to start with %q", errOut, want)
	}
}
