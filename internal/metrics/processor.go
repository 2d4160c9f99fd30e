package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Values of the result label of mailtriage_transactions_total.
const (
	TransactionCommit = "commit"
	TransactionAbort  = "abort"
)

// Values of the reason label of mailtriage_retries_total.
const (
	// RetryTransaction counts the records of an aborted transaction, which
	// are polled and processed again.
	RetryTransaction = "transaction"
	// RetryProduce counts input records whose outputs Kafka rejected, which
	// are processed again as dead letters.
	RetryProduce = "produce"
)

// Values of the result label of mailtriage_model_hits_total.
const (
	ModelHitModel    = "model"    // the model's queue applied
	ModelHitFallback = "fallback" // no rule matched and the default queue applied
)

// Values of the outcome label of mailtriage_autoreplies_total.
const (
	AutoReplyRequested  = "requested"  // the processor's guard emitted an AutoReply command
	AutoReplySuppressed = "suppressed" // the guard or the SMTP sink withheld the reply
	AutoReplySent       = "sent"       // the SMTP relay accepted the reply
)

// NoReason is the reason label of a requested or sent auto-reply.
const NoReason = "none"

// outputProcessor is the output label of the processor's end-to-end
// latency.
const outputProcessor = "processor"

// Processor is the metric set of the exactly-once processor. Its counts
// cover committed transactions only: a Batch collects the observations of
// one transaction and adds them when it commits, so a batch that aborted
// and ran again counts once. Only the transaction and retry counters count
// aborted work.
type Processor struct {
	recordsIn    *prometheus.CounterVec
	recordsOut   *prometheus.CounterVec
	stageIn      *prometheus.CounterVec
	stageOut     *prometheus.CounterVec
	stageSeconds *prometheus.HistogramVec
	endToEnd     prometheus.Observer
	transactions *prometheus.CounterVec
	deadLetters  *prometheus.CounterVec
	retries      *prometheus.CounterVec
	duplicates   prometheus.Counter
	ruleHits     *prometheus.CounterVec
	modelHits    *prometheus.CounterVec
	autoReplies  *prometheus.CounterVec

	// Lag is the consumer lag of the input partitions.
	Lag *ConsumerLag
}

// NewProcessor registers the processor's metrics on reg. It returns nil,
// which records nothing, when reg is nil.
func NewProcessor(reg *Registry) *Processor {
	if reg == nil {
		return nil
	}
	p := &Processor{
		recordsIn: counterVec(reg, "records_in_total",
			"Input records processed in committed transactions, by input topic.", "topic"),
		recordsOut: counterVec(reg, "records_out_total",
			"Records produced in committed transactions, by output topic (the DLQ and the state changelogs excluded).", "topic"),
		stageIn: counterVec(reg, "stage_records_in_total",
			"Messages that entered a processor stage.", "stage"),
		stageOut: counterVec(reg, "stage_records_out_total",
			"Messages that a processor stage passed on to the next stage.", "stage"),
		stageSeconds: histogramVec(reg, "stage_duration_seconds",
			"Time one processor stage took for one message.", stageBuckets, "stage"),
		endToEnd: endToEndVec(reg).WithLabelValues(outputProcessor),
		transactions: counterVec(reg, "transactions_total",
			"Kafka transactions ended, by result: commit or abort.", "result"),
		deadLetters: counterVec(reg, "dead_letters_total",
			"Input records sent to the dead-letter topic, by the stage that failed.", "stage"),
		retries: counterVec(reg, "retries_total",
			"Input records processed again: reason=transaction after their transaction aborted, reason=produce after Kafka rejected their outputs.", "reason"),
		duplicates: register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "duplicates_dropped_total",
			Help: "Messages the dedupe stage dropped as duplicates.",
		})),
		ruleHits: counterVec(reg, "rule_hits_total",
			"Messages classified by a rule, by rule ID.", "rule_id"),
		modelHits: counterVec(reg, "model_hits_total",
			"Messages that no rule matched, by result: model when the model's queue applied, fallback when the default queue applied.", "result"),
		autoReplies: autoRepliesVec(reg),
		Lag:         NewConsumerLag(reg),
	}
	// Create the series whose absence would read as "no data" rather than 0.
	for _, result := range []string{TransactionCommit, TransactionAbort} {
		p.transactions.WithLabelValues(result)
	}
	for _, reason := range []string{RetryTransaction, RetryProduce} {
		p.retries.WithLabelValues(reason)
	}
	for _, result := range []string{ModelHitModel, ModelHitFallback} {
		p.modelHits.WithLabelValues(result)
	}
	return p
}

// NewBatch starts collecting the observations of one transaction. It
// returns nil, which collects nothing, when p is nil.
func (p *Processor) NewBatch() *Batch {
	if p == nil {
		return nil
	}
	return &Batch{p: p}
}

