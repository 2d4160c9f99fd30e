package benchreport

import (
	"fmt"
	"math"
	"strings"
)

// renderChain writes the processor chain figures. One operation of
// BenchmarkChain is the whole mix, so the emails per operation follow from
// its emails/s and ns/op metrics.
func renderChain(b *strings.Builder, run GoRun) {
	b.WriteString("\n### Processor chain alone, one core\n\n")
	if run.Skipped != "" {
		fmt.Fprintf(b, "Not measured in this run: %s\n", run.Skipped)
		return
	}
	b.WriteString("`BenchmarkChain` of processors/bench_test.go runs `DefaultChain` (dedupe, redact, " +
		"classify, route) with config/rules.yaml and an in-memory state store over a fixed mix of " +
		"support emails: 2 to 20 KB bodies with some personal data and a quoted earlier message, HTML " +
		"for half of them, attachment metadata for every third. No Kafka is involved. Figures are the " +
		"medians of the result lines.\n\n")
	b.WriteString("| benchmark | runs | emails/s (one core) | µs per email | allocations per email | bytes allocated per email |\n")
	b.WriteString("|---|---|---|---|---|---|\n")

	var chainRate float64
	for _, bench := range run.Benchmarks {
		rate, ok := bench.Median("emails/s")
		nsPerOp, _ := bench.Median("ns/op")
		if !ok || rate == 0 {
			continue
		}
		perOp := math.Round(rate * nsPerOp / 1e9)
		if perOp < 1 {
			perOp = 1
		}
		allocs, _ := bench.Median("allocs/op")
		bytes, _ := bench.Median("B/op")
		fmt.Fprintf(b, "| %s | %d | %.0f | %.1f | %.0f | %.0f |\n",
			bench.Name, bench.Count(), rate, nsPerOp/perOp/1e3, allocs/perOp, bytes/perOp)
		if bench.Name == "BenchmarkChain" {
			chainRate = rate
		}
	}
	if chainRate > 0 {
		fmt.Fprintf(b, "\nBenchmarkChain against the target of %d emails/s per core: %s.\n",
			TargetChainRate, verdict(chainRate, TargetChainRate, " emails/s"))
	}
	fmt.Fprintf(b, "\n```\n%s\n```\n", run.Command)
}

func renderCodec(b *strings.Builder, run GoRun) {
	b.WriteString("\n### Avro encoding of InboundEmail, one core\n\n")
	if run.Skipped != "" {
		fmt.Fprintf(b, "Not measured in this run: %s\n", run.Skipped)
		return
	}
	b.WriteString("The benchmarks of schemas/bench_test.go encode and decode one InboundEmail with every " +
		"field set, as the ingress roles and the processor do for each record.\n\n")
	b.WriteString("| benchmark | runs | ns/op | MB/s | allocations/op | bytes/op |\n")
	b.WriteString("|---|---|---|---|---|---|\n")
	for _, bench := range run.Benchmarks {
		ns, _ := bench.Median("ns/op")
		mbs, _ := bench.Median("MB/s")
		allocs, _ := bench.Median("allocs/op")
		bytes, _ := bench.Median("B/op")
		fmt.Fprintf(b, "| %s | %d | %.0f | %.1f | %.0f | %.0f |\n", bench.Name, bench.Count(), ns, mbs, allocs, bytes)
	}
	fmt.Fprintf(b, "\n```\n%s\n```\n", run.Command)
}

func renderGateway(b *strings.Builder, run GoRun) {
	b.WriteString("\n### Webhook gateway, two cores\n\n")
	if run.Skipped != "" {
		fmt.Fprintf(b, "Not measured in this run: %s\n", run.Skipped)
		return
	}
	b.WriteString("The benchmarks of connectors/webhook/bench_test.go send distinct signed requests from " +
		"8 concurrent clients over loopback to the gateway, which verifies the HMAC, parses, stores " +
		"the raw message (raw endpoint only, to a local folder with fsync) and publishes with " +
		"acks=all to an in-process kfake broker. Clients, gateway and broker share both CPUs, so " +
		"this is a lower bound for a gateway with a remote broker.\n\n")
	b.WriteString("| benchmark | runs | requests/s | p50 latency | p95 latency |\n")
	b.WriteString("|---|---|---|---|---|\n")
	for _, bench := range run.Benchmarks {
		rate, _ := bench.Median("req/s")
		p50, _ := bench.Median("p50-ms")
		p95, _ := bench.Median("p95-ms")
		fmt.Fprintf(b, "| %s | %d | %.0f | %.1f ms | %.1f ms |\n", bench.Name, bench.Count(), rate, p50, p95)
	}
	if raw, ok := Find(run.Benchmarks, "BenchmarkGatewayRaw"); ok {
		rate, _ := raw.Median("req/s")
		fmt.Fprintf(b, "\nBenchmarkGatewayRaw against the target of %d signed requests/s on two cores: %s.\n",
			TargetGatewayRate, verdict(rate, TargetGatewayRate, " requests/s"))
	}
	fmt.Fprintf(b, "\n```\n%s\n```\n", run.Command)
}
