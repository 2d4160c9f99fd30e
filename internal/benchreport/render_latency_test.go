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
		{Name: "BenchmarkTopology/kafka/passthrough", Runs: map[string][]float64{"emails/s": {7000}}},
	}}
	var b strings.Builder
	renderBaseline(&b, baseline, topology)
	got := b.String()

	// 500 / 2000 = 0.25x against a target of 10x; 7000 / 2000 = 3.5x.
	for _, exp := range []string{
		"| at-least-once baseline (kafka) | 2000 |",
		"| exactly-once topology, chain (kafka) | 500 |",
		"| exactly-once topology, pass-through (kafka) | 7000 |",
		"- exactly-once topology with the chain / baseline: 0.25x (target at least 10x: missed by 9.75x, 98% below (the target is 40x the measured figure))\n",
		"- exactly-once topology with the pass-through processor / baseline: 3.50x\n",
		"the baseline only decodes and inserts",
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
	got := b.String()
	for _, exp := range []string{
		"- exactly-once topology with the chain / baseline: cannot be computed",
		"- exactly-once topology with the pass-through processor / baseline: cannot be computed",
		"| exactly-once topology, pass-through (kafka) | not measured |",
	} {
		if !strings.Contains(got, exp) {
			t.Errorf("baseline section without a topology rate lacks %q; section:\n%s", exp, got)
		}
	}
}

func TestRenderLatencyBelowTargetRate(t *testing.T) {
	run := LatencyRun{Command: "mailtriage-bench latency --rate 200", Result: &LatencyResult{
		Rate: 200, DurationSeconds: 30, Sent: 6000, Accepted: 6000, Delivered: 5990, AchievedRate: 200, PollMs: 10,
		Visible:    Percentiles{P50: 100, P95: 200, P99: 300, Max: 400},
		PeakRSSMiB: map[string]float64{"serve": 64},
	}}
	var b strings.Builder
	renderLatency(&b, run, LatencyRun{})
	got := b.String()

	for _, exp := range []string{
		"#### 200 emails/s requested for 30 s\n",
		"not checked here, because this run requested 200 emails/s (p95 200 ms at 200 emails/s requested, 200 accepted)",
		"10 of the 6000 accepted emails had no ticket row",
		"| serve | 64 | met at 200 emails/s, not at the target's 1000 |",
		"| process | not measured | |",
	} {
		if !strings.Contains(got, exp) {
			t.Errorf("latency section lacks %q; section:\n%s", exp, got)
		}
	}
	if strings.Contains(got, "CPU time in the") {
		t.Errorf("latency section without CPU times has a CPU table:\n%s", got)
	}
}

// targetLatencyRun is a run at the target's rate that fell behind, with
// the CPU times of every process.
func targetLatencyRun() LatencyRun {
	return LatencyRun{Command: "mailtriage-bench latency --rate 1000 --duration 10s", Result: &LatencyResult{
		Rate: 1000, DurationSeconds: 10, Sent: 10000, Accepted: 10000, Delivered: 10000, AchievedRate: 500,
		MaxSendLagMs: 9000, PollMs: 10, ProcessedCount: 10000, ProcessedRate: 480, WrittenRate: 320,
		Answered:   Percentiles{P50: 90, P95: 300, P99: 490, Max: 650},
		Processed:  Percentiles{P50: 2000, P95: 6000, P99: 7000, Max: 7500},
		Written:    Percentiles{P50: 11000, P95: 14000, P99: 15000, Max: 16000},
		Visible:    Percentiles{P50: 12000, P95: 15000, P99: 16000, Max: 17000},
		PeakRSSMiB: map[string]float64{"serve": 96, "process": 300, "sink-postgres": 146},
		CPU: &CPUUsage{WindowSeconds: 30, CPUs: 2, MachineBusySeconds: 54, ProcessSeconds: map[string]float64{
			"serve": 5, "process": 7, "sink-postgres": 4.5, "postgresql-sink-backends": 6,
			"kafka-broker": 4, "mailtriage-bench": 3,
		}},
	}}
}

func TestRenderLatencyTargetRun(t *testing.T) {
	var b strings.Builder
	renderLatency(&b, LatencyRun{Skipped: "the stack is not running"}, targetLatencyRun())
	got := b.String()

	for _, exp := range []string{
		"#### 1000 emails/s requested for 10 s\n\n500 emails/s accepted; 10000 sent, 10000 accepted (202), 10000 ticket commands and 10000 ticket rows seen",
		"| request to 202 (answered) | 90 | 300 | 490 | 650 |\n",
		"| receivedAt to ticket command committed (processed, upper bound) | 2000 | 6000 | 7000 | 7500 |\n",
		"- The gateway accepted 500 of the 1000 emails/s requested",
		"- Emails per second from the first email of the run to the last: 500 accepted by the gateway, 480 ticket commands committed by the processor, 320 rows inserted by the sink.\n",
		// 12000 - 2000 = 10000 ms between the processor's commit and the row.
		"- Medians: the ticket command was committed 2000 ms after receivedAt (the gateway's answer took 90 ms), and the row was visible 12000 ms after receivedAt, 10000 ms later. The larger part of the median is the sink (from the committed ticket command to the committed row).\n",
		"- Target p95 at most 250 ms: missed by 14750 ms (p95 15000 ms at 1000 emails/s requested, 500 accepted).\n",
		"| process | 300 | missed by 44 MiB in this 10 s run |\n",
		// 7 CPU s over 30 s, per 10000 emails, of 54 busy seconds.
		"| process | 7.0 | 0.23 | 0.70 | 13% |\n",
		"| PostgreSQL backends of the sink | 6.0 | 0.20 | 0.60 | 11% |\n",
		"| Kafka broker, for all its clients | 4.0 | 0.13 | 0.40 | 7% |\n",
		"| mailtriage-bench: sender and pollers | 3.0 | 0.10 | 0.30 | 6% |\n",
		// 54 - (5 + 7 + 4.5 + 6 + 4 + 3) = 24.5 CPU s.
		"| everything else: other PostgreSQL backends, other jobs | 24.5 | 0.82 | 2.45 | 45% |\n",
		"| all processes | 54.0 | 1.80 | 5.40 | 100% |\n",
		"- The CPUs were busy 90% of the window (54.0 of 60.0 CPU s).\n",
		"```\nmailtriage-bench latency --rate 1000 --duration 10s\n```\n",
	} {
		if !strings.Contains(got, exp) {
			t.Errorf("latency section lacks %q; section:\n%s", exp, got)
		}
	}
}

func TestRenderLatencyRunSkipped(t *testing.T) {
	var b strings.Builder
	run := targetLatencyRun()
	run.Result.Rate, run.Result.AchievedRate = 200, 200
	renderLatency(&b, run, LatencyRun{Command: "mailtriage-bench latency --rate 1000", Skipped: "mailtriage-bench latency failed with exit status 1"})
	got := b.String()
	exp := "\n#### Not measured in this run\n\nmailtriage-bench latency failed with exit status 1\n\n```\nmailtriage-bench latency --rate 1000\n```\n"
	if !strings.Contains(got, exp) {
		t.Errorf("latency section lacks %q; section:\n%s", exp, got)
	}
}
