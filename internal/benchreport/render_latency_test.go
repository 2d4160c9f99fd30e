package benchreport

import (
	"strings"
	"testing"
)

func TestRenderBaselineRatio(t *testing.T) {
	baseline := GoRun{Command: "go test -bench Baseline", Benchmarks: []GoBenchmark{
		{Name: "BenchmarkBaseline/kafka", Runs: map[string][]float64{"emails/s": {2000}}},
	}}
	topology := GoRun{Command: "go test -bench Topology", Benchmarks: []GoBenchmark{
		{Name: "BenchmarkTopology/kafka/chain", Runs: map[string][]float64{"emails/s": {500}}},
	}}
	var b strings.Builder
	renderBaseline(&b, baseline, topology)
	got := b.String()

	// 500 / 2000 = 0.25x against a target of 10x.
	for _, exp := range []string{
		"| at-least-once baseline (kafka) | 2000 |",
		"| exactly-once topology, chain (kafka) | 500 |",
		"exactly-once topology / baseline: 0.25x (target at least 10x: missed by 9.75x, 98% below (the target is 40x the measured figure))",
	} {
		if !strings.Contains(got, exp) {
			t.Errorf("baseline section lacks %q; section:\n%s", exp, got)
		}
	}
}

func TestRenderBaselineWithoutTopology(t *testing.T) {
	baseline := GoRun{Benchmarks: []GoBenchmark{
		{Name: "BenchmarkBaseline/kafka", Runs: map[string][]float64{"emails/s": {2000}}},
	}}
	var b strings.Builder
	renderBaseline(&b, baseline, GoRun{Skipped: "failed"})
	if got := b.String(); !strings.Contains(got, "cannot be computed") {
		t.Errorf("baseline section without a topology rate gives a ratio; section:\n%s", got)
	}
}

func TestRenderLatencyBelowTargetRate(t *testing.T) {
	run := LatencyRun{Command: "mailtriage-bench latency --rate 200", Result: &LatencyResult{
		Rate: 200, DurationSeconds: 30, Sent: 6000, Accepted: 6000, Delivered: 5990, AchievedRate: 200, PollMs: 10,
		Visible:    Percentiles{P50: 100, P95: 200, P99: 300, Max: 400},
		PeakRSSMiB: map[string]float64{"serve": 64},
	}}
	var b strings.Builder
	renderLatency(&b, run)
	got := b.String()

	for _, exp := range []string{
		"not checked, because this run used 200 emails/s (p95 200 ms at 200 emails/s)",
		"10 of the 6000 accepted emails had no ticket row",
		"| serve | 64 | met at 200 emails/s, not at the target's 1000 |",
		"| process | not measured | |",
	} {
		if !strings.Contains(got, exp) {
			t.Errorf("latency section lacks %q; section:\n%s", exp, got)
		}
	}
}
