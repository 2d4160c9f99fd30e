package benchreport

import (
	"strings"
	"testing"
)

const sampleOutput = `goos: linux
goarch: amd64
pkg: mailtriage/processors
cpu: AMD EPYC
BenchmarkChain         	      10	 400000000 ns/op	        75.00 emails/s	 3000000 B/op	   30000 allocs/op
BenchmarkChain         	      10	 300000000 ns/op	       100.0 emails/s	 3000000 B/op	   30000 allocs/op
BenchmarkChain         	      10	 500000000 ns/op	        60.00 emails/s	 3000000 B/op	   30000 allocs/op
BenchmarkGatewayRaw-2  	    2000	    2500000 ns/op	       400.0 req/s	        18.00 p50-ms	        35.00 p95-ms
PASS
ok  	mailtriage/processors	12.3s
`

func TestParseGoBench(t *testing.T) {
	benchmarks, err := ParseGoBench(strings.NewReader(sampleOutput))
	if err != nil {
		t.Fatalf("ParseGoBench: %v", err)
	}
	if got, exp := len(benchmarks), 2; got != exp {
		t.Fatalf("benchmarks = %d, expected %d", got, exp)
	}

	chain := benchmarks[0]
	if chain.Name != "BenchmarkChain" || chain.Count() != 3 {
		t.Errorf("first = %s with %d runs, expected BenchmarkChain with 3", chain.Name, chain.Count())
	}
	if got, _ := chain.Median("emails/s"); got != 75 {
		t.Errorf("median emails/s = %v, expected 75", got)
	}
	if got, _ := chain.Median("ns/op"); got != 400000000 {
		t.Errorf("median ns/op = %v, expected 4e8", got)
	}
	if _, ok := chain.Median("MB/s"); ok {
		t.Errorf("Median(MB/s) found a value, expected none")
	}

	gateway, ok := Find(benchmarks, "BenchmarkGatewayRaw")
	if !ok {
		t.Fatalf("BenchmarkGatewayRaw not found; the -2 suffix should be removed from the name")
	}
	if got, _ := gateway.Median("p95-ms"); got != 35 {
		t.Errorf("p95-ms = %v, expected 35", got)
	}
	if len(gateway.Iterations) != 1 || gateway.Iterations[0] != 2000 {
		t.Errorf("iterations of BenchmarkGatewayRaw = %v, expected [2000]", gateway.Iterations)
	}
	if len(chain.Iterations) != 3 || chain.Iterations[2] != 10 {
		t.Errorf("iterations of BenchmarkChain = %v, expected [10 10 10]", chain.Iterations)
	}
}

func TestParseGoBenchBadValue(t *testing.T) {
	_, err := ParseGoBench(strings.NewReader("BenchmarkX 10 abc ns/op\n"))
	if err == nil {
		t.Fatal("ParseGoBench of a non-numeric value returned no error, expected one")
	}
}
