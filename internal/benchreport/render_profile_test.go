package benchreport

import (
	"strings"
	"testing"
)

// chainStagesCum is the per-stage view of a chain profile.
const chainStagesCum = `File: profile-chain.test
Active filters:
   show=processors\.\(\*(Dedupe|Redact|Classify|Route)\)\.Process
Showing nodes accounting for 1.90s, 95.00% of 2s total
      flat  flat%   sum%        cum   cum%
     1.50s 75.00% 75.00%      1.50s 75.00%  mailtriage/processors.(*Redact).Process
     0.20s 10.00% 85.00%      0.20s 10.00%  mailtriage/processors.(*Route).Process
     0.12s  6.00% 91.00%      0.12s  6.00%  mailtriage/processors.(*Dedupe).Process
     0.08s  4.00% 95.00%      0.08s  4.00%  mailtriage/processors.(*Classify).Process
`

func TestRenderChainProfile(t *testing.T) {
	run := ProfileRun{
		Command: "go test ./processors -cpuprofile PROFILE\ngo tool pprof -top -nodecount=20 TEST_BINARY PROFILE",
		Bench:   []GoBenchmark{{Name: "BenchmarkChain", Runs: map[string][]float64{"cpu-µs/email": {800}}}},
		Top:     "Type: cpu\n      flat  flat%   sum%        cum   cum%\n     0.40s 20.00% 20.00%      0.90s 45.00%  regexp.(*Regexp).tryBacktrack\n",
		Cum:     chainStagesCum,
	}
	var b strings.Builder
	renderChainProfile(&b, run)
	got := b.String()

	for _, exp := range []string{
		"```\n      flat  flat%   sum%        cum   cum%\n     0.40s 20.00% 20.00%      0.90s 45.00%  regexp.(*Regexp).tryBacktrack\n```\n",
		"     1.50s 75.00% 75.00%      1.50s 75.00%  mailtriage/processors.(*Redact).Process\n",
		// 75% of 800 µs is 600 µs; 1e6 / 20000 is 50 µs.
		"The profiled run used 800 CPU µs per email, so the stages take about Redact 600 µs, Route 80 µs, Dedupe 48 µs and Classify 32 µs per email. " +
			"At the target of 20000 emails/s per core the whole chain has 50 µs per email.\n",
		"```\ngo test ./processors -cpuprofile PROFILE\ngo tool pprof -top -nodecount=20 TEST_BINARY PROFILE\n```\n",
	} {
		if !strings.Contains(got, exp) {
			t.Errorf("chain profile lacks %q; text:\n%s", exp, got)
		}
	}
	if strings.Contains(got, "Active filters") {
		t.Errorf("chain profile keeps the pprof lines above the table:\n%s", got)
	}
}

func TestRenderChainProfileSkipped(t *testing.T) {
	var b strings.Builder
	renderChainProfile(&b, ProfileRun{Command: "go test", Skipped: "the profiled run or pprof failed"})
	if got, exp := b.String(), "\nNo CPU profile of the processor chain in this run: the profiled run or pprof failed\n"; got != exp {
		t.Errorf("skipped chain profile = %q, expected %q", got, exp)
	}

	b.Reset()
	renderChainProfile(&b, ProfileRun{})
	if b.Len() != 0 {
		t.Errorf("a run without a chain profile wrote %q, expected nothing", b.String())
	}
}

func TestRenderTopologyProfile(t *testing.T) {
	traces, err := ParseTraces(topologyTraces)
	if err != nil {
		t.Fatal(err)
	}
	run := ProfileRun{
		Command: "go test ./processors/runner -cpuprofile PROFILE",
		Bench:   []GoBenchmark{{Name: "BenchmarkTopology/kfake/chain", Runs: map[string][]float64{"emails/s": {600}}}},
		Top:     "      flat  flat%   sum%        cum   cum%\n",
		Traces:  &traces,
	}
	var b strings.Builder
	renderTopologyProfile(&b, run, 2)
	got := b.String()

	for _, exp := range []string{
		"from a profiled run of `BenchmarkTopology/kfake/chain` of its own. kfake runs in the benchmark process",
		// 3 s of samples in 4 s.
		"The profile covers 4.0 s of wall time with 3.0 s of CPU samples, so the process kept 0.75 of the 2 CPUs busy on average.",
		"in the order of the table. Left out are 0.50 s in the benchmark's own goroutine, which builds and produces the input and waits for the commits.\n",
		// Shares of the 2.5 s that are not left out.
		"| kfake broker, in the benchmark process | 0.50 | 20.0% |\n",
		"| chain: Redact | 1.00 | 40.0% |\n",
		"| Avro decoding and encoding | 0.50 | 20.0% |\n",
		"| garbage collection, background workers | 0.50 | 20.0% |\n",
	} {
		if !strings.Contains(got, exp) {
			t.Errorf("topology profile lacks %q; text:\n%s", exp, got)
		}
	}
	for _, absent := range []string{"| chain: Dedupe |", "| other |"} {
		if strings.Contains(got, absent) {
			t.Errorf("topology profile has the row %q without samples:\n%s", absent, got)
		}
	}
}

