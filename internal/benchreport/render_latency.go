package benchreport

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
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

// LatencyRun is the outcome of `mailtriage-bench latency`, from NAME.cmd
// and NAME.json or NAME.skipped.
type LatencyRun struct {
	Command string
	Result  *LatencyResult // nil when skipped
	Skipped string
}

// loadLatencyRun reads the latency run name. The run at the target's rate
// is optional: without its command file, it returns a zero LatencyRun.
func loadLatencyRun(dir, name string) (LatencyRun, error) {
	run := LatencyRun{}
	if name != "latency" {
		if _, err := os.Stat(filepath.Join(dir, name+".cmd")); errors.Is(err, fs.ErrNotExist) {
			return run, nil
		}
	}
	var err error
	if run.Command, err = readCommand(dir, name); err != nil {
		return run, err
	}
	if run.Skipped, err = readSkipped(dir, name); err != nil || run.Skipped != "" {
		return run, err
	}
	content, err := os.ReadFile(filepath.Join(dir, name+".json"))
	if err != nil {
		return run, fmt.Errorf("reading the output of %s: %w", name, err)
	}
	run.Result = &LatencyResult{}
	if err := json.Unmarshal(content, run.Result); err != nil {
		return run, fmt.Errorf("decoding %s.json: %w", name, err)
	}
	return run, nil
}

// renderLatency writes the end-to-end latency, the peak RSS and the CPU
// time of each role, for the run at the default rate and the one at the
// target's rate.
func renderLatency(b *strings.Builder, run, target LatencyRun) {
	b.WriteString("\n### End-to-end latency and peak RSS\n\n")
	if run.Result == nil && target.Result == nil {
		fmt.Fprintf(b, "Not measured in this run: %s\n", run.Skipped)
		return
	}
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
		"sink inserted the row inside its transaction, a bound from below. *processed* is receivedAt to " +
		"the fetch of a read_committed consumer of the tickets topic that returned the email's ticket " +
		"command: an upper bound of the processor's commit. *answered* is the time from the start of a " +
		"request to its 202 response. Peak RSS is VmHWM from /proc/PID/status of each role, read at the " +
		"end of the run. CPU time is user plus system time from /proc/PID/stat of each process, and the " +
		"busy time of all CPUs comes from /proc/stat. Both are read when the timed load starts and when " +
		"the last row was seen or the run stopped waiting for it.\n")

	for _, r := range []LatencyRun{run, target} {
		renderLatencyRun(b, r)
	}
}

// renderLatencyRun writes the figures of one latency run.
func renderLatencyRun(b *strings.Builder, run LatencyRun) {
	if run.Result == nil {
		if run.Command != "" {
			fmt.Fprintf(b, "\n#### Not measured in this run\n\n%s\n\n```\n%s\n```\n", run.Skipped, run.Command)
		}
		return
	}
	r := run.Result
	fmt.Fprintf(b, "\n#### %.0f emails/s requested for %.0f s\n\n", r.Rate, r.DurationSeconds)
	fmt.Fprintf(b, "%.0f emails/s accepted; %d sent, %d accepted (202), %d ticket commands and %d ticket rows seen; "+
		"the last request started at most %.0f ms behind its planned time; poll interval %.0f ms.\n\n",
		r.AchievedRate, r.Sent, r.Accepted, r.ProcessedCount, r.Delivered, r.MaxSendLagMs, r.PollMs)
	b.WriteString("| step | p50 ms | p95 ms | p99 ms | max ms |\n|---|---|---|---|---|\n")
	for _, row := range []struct {
		name     string
		p        Percentiles
		measured bool
	}{
		// The result of an older mailtriage-bench lacks the Answered and
		// Processed percentiles.
		{"request to 202 (answered)", r.Answered, r.Answered.Max > 0},
		{"receivedAt to ticket command committed (processed, upper bound)", r.Processed, r.ProcessedCount > 0},
		{"receivedAt to row written (lower bound)", r.Written, r.Delivered > 0},
		{"receivedAt to row visible (commit, upper bound)", r.Visible, r.Delivered > 0},
	} {
		if !row.measured {
			fmt.Fprintf(b, "| %s | not measured | | | |\n", row.name)
			continue
		}
		fmt.Fprintf(b, "| %s | %.0f | %.0f | %.0f | %.0f |\n", row.name, row.p.P50, row.p.P95, row.p.P99, row.p.Max)
	}

	b.WriteString("\n")
	renderLatencyNotes(b, r)
	renderLatencyTarget(b, r)
	renderRSS(b, r)
	renderCPU(b, r)
	fmt.Fprintf(b, "\n```\n%s\n```\n", run.Command)
}

