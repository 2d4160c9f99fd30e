package benchreport

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Targets of the latency run and the baseline.
const (
	TargetLatencyRate  = 1_000 // emails per second at which the latency targets apply
	TargetLatencyP95Ms = 250   // end-to-end p95 in milliseconds
	TargetRoleRSSMiB   = 256   // peak RSS of each role
	TargetBaselineX    = 10.0  // exactly-once topology rate over the at-least-once baseline rate
)

// LatencyRun is the outcome of `mailtriage-bench latency`, from
// latency.cmd and latency.json or latency.skipped.
type LatencyRun struct {
	Command string
	Result  *LatencyResult // nil when skipped
	Skipped string
}

func loadLatencyRun(dir string) (LatencyRun, error) {
	run := LatencyRun{}
	var err error
	if run.Command, err = readCommand(dir, "latency"); err != nil {
		return run, err
	}
	if run.Skipped, err = readSkipped(dir, "latency"); err != nil || run.Skipped != "" {
		return run, err
	}
	content, err := os.ReadFile(filepath.Join(dir, "latency.json"))
	if err != nil {
		return run, fmt.Errorf("reading the output of latency: %w", err)
	}
	run.Result = &LatencyResult{}
	if err := json.Unmarshal(content, run.Result); err != nil {
		return run, fmt.Errorf("decoding latency.json: %w", err)
	}
	return run, nil
}

// renderLatency writes the end-to-end latency and the peak RSS of each
// role.
func renderLatency(b *strings.Builder, run LatencyRun) {
	b.WriteString("\n### End-to-end latency and peak RSS\n\n")
	if run.Result == nil {
		fmt.Fprintf(b, "Not measured in this run: %s\n", run.Skipped)
		return
	}
	r := run.Result
	b.WriteString("`mailtriage-bench latency` runs `mailtriage serve`, `mailtriage process` and " +
		"`mailtriage sink postgres` as subprocesses of the built binary against the local stack. The " +
		"processor and the sink get consumer groups of their own, which start at the current end of " +
		"their input topics, and the sink writes into a PostgreSQL schema of its own. The topics are " +
		"the topology's usual ones, so mail that other clients send meanwhile also loads the processor. " +
		"After a warm-up, signed JSON webhooks of 2 to 20 KB go to the gateway on a fixed schedule, from " +
		"up to 64 requests in flight. A connection polls ticket_messages for new rows. *visible* is the " +
		"time from the email's receivedAt, which the gateway sets on receipt, to the start of the first " +
		"poll that saw the row. A query sees only committed rows, so this bounds the commit latency from " +
		"above, by at most the poll interval. *written* is receivedAt to `clock_timestamp()` when the " +
		"sink inserted the row inside its transaction, a bound from below. Peak RSS is VmHWM from " +
		"/proc/PID/status of each role, read at the end of the run.\n\n")

	fmt.Fprintf(b, "Rate: %.0f emails/s requested for %.0f s, %.0f emails/s accepted; %d sent, %d accepted "+
		"(202), %d ticket rows seen; the last request started at most %.0f ms behind its planned time; "+
		"poll interval %.0f ms.\n\n",
		r.Rate, r.DurationSeconds, r.AchievedRate, r.Sent, r.Accepted, r.Delivered, r.MaxSendLagMs, r.PollMs)
	b.WriteString("| receivedAt to | p50 ms | p95 ms | p99 ms | max ms |\n|---|---|---|---|---|\n")
	for _, row := range []struct {
		name string
		p    Percentiles
	}{{"row visible (commit, upper bound)", r.Visible}, {"row written (lower bound)", r.Written}} {
		fmt.Fprintf(b, "| %s | %.0f | %.0f | %.0f | %.0f |\n", row.name, row.p.P50, row.p.P95, row.p.P99, row.p.Max)
	}

	b.WriteString("\n")
	switch {
	case r.Delivered < r.Accepted:
		fmt.Fprintf(b, "- %d of the %d accepted emails had no ticket row before the run stopped waiting, so the "+
			"percentiles leave out the slowest emails.\n", r.Accepted-r.Delivered, r.Accepted)
	case r.Accepted < r.Sent:
		fmt.Fprintf(b, "- %d requests were not accepted.\n", r.Sent-r.Accepted)
	}
	// NOTE: the one-second threshold is a judgement: with the roles keeping
	// up, the median stays near one batch of the processor and the sink.
	if r.Visible.P50 > 1000 {
		b.WriteString("- A median above a second at a steady rate means that the roles did not keep up with " +
			"it, so emails queued and the latency grew during the run.\n")
	}
	p95 := fmt.Sprintf("p95 %.0f ms at %.0f emails/s", r.Visible.P95, r.Rate)
	if r.Rate < TargetLatencyRate {
		fmt.Fprintf(b, "- Target p95 at most %d ms at %d emails/s: not checked, because this run used %.0f emails/s "+
			"(%s).\n", TargetLatencyP95Ms, TargetLatencyRate, r.Rate, p95)
	} else if r.Visible.P95 <= TargetLatencyP95Ms {
		fmt.Fprintf(b, "- Target p95 at most %d ms: met (%s).\n", TargetLatencyP95Ms, p95)
	} else {
		fmt.Fprintf(b, "- Target p95 at most %d ms: missed by %.0f ms (%s).\n", TargetLatencyP95Ms,
			r.Visible.P95-TargetLatencyP95Ms, p95)
	}

	fmt.Fprintf(b, "\n| role | peak RSS MiB (VmHWM) | target under %d MiB |\n|---|---|---|\n", TargetRoleRSSMiB)
	for _, role := range LatencyRoles {
		rss, ok := r.PeakRSSMiB[role]
		if !ok {
			fmt.Fprintf(b, "| %s | not measured | |\n", role)
			continue
		}
		check := "met"
		if rss >= TargetRoleRSSMiB {
			check = fmt.Sprintf("missed by %.0f MiB", rss-TargetRoleRSSMiB)
		}
		if r.Rate < TargetLatencyRate {
			check += fmt.Sprintf(" at %.0f emails/s, not at the target's %d", r.Rate, TargetLatencyRate)
		}
		fmt.Fprintf(b, "| %s | %.0f | %s |\n", role, rss, check)
	}
	fmt.Fprintf(b, "\n```\n%s\n```\n", run.Command)
}

