package webhook

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// benchConcurrency is the number of clients that post at once.
const benchConcurrency = 8

// The values of the benchLabel profiler label. In a CPU profile of the
// gateway benchmarks (go test -cpuprofile), samples of the clients and of
// their HTTP transport carry benchPhaseClient, samples of signing and
// other setup carry benchPhaseSetup, and the gateway, its publisher and
// kfake carry none. Goroutines of the runtime, such as the garbage
// collector's workers, may carry any of them.
const (
	benchLabel       = "bench"
	benchPhaseSetup  = "setup"
	benchPhaseClient = "client"
)

// setBenchLabel sets the benchLabel of the calling goroutine to phase. The
// goroutines it starts afterwards inherit the label.
func setBenchLabel(phase string) {
	pprof.SetGoroutineLabels(pprof.WithLabels(context.Background(), pprof.Labels(benchLabel, phase)))
}

// BenchmarkGatewayRaw posts b.N signed raw messages of about 1 KiB, each
// with one attachment, from 8 concurrent clients over a loopback listener
// to a gateway with kfake behind it. It reports requests per second and
// the p50 and p95 latency of one request.
func BenchmarkGatewayRaw(b *testing.B) {
	benchmarkGateway(b, "/v1/inbound/acme/raw", "message/rfc822", func(i int) string {
		return strings.Replace(rawMessage, "raw-1@example.org", fmt.Sprintf("bench-raw-%d@example.org", i), 1)
	})
}

// BenchmarkGatewayJSON is BenchmarkGatewayRaw for the JSON endpoint.
func BenchmarkGatewayJSON(b *testing.B) {
	benchmarkGateway(b, "/v1/inbound/acme/json", "application/json", func(i int) string {
		return strings.Replace(jsonMessage, "json-1@example.org", fmt.Sprintf("bench-json-%d@example.org", i), 1)
	})
}

// benchmarkGateway signs b.N distinct bodies up front, so that the timed
// part is the HTTP round trip: reading, verifying, parsing, storing (raw
// only) and publishing with acks.
func benchmarkGateway(b *testing.B, path, contentType string, body func(i int) string) {
	// The server, kfake and the publisher start without a label, so that
	// in a CPU profile only the gateway's side has none.
	env := newTestEnv(b, testConfig(), nil)
	url := env.server.URL + path
	setBenchLabel(benchPhaseSetup)
	defer pprof.SetGoroutineLabels(context.Background())

	type signed struct {
		body      []byte
		timestamp string
		signature string
	}
	requests := make([]signed, b.N)
	now := time.Now().Unix()
	for i := range requests {
		data := []byte(body(i))
		requests[i] = signed{body: data, timestamp: strconv.FormatInt(now, 10), signature: Sign(acmeSecret, now, data)}
	}
	client := &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: benchConcurrency},
	}
	defer client.CloseIdleConnections()

	latencies := make([]time.Duration, b.N)
	var next atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	// The clients' goroutines, and the HTTP transport's that they start,
	// inherit this label.
	setBenchLabel(benchPhaseClient)
	for range benchConcurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N || failed.Load() != nil {
					return
				}
				r := requests[i]
				req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(r.body))
				req.Header.Set("Content-Type", contentType)
				req.Header.Set(HeaderTimestamp, r.timestamp)
				req.Header.Set(HeaderSignature, r.signature)

				sent := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					failed.Store(err.Error())
					return
				}
				answer, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				latencies[i] = time.Since(sent)
				if resp.StatusCode != http.StatusAccepted {
					failed.Store(fmt.Sprintf("request %d: status %d %s", i, resp.StatusCode, answer))
					return
				}
			}
		}()
	}
	setBenchLabel(benchPhaseSetup)
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if msg := failed.Load(); msg != nil {
		b.Fatal(msg)
	}

	slices.Sort(latencies)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(latencies[b.N/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(latencies[b.N*95/100].Microseconds())/1000, "p95-ms")
}
