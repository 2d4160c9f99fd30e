package benchreport

import (
	"fmt"
	"math"
	"strings"
)

// Targets are the figures the project aims for. Render states for each
// measured one whether it is met, and by how much it is missed.
const (
	TargetParseVsPython     = 3.0    // mailtriage parsing throughput over Python email's
	TargetParseVsMailparser = 1.5    // mailtriage parsing throughput over mailparser's
	TargetChainRate         = 20_000 // processor chain emails per second on one core
	TargetGatewayRate       = 3_000  // signed gateway requests per second on two cores
	TargetTopologyRatio     = 0.5    // exactly-once topology rate over the pass-through rate on the same broker
)

// ParseSettings are the corpus folder and the pass limits the parse
// runners used, from the ParseSettingsFile of the results folder.
type ParseSettings struct {
	Corpus     string  `json:"corpus"`
	Pinned     bool    `json:"pinned"` // taskset was found and every runner ran on CPU 0
	MinPasses  int     `json:"minPasses"`
	MaxPasses  int     `json:"maxPasses"`
	MinSeconds float64 `json:"minSeconds"`
	MaxSeconds float64 `json:"maxSeconds"`
}

// Render returns the Markdown of the generated section, without markers.
func Render(in *Inputs) string {
	var b strings.Builder
	renderHeader(&b, in)
	renderParse(&b, in)
	renderChain(&b, in.Chain)
	renderChainProfile(&b, in.ChainProfile)
	renderCodec(&b, in.Codec)
	renderGateway(&b, in.Gateway)
	renderGatewayProfile(&b, in.GatewayProfile, in.Machine.CPUs)
	renderTopology(&b, in.Topology)
	renderTopologyProfile(&b, in.TopologyProfile, in.Machine.CPUs)
	renderLatency(&b, in.Latency, in.LatencyTarget)
	renderBaseline(&b, in.Baseline, in.Topology)
	return b.String()
}

func renderHeader(b *strings.Builder, in *Inputs) {
	m := in.Machine
	fmt.Fprintf(b, "## Measured by `make bench`\n\n")
	fmt.Fprintf(b, "Everything in this section comes from one run of `make bench` (scripts/bench/run.sh), "+
		"started %s UTC; the run rewrites this section and leaves the rest of the page alone.\n\n",
		m.Date.Format("2006-01-02 15:04"))
	if in.Quick {
		b.WriteString("**Quick run** (`make bench-quick`): every measurement was shortened, so these figures " +
			"only show that the harness works.\n\n")
	}

	tools := []string{"Go " + m.Tools["Go"]}
	for _, name := range []string{"Python", "Node.js", "mailparser"} {
		if v := m.Tools[name]; v != "" {
			tools = append(tools, name+" "+v)
		}
	}
	fmt.Fprintf(b, "Machine: %s, %d CPUs (nproc), %.1f GiB memory, Linux %s; %s.\n",
		m.CPUModel, m.CPUs, float64(m.MemoryMiB)/1024, m.Kernel, strings.Join(tools, ", "))
	fmt.Fprintf(b, "Load average when the run started: %s, and when it ended: %s (1, 5 and 15 minutes). "+
		"The run itself adds about 1 to the load; more than that at the start means other jobs shared "+
		"the CPUs, which lowers every absolute figure. The ratios between parsers come from the same "+
		"run and move less.\n", m.LoadAvg, in.LoadAvgEnd)
}

func renderParse(b *strings.Builder, in *Inputs) {
	limits := in.ParseSettings
	b.WriteString("\n### MIME parsing on one core\n\n")
	if in.ParseSkipped != "" {
		fmt.Fprintf(b, "Not measured in this run: %s\n", in.ParseSkipped)
		return
	}

	pinning := "pinned to CPU 0 (`taskset -c 0`, and GOMAXPROCS=1 for Go)"
	if !limits.Pinned {
		pinning = "not pinned to a CPU because taskset was not found, but with GOMAXPROCS=1 for Go"
	}
	fmt.Fprintf(b, "Each parser runs in a process of its own, %s, over the same bytes from `%s`. "+
		"`mailtriage-bench pack` reads the corpus once into a pack, and every runner loads the whole "+
		"pack into memory first, so no file is read while the clock runs. A runner parses every "+
		"message once untimed, as a warm-up, then parses the whole pack in timed passes. It stops "+
		"after %s, or earlier once at least %s took %.1f s in total, and at the latest when the "+
		"passes took %.0f s; the table shows the median pass. MB is 10^6 bytes of raw message. "+
		"Failed counts the messages whose parse returned an error or raised; they stay in the timed "+
		"work, although a parser that gives up early on a message does less work on it.\n\n",
		pinning, limits.Corpus, passCount(limits.MaxPasses), passCount(limits.MinPasses),
		limits.MinSeconds, limits.MaxSeconds)
	b.WriteString("The first selection is every file that the import, and so the demo, reads from the " +
		"folder: hidden entries and files named README*, LICENSE* or COPYING* are skipped, and an mbox " +
		"file counts as its messages without the separator lines. That includes TNEF, PDF and image " +
		"files of the corpus, which the import also hands to the parser. The second selection keeps " +
		"only the whole messages that the corpus lists in its MESSAGES file. The targets are checked " +
		"on the first selection.\n")

	for i, rows := range in.Parse {
		renderParseTable(b, rows, i == 0)
	}
	renderProfile(b, in.ParseProfile)

	b.WriteString("\nWhat one parse does:\n\n")
	for _, row := range in.Parse[0] {
		if row.Result != nil {
			fmt.Fprintf(b, "- **%s**: %s.\n", row.Result.Parser, row.Result.Work)
		}
	}

	b.WriteString("\nThe Python and Node runners do not extract the reply text and do not repair " +
		"broken MIME structure, and mailparser hashes attachments with MD5 where mailtriage uses " +
		"SHA-256, so the work is close but not identical.\n\nCommands, each as run (PACK is the " +
		"temporary pack folder):\n\n```\n")
	for _, row := range in.Parse[0] {
		b.WriteString(row.Command + "\n")
	}
	b.WriteString("```\n")
}

