package benchreport

import (
	"fmt"
	"regexp"
	"strings"
)

// Frame patterns shared by the breakdowns. A sample of a garbage
// collector's background worker has none of the code that allocated, so
// it gets a row of its own. An assist counts with the code that allocated.
var (
	avroFrames = regexp.MustCompile(`^mailtriage/schemas\.|^github\.com/linkedin/goavro/`)
	gcFrames   = regexp.MustCompile(`^runtime\.(gcBgMarkWorker|bgsweep|bgscavenge)$`)
	// testCleanupFrames matches the functions that testing runs after the
	// benchmark, which carry no label.
	testCleanupFrames = regexp.MustCompile(`^testing\.\(\*common\)\.runCleanup$`)
	// gatewayHandlerFrames matches the stacks of the gateway's request
	// handlers.
	gatewayHandlerFrames = regexp.MustCompile(`^mailtriage/connectors/webhook\.\(\*Gateway\)\.ServeHTTP$`)
)

// stageFrame matches the Process method of the chain's processor name.
func stageFrame(name string) *regexp.Regexp {
	return regexp.MustCompile(`^mailtriage/processors\.\(\*` + name + `\)\.Process$`)
}

// kgoFrames matches the functions of franz-go's kgo package that the
// pattern names, written after "kgo.".
func kgoFrames(pattern string) *regexp.Regexp {
	return regexp.MustCompile(`^github\.com/twmb/franz-go/pkg/kgo\.(` + pattern + `)`)
}

// TopologyCategories split the CPU profile of BenchmarkTopology's chain
// run. The labels are those that processors/runner/topology_bench_test.go
// sets.
var TopologyCategories = []ProfileCategory{
	{Name: "the benchmark's own goroutine, which builds and produces the input and waits for the commits", Label: "bench=setup", Excluded: true},
	{Name: "the test's cleanup after it", Frame: testCleanupFrames, Excluded: true},
	{Name: "kfake broker, in the benchmark process", Label: "bench=kfake"},
	{Name: "chain: Dedupe", Frame: stageFrame("Dedupe")},
	{Name: "chain: Redact", Frame: stageFrame("Redact")},
	{Name: "chain: Classify", Frame: stageFrame("Classify")},
	{Name: "chain: Route", Frame: stageFrame("Route")},
	{Name: "chain: the other processors", Frame: regexp.MustCompile(`^mailtriage/processors\.Chain\.Run$`)},
	{Name: "building the outputs (processors.Outputs, with the notification's excerpt and redaction)",
		Frame: regexp.MustCompile(`^mailtriage/processors\.Outputs$`)},
	{Name: "Avro decoding and encoding", Frame: avroFrames},
	{Name: "franz-go: transactions and group membership", Frame: kgoFrames(
		`\(\*GroupTransactSession\)|\(\*groupConsumer\)|\(\*Client\)\.(BeginTransaction|EndTransaction|CommitOffsetsForTransaction|ProducerID|doWithConcurrentTransactions|resetAllProducerSequences)`)},
	{Name: "franz-go: producing (batching, compression, produce requests)", Frame: kgoFrames(
		`\(\*(sink|recBuf|producer|produceRequest|compressor)\)|seqRecBatch|promisedRec|\(\*Client\)\.(Produce|produce|Flush)`)},
	{Name: "franz-go: fetching (fetch responses, decompression)", Frame: kgoFrames(
		`\(\*(source|cursor|cursorOffsetNext|ProcessFetchPartitionOpts|decompressor|consumer)\)|ProcessFetchPartition|\(\*Client\)\.Poll`)},
	{Name: "franz-go: the rest (connections, metadata, request framing)", Frame: regexp.MustCompile(`^github\.com/twmb/franz-go/`)},
	{Name: "state stores (changelog and thread index)", Frame: regexp.MustCompile(`^mailtriage/internal/state\.`)},
	{Name: "runner: the rest (batches, tracing spans)", Frame: regexp.MustCompile(`^mailtriage/processors/runner\.`)},
	{Name: "garbage collection, background workers", Frame: gcFrames},
}

