package metrics

import (
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// namespace prefixes every metric name.
const namespace = "mailtriage"

// Registry holds the metrics of one role.
type Registry = prometheus.Registry

// NewRegistry returns a registry for one role, holding the Go runtime
// collector (go_*) and the process collector (process_*).
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

// Handler returns the HTTP handler that serves the metrics of reg in the
// Prometheus text or OpenMetrics format, as the scraper requests. Errors
// while gathering are logged to log, which may be nil.
func Handler(reg *prometheus.Registry, log *slog.Logger) http.Handler {
	opts := promhttp.HandlerOpts{
		Registry:          reg,
		EnableOpenMetrics: true,
		ErrorHandling:     promhttp.ContinueOnError,
	}
	if log != nil {
		opts.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelError)
	}
	return promhttp.HandlerFor(reg, opts)
}
