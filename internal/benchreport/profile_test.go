package benchreport

import (
	"regexp"
	"testing"
)

// topologyTraces is `go tool pprof -traces` output of a topology profile:
// 0.5 s of setup, 1 s in Redact, 0.5 s of Avro decoding, 0.5 s of kfake
// and 0.5 s of garbage collection.
const topologyTraces = `File: profile-topology.test
Type: cpu
Time: 2026-12-05 01:13:25 UTC
Duration: 4s, Total samples = 3s (75.00%)
-----------+-------------------------------------------------------
     bench:  setup
     500ms   mailtriage/processors/runner.topologyMail
             mailtriage/processors/runner.BenchmarkTopology
-----------+-------------------------------------------------------
     bench:  runner
        1s   regexp.(*Regexp).doExecute
             mailtriage/processors.(*Redact).Process
             mailtriage/processors.Chain.Run
             mailtriage/processors/runner.runChain
-----------+-------------------------------------------------------
     bench:  runner
     500ms   github.com/linkedin/goavro/v2.stringNativeFromBinary
             mailtriage/schemas.Unmarshal
             mailtriage/processors/runner.(*Runner).processRecord
-----------+-------------------------------------------------------
     bench:  kfake
     500ms   github.com/twmb/franz-go/pkg/kfake.(*Cluster).run
-----------+-------------------------------------------------------
     500ms   runtime.scanobject
             runtime.gcBgMarkWorker
-----------+-------------------------------------------------------
`

func TestParseTraces(t *testing.T) {
	p, err := ParseTraces(topologyTraces)
	if err != nil {
		t.Fatalf("ParseTraces: %v", err)
	}
	if p.DurationSeconds != 4 || p.SampleSeconds != 3 {
		t.Errorf("duration %g s, samples %g s; expected 4 s and 3 s", p.DurationSeconds, p.SampleSeconds)
	}
	if len(p.Samples) != 5 {
		t.Fatalf("got %d samples, expected 5", len(p.Samples))
	}
	redact := p.Samples[1]
	if redact.Seconds != 1 || redact.Labels["bench"] != "runner" || len(redact.Frames) != 4 {
		t.Errorf("second sample = %+v, expected 1 s, bench=runner and 4 frames", redact)
	}
	if redact.Frames[1] != "mailtriage/processors.(*Redact).Process" {
		t.Errorf("second frame of the second sample = %q, expected Redact's Process", redact.Frames[1])
	}
	if gc := p.Samples[4]; len(gc.Labels) != 0 || gc.Seconds != 0.5 {
		t.Errorf("last sample = %+v, expected 0.5 s without labels", gc)
	}
}

func TestParseTracesWithoutStacks(t *testing.T) {
	if _, err := ParseTraces("File: x.test\nType: cpu\n"); err == nil {
		t.Error("ParseTraces of output without stacks returned no error")
	}
}

func TestBreakdownFirstMatchWins(t *testing.T) {
	p, err := ParseTraces(topologyTraces)
	if err != nil {
		t.Fatal(err)
	}
	got := p.Breakdown([]ProfileCategory{
		{Name: "setup", Label: "bench=setup", Excluded: true},
		{Name: "redact", Frame: regexp.MustCompile(`Redact`)},
		// Matches the Redact sample too, which the row above took.
		{Name: "chain", Frame: regexp.MustCompile(`Chain\.Run`)},
		{Name: "avro", Label: "bench=runner", Frame: regexp.MustCompile(`goavro`)},
	})
	if len(got.Excluded) != 1 || got.Excluded[0] != (CategoryShare{Name: "setup", Seconds: 0.5}) {
		t.Errorf("excluded = %+v, expected setup with 0.5 s", got.Excluded)
	}
	// 2.5 s are not excluded: redact 1 s, avro 0.5 s, other 1 s.
	exp := []CategoryShare{{"redact", 1, 0.4}, {"chain", 0, 0}, {"avro", 0.5, 0.2}, {OtherCategory, 1, 0.4}}
	if len(got.Shares) != len(exp) {
		t.Fatalf("shares = %+v, expected %+v", got.Shares, exp)
	}
	for i := range exp {
		if got.Shares[i] != exp[i] {
			t.Errorf("share %d = %+v, expected %+v", i, got.Shares[i], exp[i])
		}
	}
}

func TestParsePprofSeconds(t *testing.T) {
	for _, tc := range []struct {
		text string
		exp  float64
	}{{"0", 0}, {"10ms", 0.01}, {"2.15s", 2.15}, {"1.50mins", 90}, {"2hrs", 7200}, {"250us", 0.00025}} {
		got, err := parsePprofSeconds(tc.text)
		if err != nil || got != tc.exp {
			t.Errorf("parsePprofSeconds(%q) = %g, %v; expected %g", tc.text, got, err, tc.exp)
		}
	}
	if _, err := parsePprofSeconds("fast"); err == nil {
		t.Error(`parsePprofSeconds("fast") returned no error`)
	}
}

func TestParsePprofTop(t *testing.T) {
	output := "Showing nodes accounting for 2120ms, 98.60% of 2150ms total\n" +
		"      flat  flat%   sum%        cum   cum%\n" +
		"    1630ms 75.81% 75.81%     1630ms 75.81%  mailtriage/processors.(*Redact).Process\n" +
		"         0     0% 75.81%      1.2s 55.00%  bytes.(*Buffer).Write (inline)\n"
	rows := ParsePprofTop(output)
	if len(rows) != 2 {
		t.Fatalf("got %d rows, expected 2: %+v", len(rows), rows)
	}
	exp := PprofRow{Name: "mailtriage/processors.(*Redact).Process", Flat: 1.63, FlatPercent: 75.81, Cum: 1.63, CumPercent: 75.81}
	if rows[0] != exp {
		t.Errorf("first row = %+v, expected %+v", rows[0], exp)
	}
	if rows[1].Name != "bytes.(*Buffer).Write (inline)" || rows[1].Cum != 1.2 || rows[1].CumPercent != 55 {
		t.Errorf("second row = %+v, expected bytes.(*Buffer).Write (inline) with 1.2 s and 55%%", rows[1])
	}
}