// renderLatencyNotes writes what the run's counts and steps show.
func renderLatencyNotes(b *strings.Builder, r *LatencyResult) {
	switch {
	case r.Delivered < r.Accepted:
		fmt.Fprintf(b, "- %d of the %d accepted emails had no ticket row before the run stopped waiting, so the "+
			"percentiles leave out the slowest emails.\n", r.Accepted-r.Delivered, r.Accepted)
	case r.Accepted < r.Sent:
		fmt.Fprintf(b, "- %d requests were not accepted.\n", r.Sent-r.Accepted)
	}
	if r.Rate > 0 && r.AchievedRate < 0.95*r.Rate {
		fmt.Fprintf(b, "- The gateway accepted %.0f of the %.0f emails/s requested: with every request in flight "+
			"waiting for its response, the sender fell behind its schedule.\n", r.AchievedRate, r.Rate)
	}
	// NOTE: the one-second threshold is a judgement: with the roles keeping
	// up, the median stays near one batch of the processor and the sink.
	if r.Visible.P50 > 1000 {
		b.WriteString("- A median above a second at a steady rate means that the roles did not keep up with " +
			"it, so emails queued and the latency grew during the run.\n")
	}
	if r.ProcessedRate > 0 && r.WrittenRate > 0 {
		fmt.Fprintf(b, "- Emails per second from the first email of the run to the last: %.0f accepted by the "+
			"gateway, %.0f ticket commands committed by the processor, %.0f rows inserted by the sink.\n",
			r.AchievedRate, r.ProcessedRate, r.WrittenRate)
	}
	if r.ProcessedCount > 0 && r.Delivered > 0 {
		processor := r.Processed.P50
		sink := r.Visible.P50 - r.Processed.P50
		slower := "the processor (receivedAt to its committed ticket command)"
		if sink > processor {
			slower = "the sink (from the committed ticket command to the committed row)"
		}
		fmt.Fprintf(b, "- Medians: the ticket command was committed %.0f ms after receivedAt (the gateway's "+
			"answer took %.0f ms), and the row was visible %.0f ms after receivedAt, %.0f ms later. The larger "+
			"part of the median is %s.\n",
			processor, r.Answered.P50, r.Visible.P50, sink, slower)
	}
}

// renderLatencyTarget checks the p95 target, which applies at the
// target's rate.
func renderLatencyTarget(b *strings.Builder, r *LatencyResult) {
	p95 := fmt.Sprintf("p95 %.0f ms at %.0f emails/s requested, %.0f accepted", r.Visible.P95, r.Rate, r.AchievedRate)
	switch {
	case r.Rate < TargetLatencyRate:
		fmt.Fprintf(b, "- Target p95 at most %d ms at %d emails/s: not checked here, because this run requested "+
			"%.0f emails/s (%s).\n", TargetLatencyP95Ms, TargetLatencyRate, r.Rate, p95)
	case r.Visible.P95 <= TargetLatencyP95Ms:
		fmt.Fprintf(b, "- Target p95 at most %d ms: met (%s).\n", TargetLatencyP95Ms, p95)
	default:
		fmt.Fprintf(b, "- Target p95 at most %d ms: missed by %.0f ms (%s).\n", TargetLatencyP95Ms,
			r.Visible.P95-TargetLatencyP95Ms, p95)
	}
}

// renderRSS writes the peak RSS of each role against its target.
func renderRSS(b *strings.Builder, r *LatencyResult) {
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
		} else {
			// A short run may end before the peak that a longer one reaches.
			check += fmt.Sprintf(" in this %.0f s run", r.DurationSeconds)
		}
		fmt.Fprintf(b, "| %s | %.0f | %s |\n", role, rss, check)
	}
}

// renderBaseline writes the at-least-once baseline and the ratios of the
// exactly-once topology, with the chain and with the pass-through
// processor, to it on the same broker.
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
		"processing. emails/s counts from the first fetched record until the last offsets are committed.\n\n" +
		"The ratio of the target compares unlike work: the baseline only decodes and inserts, while the " +
		"exactly-once topology runs the whole chain (dedupe, redact, classify, route) and produces its " +
		"outputs and state in Kafka transactions. The pass-through topology runs the same runner and " +
		"transactions with a processor that does nothing, so its ratio to the baseline shows what the " +
		"transactions cost apart from the chain's CPU time. All three rates come from this run.\n\n")
	rate, ok := 0.0, false
	if bench, found := Find(baseline.Benchmarks, "BenchmarkBaseline/kafka"); found {
		rate, ok = bench.Median("emails/s")
	}
	chain, chainOK := topologyRate(topology, "kafka", "chain")
	pass, passOK := topologyRate(topology, "kafka", "passthrough")
	fmt.Fprintf(b, "| consumer | emails/s |\n|---|---|\n| at-least-once baseline (kafka) | %s |\n"+
		"| exactly-once topology, chain (kafka) | %s |\n| exactly-once topology, pass-through (kafka) | %s |\n",
		rateCell(rate, ok), rateCell(chain, chainOK), rateCell(pass, passOK))

	b.WriteString("\n")
	if ok && chainOK && rate > 0 {
		ratio := chain / rate
		fmt.Fprintf(b, "- exactly-once topology with the chain / baseline: %.2fx (target at least %.0fx: %s)\n",
			ratio, TargetBaselineX, verdict(ratio, TargetBaselineX, "x"))
	} else {
		b.WriteString("- exactly-once topology with the chain / baseline: cannot be computed, because one of the two was not measured.\n")
	}
	if ok && passOK && rate > 0 {
		fmt.Fprintf(b, "- exactly-once topology with the pass-through processor / baseline: %.2fx\n", pass/rate)
	} else {
		b.WriteString("- exactly-once topology with the pass-through processor / baseline: cannot be computed, because one of the two was not measured.\n")
	}
	fmt.Fprintf(b, "\n```\n%s\n```\n", baseline.Command)
}
