package metrics

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Histogram buckets, in seconds.
var (
	// stageBuckets cover one processor stage: 100µs to about 6.5s.
	stageBuckets = prometheus.ExponentialBuckets(0.0001, 4, 9)
	// endToEndBuckets cover the time from receipt to an output: 50ms to
	// 1 hour. Imported old mail lands in the +Inf bucket.
	endToEndBuckets = []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600}
	// requestBuckets cover one webhook request: 5ms to 60s.
	requestBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}
)

// register registers c on reg and returns it. When reg already holds an
// equal collector, as when the demo serves the processor and the sinks
// from one registry, register returns that one, so both sets share it. A
// conflicting definition panics, as MustRegister does.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	err := reg.Register(c)
	if err == nil {
		return c
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing
		}
	}
	panic(err)
}

func counterVec(reg prometheus.Registerer, name, help string, labels ...string) *prometheus.CounterVec {
	return register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help}, labels))
}

func histogramVec(reg prometheus.Registerer, name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	return register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: name, Help: help, Buckets: buckets}, labels))
}

// Definitions shared by several metric sets.

func endToEndVec(reg prometheus.Registerer) *prometheus.HistogramVec {
	return histogramVec(reg, "end_to_end_latency_seconds",
		"Time from the receivedAt of a message to its output: committed by the processor (output=processor) or committed by a sink (output=SINK).",
		endToEndBuckets, "output")
}

func autoRepliesVec(reg prometheus.Registerer) *prometheus.CounterVec {
	return counterVec(reg, "autoreplies_total",
		"Automatic acknowledgements by outcome: requested or suppressed by the processor's guard, sent or suppressed by the SMTP sink; reason is the suppression reason code, or none.",
		"outcome", "reason")
}