// renderParseTable writes the table and the ratios of one corpus
// selection. Only the first selection is checked against the targets.
func renderParseTable(b *strings.Builder, rows []ParseRun, checkTargets bool) {
	var first *ParseRun
	for i := range rows {
		if rows[i].Result != nil {
			first = &rows[i]
			break
		}
	}
	if first == nil {
		b.WriteString("\nNo parser ran for this selection.\n")
		return
	}
	r := first.Result
	fmt.Fprintf(b, "\n#### %s: %d messages, %.2f MB\n\n", capitalize(r.Pack), r.Messages, float64(r.Bytes)/1e6)
	b.WriteString("| parser | version | runtime | MB/s | messages/s | median pass | timed passes | failed |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|\n")
	rates := map[string]float64{}
	for _, row := range rows {
		if row.Result == nil {
			fmt.Fprintf(b, "| %s | | | not measured: %s | | | | |\n", row.Runner, row.Skipped)
			continue
		}
		res := row.Result
		rates[res.Parser] = res.MBPerSecond
		fmt.Fprintf(b, "| %s | %s | %s | %.1f | %.0f | %.3f s | %d | %d |\n",
			res.Parser, res.Version, res.Runtime, res.MBPerSecond, res.MessagesPerSecond,
			res.MedianSeconds, len(res.PassSeconds), res.Failed)
	}

	own, ok := rates["mailtriage"]
	if !ok {
		return
	}
	b.WriteString("\n")
	for _, peer := range []struct {
		name   string
		target float64
	}{{"python-email", TargetParseVsPython}, {"mailparser", TargetParseVsMailparser}, {"enmime", 0}} {
		rate, ok := rates[peer.name]
		if !ok || rate == 0 {
			continue
		}
		ratio := own / rate
		fmt.Fprintf(b, "- mailtriage / %s: %.2fx", peer.name, ratio)
		if checkTargets && peer.target > 0 {
			fmt.Fprintf(b, " (target at least %.1fx: %s)", peer.target, verdict(ratio, peer.target, "x"))
		}
		b.WriteString("\n")
	}
}

// renderProfile writes the top functions of the CPU profile of
// mailtriage's parser.
func renderProfile(b *strings.Builder, run TextRun) {
	if run.Skipped != "" {
		fmt.Fprintf(b, "\nNo CPU profile of mailtriage's parser in this run: %s\n", run.Skipped)
		return
	}
	if run.Command == "" {
		return
	}
	b.WriteString("\nWhere mailtriage's parse spends its CPU time, from a profiled run of its own over the " +
		"first selection (flat is the time in the function itself, cum includes its callees):\n\n```\n")
	b.WriteString(pprofTable(run.Output))
	fmt.Fprintf(b, "```\n\n```\n%s\n```\n", run.Command)
}

// pprofTable returns the table of `go tool pprof -top` output, from its
// column header on, without the lines about the binary and the sampling.
func pprofTable(output string) string {
	lines := strings.Split(strings.TrimRight(output, "\n"), "\n")
	for i, line := range lines {
		if strings.Contains(line, "flat%") {
			return strings.Join(lines[i:], "\n") + "\n"
		}
	}
	return strings.Join(lines, "\n") + "\n"
}

// passCount returns "1 pass" or "N passes".
func passCount(n int) string {
	if n == 1 {
		return "1 pass"
	}
	return fmt.Sprintf("%d passes", n)
}

// verdict returns "met" when got reaches target, or by how much it falls
// short. Below half the target, the shortfall is also given as a factor,
// which reads better than a percentage close to 100.
func verdict(got, target float64, unit string) string {
	if got >= target {
		return "met"
	}
	text := fmt.Sprintf("missed by %s%s, %.0f%% below", formatAmount(target-got), unit, 100*(target-got)/target)
	if got > 0 && target/got >= 2 {
		text += fmt.Sprintf(" (the target is %.0fx the measured figure)", target/got)
	}
	return text
}

func formatAmount(v float64) string {
	if math.Abs(v) >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
