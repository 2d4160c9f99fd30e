// Package metricstest reads a /metrics endpoint in tests: it scrapes the
// text format over HTTP, parses it with the Prometheus parser and looks up
// counters, gauges and histogram counts by name and labels.
package metricstest

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"mailtriage/internal/metrics"
)

// Families are the metric families of one scrape, by name.
type Families map[string]*dto.MetricFamily

// Scrape GETs url, which must be a /metrics endpoint the test started on
// loopback, and parses the text exposition format. It fails the test on
// any error.
func Scrape(t testing.TB, url string) Families {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatalf("building the scrape request for %s: %v", url, err)
	}
	req.Header.Set("Accept", "text/plain; version=0.0.4")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("scraping %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scraping %s: status %s, expected 200 OK", url, resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing the scrape of %s: %v", url, err)
	}
	return families
}

// Value returns the value of the counter or gauge name with exactly the
// given labels (name=value pairs), and whether such a series exists.
func (f Families) Value(name string, labels ...string) (float64, bool) {
	m := f.find(name, labels)
	switch {
	case m == nil:
		return 0, false
	case m.Counter != nil:
		return m.Counter.GetValue(), true
	case m.Gauge != nil:
		return m.Gauge.GetValue(), true
	case m.Untyped != nil:
		return m.Untyped.GetValue(), true
	}
	return 0, false
}

// Count returns the sample count of the histogram name with exactly the
// given labels, and whether such a series exists.
func (f Families) Count(name string, labels ...string) (uint64, bool) {
	m := f.find(name, labels)
	if m == nil || m.Histogram == nil {
		return 0, false
	}
	return m.Histogram.GetSampleCount(), true
}

// Sum adds the values of every series of the counter name, whatever its
// labels.
func (f Families) Sum(name string) float64 {
	fam, ok := f[name]
	if !ok {
		return 0
	}
	total := 0.0
	for _, m := range fam.GetMetric() {
		total += m.GetCounter().GetValue()
	}
	return total
}

// Series returns every label set of name, each as sorted "key=value"
// pairs joined by commas, mapped to the counter or gauge value.
func (f Families) Series(name string) map[string]float64 {
	out := make(map[string]float64)
	fam, ok := f[name]
	if !ok {
		return out
	}
	for _, m := range fam.GetMetric() {
		pairs := make([]string, 0, len(m.GetLabel()))
		for _, l := range m.GetLabel() {
			pairs = append(pairs, l.GetName()+"="+l.GetValue())
		}
		out[strings.Join(pairs, ",")] = m.GetCounter().GetValue() + m.GetGauge().GetValue()
	}
	return out
}

// LabelValuesContaining returns "metric{label=value}" for every label
// value of any mailtriage_ metric that contains substr, so that a test can
// prove that no address leaked into a label.
func (f Families) LabelValuesContaining(substr string) []string {
	var found []string
	for name, fam := range f {
		if !strings.HasPrefix(name, "mailtriage_") {
			continue
		}
		for _, m := range fam.GetMetric() {
			for _, l := range m.GetLabel() {
				if strings.Contains(l.GetValue(), substr) {
					found = append(found, fmt.Sprintf("%s{%s=%q}", name, l.GetName(), l.GetValue()))
				}
			}
		}
	}
	return found
}

func (f Families) find(name string, labels []string) *dto.Metric {
	if len(labels)%2 != 0 {
		panic("metricstest: labels must be name, value pairs")
	}
	fam, ok := f[name]
	if !ok {
		return nil
	}
	for _, m := range fam.GetMetric() {
		if hasExactly(m.GetLabel(), labels) {
			return m
		}
	}
	return nil
}

func hasExactly(have []*dto.LabelPair, want []string) bool {
	if len(have) != len(want)/2 {
		return false
	}
	for i := 0; i < len(want); i += 2 {
		found := false
		for _, l := range have {
			if l.GetName() == want[i] && l.GetValue() == want[i+1] {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// ScrapeRegistry serves reg on a free loopback port with metrics.Listen,
// scrapes it once and stops the server.
func ScrapeRegistry(t testing.TB, reg *metrics.Registry) Families {
	t.Helper()
	srv, err := metrics.Listen("127.0.0.1:0", reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("metrics Serve returned %v, expected nil after cancel", err)
		}
	}()
	return Scrape(t, "http://"+srv.Addr().String()+metrics.Path)
}
