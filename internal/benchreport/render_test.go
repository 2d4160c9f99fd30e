package benchreport

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailtriage/internal/benchparse"
)

// writeResults writes a results folder like the one scripts/bench/run.sh
// leaves, with mailtriage at 30 MB/s, Python at 15 and mailparser at 32.
func writeResults(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	encode := func(v any) string {
		t.Helper()
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}

	write(MachineFile, encode(Machine{
		Date: time.Date(2025, 6, 1, 9, 30, 0, 0, time.UTC), CPUModel: "Test CPU", CPUs: 2,
		MemoryMiB: 4096, Kernel: "6.1", LoadAvg: "1.00 2.00 3.00", Tools: map[string]string{"Go": "go1.26", "Python": "3.11.7"},
	}))
	write(ParseSettingsFile, `{"corpus": "../corpus", "pinned": true, "minPasses": 3, "maxPasses": 5, "minSeconds": 3, "maxSeconds": 60}`)
	rates := map[string]float64{"mailtriage": 30, "enmime": 45, "python-email": 15, "mailparser": 32}
	for _, set := range ParseSets {
		for _, runner := range ParseRunners {
			name := "parse-" + set + "-" + runner
			write(name+".cmd", "run "+runner)
			write(name+".json", encode(benchparse.Result{
				Parser: runner, Version: "1", Runtime: "rt", Work: "parses " + runner, Pack: "selection " + set,
				Messages: 100, Bytes: 30_000_000, PassSeconds: []float64{1, 1, 1}, MedianSeconds: 1,
				MBPerSecond: rates[runner], MessagesPerSecond: 100,
			}))
		}
	}
	write("profile-mailtriage.cmd", "mailtriage-bench parse --cpuprofile PROFILE")
	write("profile-mailtriage.txt", "File: mailtriage-bench\nType: cpu\n      flat  flat%   sum%        cum   cum%\n     1.20s 40.00% 40.00%      1.50s 50.00%  regexp.(*Regexp).doExecute\n")
	write("chain.cmd", "go test ./processors")
	write("chain.txt", "BenchmarkChain 10 400000000 ns/op 75.00 emails/s 3000000 B/op 30000 allocs/op\n")
	write("codec.cmd", "go test ./schemas")
	write("codec.txt", "BenchmarkMarshalInboundEmail 1000 5000 ns/op 400.00 MB/s 2000 B/op 20 allocs/op\n")
	write("gateway.cmd", "go test ./connectors/webhook")
	write("gateway.skipped", "`go test` failed with exit status 1")
	write("topology.cmd", "go test ./processors/runner")
	write("topology.txt", "BenchmarkTopology/kfake/chain-2 1 2000000000 ns/op 500.0 emails/s 10.00 transactions\n"+
		"BenchmarkTopology/kfake/passthrough-2 1 200000000 ns/op 10000 emails/s 10.00 transactions\n"+
		"--- SKIP: BenchmarkTopology/kafka\n")
	write("baseline.cmd", "go test ./processors/runner -bench Baseline")
	write("baseline.skipped", "MAILTRIAGE_POSTGRES_DSN is not set")
	write("profile-chain.cmd", "go test ./processors -cpuprofile PROFILE")
	write("profile-chain-bench.txt", "BenchmarkChain 100 24571174 ns/op 500.0 cpu-µs/email 1221 emails/s\n")
	write("profile-chain-top.txt", "      flat  flat%   sum%        cum   cum%\n     180ms  8.37%  8.37%      320ms 14.88%  mailtriage/processors.newRedactIndex\n")
	write("profile-chain-cum.txt", chainStagesCum)
	write("profile-topology.cmd", "go test ./processors/runner -cpuprofile PROFILE")
	write("profile-topology-bench.txt", "BenchmarkTopology/kfake/chain-2 1 2000000000 ns/op 600.0 emails/s 10.00 transactions\n")
	write("profile-topology-top.txt", "      flat  flat%   sum%        cum   cum%\n")
	write("profile-topology-traces.txt", topologyTraces)
	write("profile-gateway.cmd", "go test ./connectors/webhook -cpuprofile PROFILE")
	write("profile-gateway.skipped", "the profiled run or pprof failed; the output was printed by the run")
	write("latency-target.cmd", "mailtriage-bench latency --rate 1000 --duration 10s")
	write("latency-target.skipped", "mailtriage-bench latency failed with exit status 1")
	write("latency.cmd", "mailtriage-bench latency --rate 1000")
	write("latency.json", encode(LatencyResult{
		Rate: 1000, DurationSeconds: 30, Sent: 30000, Accepted: 30000, Delivered: 30000, AchievedRate: 999,
		MaxSendLagMs: 3, PollMs: 10,
		Visible:    Percentiles{P50: 80, P95: 300, P99: 420, Max: 900},
		Written:    Percentiles{P50: 70, P95: 280, P99: 400, Max: 880},
		PeakRSSMiB: map[string]float64{"serve": 60, "process": 300, "sink-postgres": 120},
	}))
	return dir
}