// renderBaseline writes the at-least-once baseline and the exactly-once
// topology's ratio to it on the same broker.
func renderBaseline(b *strings.Builder, baseline, topology GoRun) {
	b.WriteString("\n### At-least-once PostgreSQL baseline\n\n")
	if baseline.Skipped != "" {
		fmt.Fprintf(b, "Not measured in this run: %s\n", baseline.Skipped)
		return
	}
	b.WriteString("`BenchmarkBaseline` of processors/runner/baseline_bench_test.go is the pipeline a team " +
		"might build by hand: a plain franz-go consumer with automatic commits off reads the same emails " +
		"as `BenchmarkTopology` from a fresh topic with three partitions, decodes each and dedupes it with " +
		"one `INSERT … ON CONFLICT DO NOTHING` into a PostgreSQL table (each statement its own " +
		"transaction), then commits the Kafka offsets after each polled batch. It does no other " +
		"processing. emails/s counts from the first fetched record until the last offsets are committed.\n\n")
	rate, ok := 0.0, false
	if bench, found := Find(baseline.Benchmarks, "BenchmarkBaseline/kafka"); found {
		rate, ok = bench.Median("emails/s")
	}
	chain, chainOK := topologyRate(topology, "kafka", "chain")
	fmt.Fprintf(b, "| consumer | emails/s |\n|---|---|\n| at-least-once baseline (kafka) | %s |\n"+
		"| exactly-once topology, chain (kafka) | %s |\n", rateCell(rate, ok), rateCell(chain, chainOK))
	if ok && chainOK && rate > 0 {
		ratio := chain / rate
		fmt.Fprintf(b, "\n- exactly-once topology / baseline: %.2fx (target at least %.0fx: %s)\n",
			ratio, TargetBaselineX, verdict(ratio, TargetBaselineX, "x"))
	} else {
		b.WriteString("\n- exactly-once topology / baseline: cannot be computed, because one of the two was not measured.\n")
	}
	fmt.Fprintf(b, "\n```\n%s\n```\n", baseline.Command)
}