// Retried counts records input records that are processed again for
// reason (RetryTransaction or RetryProduce).
func (p *Processor) Retried(reason string, records int) {
	if p == nil || records <= 0 {
		return
	}
	p.retries.WithLabelValues(reason).Add(float64(records))
}

// ObserveFetches sets the consumer lag of the input partitions in fetches.
func (p *Processor) ObserveFetches(fetches kgo.Fetches) {
	if p != nil {
		p.Lag.Observe(fetches)
	}
}

// Batch collects the observations of one transaction. Only one goroutine
// may use it. A nil *Batch ignores every call.
type Batch struct {
	p *Processor

	recordsIn   map[string]int
	recordsOut  map[string]int
	stages      []stageObservation
	deadLetters map[string]int
	duplicates  int
	ruleHits    map[string]int
	modelHits   map[string]int
	autoReplies map[[2]string]int
	receivedAt  []time.Time
}

// stageObservation is one message through one stage.
type stageObservation struct {
	stage   string
	seconds float64
	passed  bool
}

// Input counts one input record from topic.
func (b *Batch) Input(topic string) {
	if b != nil {
		b.recordsIn = increment(b.recordsIn, topic)
	}
}

// Stage records that a message took d in stage, and whether the stage
// passed it on to the next one.
func (b *Batch) Stage(stage string, d time.Duration, passed bool) {
	if b != nil {
		b.stages = append(b.stages, stageObservation{stage: stage, seconds: d.Seconds(), passed: passed})
	}
}

// Output counts one record produced to topic.
func (b *Batch) Output(topic string) {
	if b != nil {
		b.recordsOut = increment(b.recordsOut, topic)
	}
}

// Processed notes the receivedAt of a message whose outputs are in the
// transaction, for the end-to-end latency measured at commit.
func (b *Batch) Processed(receivedAt time.Time) {
	if b != nil && !receivedAt.IsZero() {
		b.receivedAt = append(b.receivedAt, receivedAt)
	}
}

// DeadLetter counts one input record sent to the DLQ by stage.
func (b *Batch) DeadLetter(stage string) {
	if b != nil {
		b.deadLetters = increment(b.deadLetters, stage)
	}
}

// Duplicate counts one message dropped as a duplicate.
func (b *Batch) Duplicate() {
	if b != nil {
		b.duplicates++
	}
}

// RuleHit counts one message classified by rule ruleID.
func (b *Batch) RuleHit(ruleID string) {
	if b != nil {
		b.ruleHits = increment(b.ruleHits, ruleID)
	}
}

// ModelHit counts one message that no rule matched, with result
// ModelHitModel or ModelHitFallback.
func (b *Batch) ModelHit(result string) {
	if b != nil {
		b.modelHits = increment(b.modelHits, result)
	}
}

// AutoReply counts one decision of the auto-reply guard: outcome
// AutoReplyRequested with reason NoReason, or AutoReplySuppressed with the
// guard's reason code.
func (b *Batch) AutoReply(outcome, reason string) {
	if b == nil {
		return
	}
	if b.autoReplies == nil {
		b.autoReplies = make(map[[2]string]int)
	}
	b.autoReplies[[2]string{outcome, reason}]++
}

// Commit adds the batch's observations after its transaction committed at
// now.
func (b *Batch) Commit(now time.Time) {
	if b == nil {
		return
	}
	p := b.p
	p.transactions.WithLabelValues(TransactionCommit).Inc()
	addAll(p.recordsIn, b.recordsIn)
	addAll(p.recordsOut, b.recordsOut)
	for _, s := range b.stages {
		p.stageIn.WithLabelValues(s.stage).Inc()
		if s.passed {
			p.stageOut.WithLabelValues(s.stage).Inc()
		}
		p.stageSeconds.WithLabelValues(s.stage).Observe(s.seconds)
	}
	for _, at := range b.receivedAt {
		p.endToEnd.Observe(max(now.Sub(at).Seconds(), 0))
	}
	addAll(p.deadLetters, b.deadLetters)
	p.duplicates.Add(float64(b.duplicates))
	addAll(p.ruleHits, b.ruleHits)
	addAll(p.modelHits, b.modelHits)
	for key, n := range b.autoReplies {
		p.autoReplies.WithLabelValues(key[0], key[1]).Add(float64(n))
	}
}

// Abort counts an aborted transaction and its records as retried, and
// drops the other observations.
func (b *Batch) Abort() {
	if b == nil {
		return
	}
	b.p.transactions.WithLabelValues(TransactionAbort).Inc()
	records := 0
	for _, n := range b.recordsIn {
		records += n
	}
	b.p.Retried(RetryTransaction, records)
}

func increment(m map[string]int, key string) map[string]int {
	if m == nil {
		m = make(map[string]int)
	}
	m[key]++
	return m
}

func addAll(vec *prometheus.CounterVec, counts map[string]int) {
	for label, n := range counts {
		vec.WithLabelValues(label).Add(float64(n))
	}
}