func TestRenderTopologyProfileOnKafka(t *testing.T) {
	run := ProfileRun{Command: "go test", Bench: []GoBenchmark{{Name: "BenchmarkTopology/kafka/chain"}}}
	var b strings.Builder
	renderTopologyProfile(&b, run, 2)
	exp := "`BenchmarkTopology/kafka/chain` of its own. The broker is the local stack's Kafka, a process of its own, so its work is not in the profile.\n"
	if got := b.String(); !strings.Contains(got, exp) {
		t.Errorf("topology profile lacks %q; text:\n%s", exp, got)
	}
}

func TestRenderGatewayProfile(t *testing.T) {
	traces, err := ParseTraces(`Duration: 5s, Total samples = 8s (160.00%)
-----------+-------------------------------------------------------
     bench:  client
        2s   net/http.(*persistConn).writeLoop
-----------+-------------------------------------------------------
        1s   crypto/sha256.block
             crypto/hmac.(*hmac).Write
             mailtriage/connectors/webhook.verify
-----------+-------------------------------------------------------
        3s   syscall.Syscall
             os.(*File).Sync
             mailtriage/connectors/blobstore.(*Dir).Put
             mailtriage/internal/ingest.Prepare
-----------+-------------------------------------------------------
        2s   github.com/twmb/franz-go/pkg/kfake.(*Cluster).handleProduce
-----------+-------------------------------------------------------
`)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	renderGatewayProfile(&b, ProfileRun{Command: "go test ./connectors/webhook", Traces: &traces}, 2)
	got := b.String()
	for _, exp := range []string{
		"so the process kept 1.60 of the 2 CPUs busy on average.",
		"| clients and their HTTP transport | 2.00 | 25.0% |\n",
		"| HMAC-SHA256 signature check | 1.00 | 12.5% |\n",
		// Prepare also parses, but the blob store row comes first.
		"| blob store: hashing, writing and fsync of the raw message | 3.00 | 37.5% |\n",
		"| kfake broker, in the benchmark process | 2.00 | 25.0% |\n",
	} {
		if !strings.Contains(got, exp) {
			t.Errorf("gateway profile lacks %q; text:\n%s", exp, got)
		}
	}
	if strings.Contains(got, "Left out are") {
		t.Errorf("gateway profile without setup samples says some are left out:\n%s", got)
	}
}

func TestJoinList(t *testing.T) {
	for _, tc := range []struct {
		items []string
		exp   string
	}{{nil, ""}, {[]string{"a"}, "a"}, {[]string{"a", "b"}, "a and b"}, {[]string{"a", "b", "c"}, "a, b and c"}} {
		if got := joinList(tc.items); got != tc.exp {
			t.Errorf("joinList(%q) = %q, expected %q", tc.items, got, tc.exp)
		}
	}
}

func TestRenderGatewayHandlerTime(t *testing.T) {
	parse := func(text string) *Profile {
		t.Helper()
		p, err := ParseTraces(text)
		if err != nil {
			t.Fatal(err)
		}
		return &p
	}
	const sep = "-----------+-------------------------------------------------------\n"
	handler := "             mailtriage/connectors/webhook.(*Gateway).ServeHTTP\n             net/http.(*conn).serve\n"
	run := ProfileRun{
		Command: "go test ./connectors/webhook -cpuprofile PROFILE -trace TRACE",
		Bench:   []GoBenchmark{{Name: "BenchmarkGatewayRaw", Iterations: []int{2000}, Runs: map[string][]float64{"req/s": {450}}}},
		Traces: parse("Duration: 5s, Total samples = 3s (60.00%)\n" + sep +
			"        1s   syscall.Syscall6\n             mailtriage/connectors/blobstore.(*Dir).Put\n" + handler + sep +
			"     200ms   mailtriage/internal/mime.Parse\n" + handler + sep +
			// Not below ServeHTTP, so left out of the handler table.
			"     1.8s   github.com/twmb/franz-go/pkg/kfake.(*Cluster).run\n"),
		Syscalls: parse("Type: delay\n" + sep +
			"        6s   syscall.Fsync\n             mailtriage/connectors/blobstore.(*Dir).Put\n" + handler),
		Waits: parse("Type: delay\n" + sep +
			"       16s   runtime.selectgo\n             mailtriage/connectors/ingress.(*Publisher).Publish\n" + handler + sep +
			"       30s   runtime.selectgo\n             net/http.(*persistConn).writeLoop\n"),
	}
	var b strings.Builder
	renderGatewayProfile(&b, run, 2)
	got := b.String()

	for _, exp := range []string{
		"takes no CPU and is not in the CPU profile. The second table shows it.\n",
		"in ms per request over the 2000 requests.",
		"| part | on CPU | in system calls | on channels and locks |\n",
		// 1 s and 6 s over 2000 requests.
		"| blob store: hashing, writing and fsync of the raw message | 0.50 | 3.00 | 0.00 |\n",
		"| MIME parsing and mapping | 0.10 | 0.00 | 0.00 |\n",
		"| publishing: the ingress publisher, waiting for the broker's acknowledgement | 0.00 | 0.00 | 8.00 |\n",
		"| all | 0.60 | 3.00 | 8.00 |\n",
	} {
		if !strings.Contains(got, exp) {
			t.Errorf("gateway profile lacks %q; text:\n%s", exp, got)
		}
	}
	if strings.Contains(got, "| kfake broker, in the benchmark process | 0.") {
		t.Errorf("handler table counts kfake, whose stacks are not below ServeHTTP:\n%s", got)
	}
}
