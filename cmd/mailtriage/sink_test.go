package main

import (
	"strings"
	"testing"
)

func TestSinkSummaryListsEverySink(t *testing.T) {
	summary := commands[sinkCommand].summary
	if summary != sinkSummary() {
		t.Errorf("sink command summary = %q, expected the summary of every registered sink, %q", summary, sinkSummary())
	}
	for _, kind := range []string{"clickhouse", "postgres", "slack", "smtp"} {
		if _, ok := sinks[kind]; !ok {
			t.Errorf("sink %s is not registered", kind)
		}
		if !strings.Contains(summary, kind) {
			t.Errorf("sink command summary %q does not name the %s sink", summary, kind)
		}
	}
}

func TestRunSinkUnknownKindListsKinds(t *testing.T) {
	err := runSink(t.Context(), []string{"fax"})
	if err == nil {
		t.Fatal("runSink(fax) returned nil, expected an error for an unknown sink")
	}
	for _, kind := range sinkKinds() {
		if !strings.Contains(err.Error(), kind) {
			t.Errorf("runSink(fax) error = %q, expected it to list the %s sink", err, kind)
		}
	}
}

// TestSinkClickHouseMissingAddress checks that the ClickHouse sink, like
// kpi, names both the flag and the variable when it has no address.
func TestSinkClickHouseMissingAddress(t *testing.T) {
	t.Setenv(envClickHouseAddr, "")
	err := runSinkClickHouse(t.Context(), []string{"--brokers", "127.0.0.1:1"})
	want := "missing --clickhouse: pass the host:port of the ClickHouse native protocol, such as 127.0.0.1:9000, or set MAILTRIAGE_CLICKHOUSE_ADDR"
	if err == nil || err.Error() != want {
		t.Errorf("sink clickhouse without an address: error %v, expected %q", err, want)
	}
}
