package metrics

import (
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Values of the result label of mailtriage_ingress_records_total.
const (
	IngressPublished   = "published"   // the broker acknowledged the record
	IngressUnavailable = "unavailable" // Kafka could not take it now; the sender retries
	IngressFailed      = "failed"      // Kafka rejected it, or it could not be encoded
)

// Ingress is the metric set of the sources that put mail on the inbound
// topic: the webhook gateway, the SMTP listener, the poller and the
// importer.
type Ingress struct {
	records     *prometheus.CounterVec
	deadLetters *prometheus.CounterVec
}

// NewIngress registers the ingress metrics on reg. It returns nil, which
// records nothing, when reg is nil.
func NewIngress(reg *Registry) *Ingress {
	if reg == nil {
		return nil
	}
	return &Ingress{
		records: counterVec(reg, "ingress_records_total",
			"Inbound records a source tried to publish, by source (webhook, smtp, lmtp, poller, import and so on) and result: published, unavailable or failed.", "source", "result"),
		deadLetters: counterVec(reg, "ingress_dead_letters_total",
			"Mail that reached a source but went to the dead-letter topic instead of the inbound topic, by source.", "source"),
	}
}

// Published counts n records of source with result (IngressPublished and
// so on).
func (i *Ingress) Published(source, result string, n int) {
	if i != nil && n > 0 {
		i.records.WithLabelValues(source, result).Add(float64(n))
	}
}

// DeadLetters counts n dead letters of source that the broker
// acknowledged.
func (i *Ingress) DeadLetters(source string, n int) {
	if i != nil && n > 0 {
		i.deadLetters.WithLabelValues(source).Add(float64(n))
	}
}

// Webhook is the metric set of the HTTP webhook gateway.
type Webhook struct {
	requests *prometheus.CounterVec
	seconds  *prometheus.HistogramVec
}

// NewWebhook registers the webhook metrics on reg. It returns nil, which
// records nothing, when reg is nil.
func NewWebhook(reg *Registry) *Webhook {
	if reg == nil {
		return nil
	}
	return &Webhook{
		requests: counterVec(reg, "webhook_requests_total",
			"HTTP requests the webhook gateway answered, by status code.", "code"),
		seconds: histogramVec(reg, "webhook_request_duration_seconds",
			"Time the webhook gateway took to answer a request, by status code.", requestBuckets, "code"),
	}
}

// Handler wraps next so that every response is counted by status code
// and timed. A nil *Webhook returns next unchanged.
func (w *Webhook) Handler(next http.Handler) http.Handler {
	if w == nil {
		return next
	}
	return promhttp.InstrumentHandlerDuration(w.seconds, promhttp.InstrumentHandlerCounter(w.requests, next))
}

// SMTP is the metric set of the SMTP and LMTP listener.
type SMTP struct {
	replies *prometheus.CounterVec
}

// NewSMTP registers the listener metrics on reg. It returns nil, which
// records nothing, when reg is nil.
func NewSMTP(reg *Registry) *SMTP {
	if reg == nil {
		return nil
	}
	return &SMTP{replies: counterVec(reg, "smtp_replies_total",
		"Replies of the SMTP or LMTP listener to MAIL, RCPT and DATA, by command and reply code; LMTP counts one DATA reply per recipient.", "command", "code")}
}

// Reply counts one reply with code to command ("mail", "rcpt" or "data").
func (s *SMTP) Reply(command string, code int) {
	if s != nil {
		s.replies.WithLabelValues(command, strconv.Itoa(code)).Inc()
	}
}