func TestRenderFromResults(t *testing.T) {
	in, err := LoadDir(writeResults(t))
	if err != nil {
		t.Fatalf("LoadDir: %v", err)
	}
	got := Render(in)

	for _, exp := range []string{
		"started 2025-06-01 09:30 UTC",
		"Test CPU, 2 CPUs (nproc), 4.0 GiB memory",
		"Load average when the run started: 1.00 2.00 3.00",
		"pinned to CPU 0",
		"| mailtriage | 1 | rt | 30.0 | 100 | 1.000 s | 3 | 0 |",
		// 30 / 15 = 2x against a target of 3x.
		"mailtriage / python-email: 2.00x (target at least 3.0x: missed by 1.00x, 33% below)",
		// 30 / 32 = 0.94x against a target of 1.5x.
		"mailtriage / mailparser: 0.94x (target at least 1.5x: missed by 0.56x, 38% below)",
		"mailtriage / enmime: 0.67x\n",
		// 30 emails per operation: 75 emails/s times 0.4 s.
		"| BenchmarkChain | 1 | 75 | 13333.3 | 1000 | 100000 |",
		"target of 20000 emails/s per core: missed by 19925 emails/s, 100% below (the target is 267x the measured figure)",
		"| BenchmarkMarshalInboundEmail | 1 | 5000 | 400.0 | 20 | 2000 |",
		"Not measured in this run: `go test` failed with exit status 1",
		"```\n      flat  flat%   sum%        cum   cum%\n     1.20s 40.00% 40.00%      1.50s 50.00%  regexp.(*Regexp).doExecute\n```",
		"It stops after 5 passes, or earlier once at least 3 passes took 3.0 s in total",
		"### At-least-once PostgreSQL baseline\n\nNot measured in this run: MAILTRIAGE_POSTGRES_DSN is not set",
		"| receivedAt to row visible (commit, upper bound) | 80 | 300 | 420 | 900 |",
		"| receivedAt to ticket command committed (processed, upper bound) | not measured | | | |",
		"Target p95 at most 250 ms: missed by 50 ms (p95 300 ms at 1000 emails/s requested, 999 accepted)",
		// 75% of 500 µs is 375 µs.
		"so the stages take about Redact 375 µs, Route 50 µs, Dedupe 30 µs and Classify 20 µs per email.",
		"| chain: Redact | 1.00 | 40.0% |",
		"No CPU profile of the gateway in this run: the profiled run or pprof failed",
		"#### Not measured in this run\n\nmailtriage-bench latency failed with exit status 1",
		"| process | 300 | missed by 44 MiB in this 30 s run |",
		"| serve | 60 | met in this 30 s run |",
		// 500 / 10000 = 0.05 against a target of 0.5.
		"| kfake | 500 | 10000 | 0.05 (target at least 0.50: missed by 0.45, 90% below (the target is 10x the measured figure)) |",
		"| kafka | not measured in this run: skipped or failed",
		"run mailtriage\nrun enmime\nrun python-email\nrun mailparser\n",
	} {
		if !strings.Contains(got, exp) {
			t.Errorf("report lacks %q; report:\n%s", exp, got)
		}
	}
	if strings.Contains(got, "Type: cpu") {
		t.Errorf("report keeps the pprof lines above the table")
	}
	if strings.Contains(got, "no processing: not measured yet") {
		t.Errorf("report still lists the measured topology as not measured yet")
	}
	if strings.Contains(got, "Quick run") {
		t.Errorf("report of a full run mentions a quick run")
	}
}

func TestLoadDirMissingCorpus(t *testing.T) {
	dir := writeResults(t)
	if err := os.WriteFile(filepath.Join(dir, "parse.skipped"), []byte("the corpus was not found."), 0o644); err != nil {
		t.Fatal(err)
	}
	in, err := LoadDir(dir)
	if err != nil {
		t.Fatalf("LoadDir: %v", err)
	}
	got := Render(in)
	if !strings.Contains(got, "Not measured in this run: the corpus was not found.") {
		t.Errorf("report does not say why parsing was skipped:\n%s", got)
	}
}

func TestLoadDirMissingOutput(t *testing.T) {
	dir := writeResults(t)
	if err := os.Remove(filepath.Join(dir, "chain.txt")); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadDir(dir); err == nil {
		t.Fatal("LoadDir without chain.txt returned no error, expected one naming the chain output")
	}
}

func TestVerdict(t *testing.T) {
	if got := verdict(3.2, 3, "x"); got != "met" {
		t.Errorf("verdict(3.2, 3) = %q, expected met", got)
	}
	if got, exp := verdict(2000, 3000, " requests/s"), "missed by 1000 requests/s, 33% below"; got != exp {
		t.Errorf("verdict(2000, 3000) = %q, expected %q", got, exp)
	}
	if got, exp := verdict(1000, 3000, " requests/s"), "missed by 2000 requests/s, 67% below (the target is 3x the measured figure)"; got != exp {
		t.Errorf("verdict(1000, 3000) = %q, expected %q", got, exp)
	}
}

func TestLoadDirWithoutProfiles(t *testing.T) {
	dir := writeResults(t)
	for _, name := range []string{"profile-chain.cmd", "profile-topology.cmd", "profile-gateway.cmd", "latency-target.cmd"} {
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	in, err := LoadDir(dir)
	if err != nil {
		t.Fatalf("LoadDir: %v", err)
	}
	got := Render(in)
	for _, absent := range []string{"Where the chain spends", "Where the runner spends", "No CPU profile of the gateway", "#### Not measured in this run"} {
		if strings.Contains(got, absent) {
			t.Errorf("report of a run without profiles and target-rate run contains %q:\n%s", absent, got)
		}
	}
}

func TestLoadDirMissingProfileOutput(t *testing.T) {
	dir := writeResults(t)
	if err := os.Remove(filepath.Join(dir, "profile-chain-top.txt")); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadDir(dir); err == nil {
		t.Fatal("LoadDir without profile-chain-top.txt returned no error, expected one naming the profile")
	}
}
