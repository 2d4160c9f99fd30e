package benchreport

import (
	"fmt"
	"strings"
)

// TopologyBrokers are the brokers of BenchmarkTopology in table order. The
// result lines are BenchmarkTopology/BROKER/chain and .../passthrough.
var TopologyBrokers = []string{"kfake", "kafka"}

// renderTopology writes the exactly-once topology figures and, per
// broker, the ratio of the chain's rate to the pass-through rate measured
// in the same run.
func renderTopology(b *strings.Builder, run GoRun) {
	b.WriteString("\n### Exactly-once topology\n\n")
	if run.Skipped != "" {
		fmt.Fprintf(b, "Not measured in this run: %s\n", run.Skipped)
		return
	}
	b.WriteString("`BenchmarkTopology` of processors/runner/topology_bench_test.go puts a fixed mix of " +
		"InboundEmail records (2 to 20 KB of text with some personal data and a quoted message, HTML " +
		"for half, attachment metadata for a third) on a fresh input topic with three partitions, then " +
		"times one runner with the default batch of 500 records per transaction until it has committed " +
		"all of them. *chain* is `DefaultChain` with config/rules.yaml and the production outputs; " +
		"*passthrough* is the same runner and transactions with a processor that does nothing and one " +
		"small output per email, the most the broker and the transactions allow. emails/s counts from " +
		"the first committed transaction to the last, so joining the group is left out. kfake runs " +
		"inside the benchmark process and shares its CPUs; kafka is the Kafka 4.4 broker of the local " +
		"stack. GOMAXPROCS is the machine's CPU count.\n\n")
	b.WriteString("| broker | chain emails/s | passthrough emails/s | chain / passthrough |\n")
	b.WriteString("|---|---|---|---|\n")
	for _, broker := range TopologyBrokers {
		chain, chainOK := topologyRate(run, broker, "chain")
		pass, passOK := topologyRate(run, broker, "passthrough")
		if !chainOK && !passOK {
			fmt.Fprintf(b, "| %s | not measured in this run: skipped or failed; the command below shows why | | |\n", broker)
			continue
		}
		ratio := "cannot be computed"
		if chainOK && passOK && pass > 0 {
			ratio = fmt.Sprintf("%.2f (target at least %.2f: %s)", chain/pass, TargetTopologyRatio,
				verdict(chain/pass, TargetTopologyRatio, ""))
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s |\n", broker, rateCell(chain, chainOK), rateCell(pass, passOK), ratio)
	}
	fmt.Fprintf(b, "\n```\n%s\n```\n", run.Command)
}

// topologyRate returns the median emails/s of one BenchmarkTopology
// sub-benchmark.
func topologyRate(run GoRun, broker, variant string) (float64, bool) {
	bench, ok := Find(run.Benchmarks, "BenchmarkTopology/"+broker+"/"+variant)
	if !ok {
		return 0, false
	}
	return bench.Median("emails/s")
}

func rateCell(rate float64, ok bool) string {
	if !ok {
		return "not measured"
	}
	return fmt.Sprintf("%.0f", rate)
}
