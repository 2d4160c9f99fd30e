package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Sink kinds, the values of the sink label.
const (
	SinkPostgres   = "postgres"
	SinkClickHouse = "clickhouse"
	SinkSlack      = "slack"
	SinkSMTP       = "smtp"
)

// Sink is the metric set of one sink connector, whose series carry its
// kind in the sink label.
type Sink struct {
	now            func() time.Time
	records        prometheus.Counter
	delivered      prometheus.Counter
	deliveryErrors prometheus.Counter
	retries        prometheus.Counter
	deadLetters    prometheus.Counter
	skipped        *prometheus.CounterVec
	endToEnd       prometheus.Observer
	autoReplies    *prometheus.CounterVec
	lag            *ConsumerLag
}

// NewSink registers the metrics of the sink of kind (SinkPostgres and so
// on) on reg. It returns nil, which records nothing, when reg is nil.
func NewSink(reg *Registry, kind string) *Sink {
	if reg == nil {
		return nil
	}
	records := counterVec(reg, "sink_records_total",
		"Records a sink read from its topic, transaction markers excluded; a record read again after a restart counts again.", "sink")
	delivered := counterVec(reg, "sink_delivered_total",
		"Rows, posts or replies a sink committed: rows in a committed database transaction or insert, Slack posts answered 2xx, replies the SMTP relay accepted.", "sink")
	deliveryErrors := counterVec(reg, "sink_delivery_errors_total",
		"Failed attempts to deliver to the sink's database or endpoint, retried or not.", "sink")
	retries := counterVec(reg, "sink_retries_total",
		"Deliveries a sink attempted again after a failure.", "sink")
	deadLetters := counterVec(reg, "sink_dead_letters_total",
		"Records a sink sent to the dead-letter topic.", "sink")
	return &Sink{
		now:            time.Now,
		records:        records.WithLabelValues(kind),
		delivered:      delivered.WithLabelValues(kind),
		deliveryErrors: deliveryErrors.WithLabelValues(kind),
		retries:        retries.WithLabelValues(kind),
		deadLetters:    deadLetters.WithLabelValues(kind),
		skipped: counterVec(reg, "sink_skipped_total",
			"Records a sink read and did not deliver, by reason: replayed (already in the ledger or below the stored offset), unknown (a delivery whose outcome was lost), no_webhook, other_channel.", "sink", "reason").
			MustCurryWith(prometheus.Labels{"sink": kind}),
		endToEnd:    endToEndVec(reg).WithLabelValues(kind),
		autoReplies: autoRepliesVec(reg),
		lag:         NewConsumerLag(reg),
	}
}

// Records counts n records read from the topic.
func (s *Sink) Records(n int) {
	if s != nil && n > 0 {
		s.records.Add(float64(n))
	}
}

// Polled counts the records of fetches, transaction markers excluded, and
// sets the consumer lag of their partitions.
func (s *Sink) Polled(fetches kgo.Fetches) {
	if s == nil {
		return
	}
	n := 0
	fetches.EachRecord(func(r *kgo.Record) {
		if !r.Attrs.IsControl() {
			n++
		}
	})
	s.Records(n)
	s.lag.Observe(fetches)
}

// ObserveFetches sets the consumer lag of the partitions in fetches.
func (s *Sink) ObserveFetches(fetches kgo.Fetches) {
	if s != nil {
		s.lag.Observe(fetches)
	}
}

// Delivered counts one row, post or reply committed now, whose message was
// received at receivedAt (zero when unknown, which skips the latency).
func (s *Sink) Delivered(receivedAt time.Time) {
	if s == nil {
		return
	}
	s.delivered.Inc()
	if !receivedAt.IsZero() {
		s.endToEnd.Observe(max(s.now().Sub(receivedAt).Seconds(), 0))
	}
}

// DeliveryError counts one failed attempt to deliver.
func (s *Sink) DeliveryError() {
	if s != nil {
		s.deliveryErrors.Inc()
	}
}

// Retry counts one delivery attempted again.
func (s *Sink) Retry() {
	if s != nil {
		s.retries.Inc()
	}
}

// DeadLetters counts n records sent to the dead-letter topic.
func (s *Sink) DeadLetters(n int) {
	if s != nil && n > 0 {
		s.deadLetters.Add(float64(n))
	}
}

// Skipped counts n records not delivered for reason.
func (s *Sink) Skipped(reason string, n int) {
	if s != nil && n > 0 {
		s.skipped.WithLabelValues(reason).Add(float64(n))
	}
}

// AutoReplySuppressed counts one reply the SMTP sink withheld, with its
// reason code.
func (s *Sink) AutoReplySuppressed(reason string) {
	if s != nil {
		s.autoReplies.WithLabelValues(AutoReplySuppressed, reason).Inc()
	}
}

// AutoReplySent counts one reply the relay accepted. It is counted apart
// from Delivered, which the SMTP sink also calls.
func (s *Sink) AutoReplySent() {
	if s != nil {
		s.autoReplies.WithLabelValues(AutoReplySent, NoReason).Inc()
	}
}