// GatewayCategories split the CPU profile of BenchmarkGatewayRaw. The
// labels are those that connectors/webhook/bench_test.go sets.
var GatewayCategories = []ProfileCategory{
	{Name: "signing the requests before the timer starts", Label: "bench=setup", Excluded: true},
	{Name: "deleting the test's temporary folders after it", Frame: testCleanupFrames, Excluded: true},
	{Name: "clients and their HTTP transport", Label: "bench=client"},
	{Name: "HMAC-SHA256 signature check", Frame: regexp.MustCompile(`^crypto/hmac\.|^mailtriage/connectors/webhook\.(verify|mac)$`)},
	{Name: "retry ledger (hashing, claims)", Frame: regexp.MustCompile(
		`^mailtriage/connectors/webhook\.(\(\*ledger\)|\(\*claim\)|\(\*claimSet\)|signatureID|bodyID|recordID|hashID)`)},
	{Name: "blob store: hashing, writing and fsync of the raw message", Frame: regexp.MustCompile(`^mailtriage/connectors/blobstore\.`)},
	{Name: "MIME parsing and mapping", Frame: regexp.MustCompile(`^mailtriage/internal/(mime|ingest)\.|^github\.com/jhillyerd/enmime/`)},
	{Name: "Avro encoding", Frame: avroFrames},
	{Name: "publishing: the ingress publisher, waiting for the broker's acknowledgement", Frame: regexp.MustCompile(`^mailtriage/connectors/ingress\.`)},
	{Name: "kfake broker, in the benchmark process", Frame: regexp.MustCompile(`^github\.com/twmb/franz-go/pkg/kfake\.`)},
	{Name: "franz-go producer of the gateway", Frame: regexp.MustCompile(`^github\.com/twmb/franz-go/`)},
	{Name: "HTTP server, handler and access log", Frame: regexp.MustCompile(`^net/http\.|^mailtriage/connectors/webhook\.|^log/slog\.`)},
	{Name: "garbage collection, background workers", Frame: gcFrames},
}

// chainStageLine matches a processor's Process method in pprof output.
var chainStageLine = regexp.MustCompile(`^mailtriage/processors\.\(\*(\w+)\)\.Process$`)

// renderChainProfile writes the CPU profile of BenchmarkChain: the top
// functions, the cumulative time per stage, and each stage's CPU time per
// email next to the budget that the target leaves.
func renderChainProfile(b *strings.Builder, run ProfileRun) {
	if !renderProfileStart(b, run, "the processor chain") {
		return
	}
	b.WriteString("\nWhere the chain spends its CPU time, from a profiled run of `BenchmarkChain` of its own " +
		"on one core (flat is the time in the function itself, cum includes its callees):\n\n```\n")
	b.WriteString(pprofTable(run.Top))
	b.WriteString("```\n")

	stages := chainStageRows(run.Cum)
	if len(stages) > 0 {
		b.WriteString("\nThe same profile per stage: each processor's Process method with everything it calls, " +
			"as a share of all the profile's samples:\n\n```\n")
		b.WriteString(pprofTable(run.Cum))
		b.WriteString("```\n")
		renderStageBudget(b, run, stages)
	}
	fmt.Fprintf(b, "\n```\n%s\n```\n", run.Command)
}

// chainStageRows returns the Process lines of the cumulative view, in
// its order.
func chainStageRows(cum string) []PprofRow {
	var rows []PprofRow
	for _, row := range ParsePprofTop(cum) {
		if chainStageLine.MatchString(row.Name) {
			rows = append(rows, row)
		}
	}
	return rows
}

// renderStageBudget converts each stage's share of the profile into CPU
// time per email, with the profiled run's cpu-µs/email metric. The
// profile also holds the benchmark's setup, so the figures are slightly
// low.
func renderStageBudget(b *strings.Builder, run ProfileRun, stages []PprofRow) {
	bench, ok := Find(run.Bench, "BenchmarkChain")
	if !ok {
		return
	}
	perEmail, ok := bench.Median("cpu-µs/email")
	if !ok || perEmail <= 0 {
		return
	}
	var parts []string
	for _, row := range stages {
		name := chainStageLine.FindStringSubmatch(row.Name)[1]
		parts = append(parts, fmt.Sprintf("%s %.0f µs", name, perEmail*row.CumPercent/100))
	}
	fmt.Fprintf(b, "\nThe profiled run used %.0f CPU µs per email, so the stages take about %s per email. "+
		"At the target of %d emails/s per core the whole chain has %.0f µs per email.\n",
		perEmail, joinList(parts), TargetChainRate, 1e6/float64(TargetChainRate))
}

// renderTopologyProfile writes the CPU profile of the exactly-once
// runner with the chain.
func renderTopologyProfile(b *strings.Builder, run ProfileRun, cpus int) {
	if !renderProfileStart(b, run, "the topology") {
		return
	}
	name, broker := profiledBenchmark(run, "BenchmarkTopology/")
	where := "The broker is the local stack's Kafka, a process of its own, so its work is not in the profile."
	if broker == "kfake" {
		where = "kfake runs in the benchmark process, so its work is in the profile, in a row of its own."
	}
	fmt.Fprintf(b, "\nWhere the runner spends its CPU time with the chain, from a profiled run of `%s` of its own. %s\n\n",
		name, where)
	renderBreakdown(b, run, TopologyCategories, cpus)
	fmt.Fprintf(b, "\n```\n%s\n```\n", run.Command)
}

// renderGatewayProfile writes the CPU profile of BenchmarkGatewayRaw.
func renderGatewayProfile(b *strings.Builder, run ProfileRun, cpus int) {
	if !renderProfileStart(b, run, "the gateway") {
		return
	}
	b.WriteString("\nWhere `BenchmarkGatewayRaw` spends its CPU time, from a profiled run of its own. The " +
		"clients, the gateway and kfake share the process. Time that the gateway waits, such as for " +
		"fsync to reach the disk or for kfake's acknowledgement, takes no CPU and is not in the CPU profile.")
	if run.Syscalls != nil && run.Waits != nil {
		b.WriteString(" The second table shows it.")
	}
	b.WriteString("\n\n")
	renderBreakdown(b, run, GatewayCategories, cpus)
	renderHandlerTime(b, run)
	fmt.Fprintf(b, "\n```\n%s\n```\n", run.Command)
}

// renderHandlerTime writes where the gateway's request handlers spend
// their time per request: on a CPU, from the CPU profile, and blocked in
// system calls or on channels and locks, from the execution trace.
func renderHandlerTime(b *strings.Builder, run ProfileRun) {
	bench, ok := Find(run.Bench, "BenchmarkGatewayRaw")
	if !ok || len(bench.Iterations) == 0 || run.Traces == nil || run.Syscalls == nil || run.Waits == nil {
		return
	}
	requests := float64(bench.Iterations[0])
	columns := []Breakdown{
		run.Traces.Filter(gatewayHandlerFrames).Breakdown(GatewayCategories),
		run.Syscalls.Filter(gatewayHandlerFrames).Breakdown(GatewayCategories),
		run.Waits.Filter(gatewayHandlerFrames).Breakdown(GatewayCategories),
	}
	fmt.Fprintf(b, "\nWhere the gateway's handlers spend their time, in ms per request over the %.0f requests. "+
		"*on CPU* comes from the CPU profile. *in system calls* and *on channels and locks* come from the "+
		"execution trace of the same run (`go tool trace -pprof=syscall` and `-pprof=sync`). Only stacks "+
		"below the gateway's ServeHTTP count, so the clients and kfake are left out. The columns leave out "+
		"waiting for a free CPU and for network reads.\n\n", requests)
	b.WriteString("| part | on CPU | in system calls | on channels and locks |\n|---|---|---|---|\n")
	totals := make([]float64, len(columns))
	for i, share := range columns[0].Shares {
		cells := make([]string, len(columns))
		nonzero := false
		for j, col := range columns {
			seconds := col.Shares[i].Seconds
			totals[j] += seconds
			cells[j] = fmt.Sprintf("%.2f", 1000*seconds/requests)
			nonzero = nonzero || seconds > 0
		}
		if nonzero {
			fmt.Fprintf(b, "| %s | %s |\n", share.Name, strings.Join(cells, " | "))
		}
	}
	fmt.Fprintf(b, "| all | %.2f | %.2f | %.2f |\n", 1000*totals[0]/requests, 1000*totals[1]/requests, 1000*totals[2]/requests)
}

// renderProfileStart writes why a profile is missing and returns false,
// or returns true when there is one to show.
func renderProfileStart(b *strings.Builder, run ProfileRun, subject string) bool {
	switch {
	case run.Command == "":
		return false
	case run.Skipped != "":
		fmt.Fprintf(b, "\nNo CPU profile of %s in this run: %s\n", subject, run.Skipped)
		return false
	}
	return true
}

// profiledBenchmark returns the name of the profiled run's first
// benchmark that starts with prefix, and the path element after prefix.
func profiledBenchmark(run ProfileRun, prefix string) (name, first string) {
	for _, bench := range run.Bench {
		if rest, ok := strings.CutPrefix(bench.Name, prefix); ok {
			first, _, _ = strings.Cut(rest, "/")
			return bench.Name, first
		}
	}
	return strings.TrimSuffix(prefix, "/"), ""
}

// renderBreakdown writes how busy the profiled process kept the CPUs, the
// top functions and the split of the CPU time into categories.
func renderBreakdown(b *strings.Builder, run ProfileRun, categories []ProfileCategory, cpus int) {
	b.WriteString("```\n")
	b.WriteString(pprofTable(run.Top))
	b.WriteString("```\n")
	if run.Traces == nil {
		return
	}

	p := run.Traces
	b.WriteString("\n")
	if p.DurationSeconds > 0 {
		fmt.Fprintf(b, "The profile covers %.1f s of wall time with %.1f s of CPU samples, so the process kept "+
			"%.2f of the %d CPUs busy on average. ", p.DurationSeconds, p.SampleSeconds,
			p.SampleSeconds/p.DurationSeconds, cpus)
	}

	split := p.Breakdown(categories)
	b.WriteString("Each sample counts once, in the first row whose code is on its stack, in the order of the table.")
	var excluded []string
	for _, c := range split.Excluded {
		if c.Seconds > 0 {
			excluded = append(excluded, fmt.Sprintf("%.2f s in %s", c.Seconds, c.Name))
		}
	}
	if len(excluded) > 0 {
		fmt.Fprintf(b, " Left out are %s.", joinList(excluded))
	}

	b.WriteString("\n\n| part | CPU s | share |\n|---|---|---|\n")
	for _, share := range split.Shares {
		// Rows without samples, such as kfake's when the broker is Kafka,
		// are left out.
		if share.Seconds == 0 {
			continue
		}
		fmt.Fprintf(b, "| %s | %.2f | %.1f%% |\n", share.Name, share.Seconds, 100*share.Share)
	}
}

// joinList joins items as "a, b and c".
func joinList(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}
