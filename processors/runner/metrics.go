package runner

import (
	"context"
	"strings"
	"time"

	"mailtriage/internal/metrics"
	"mailtriage/processors"
	"mailtriage/schemas"
)

// timedProcessor measures one stage of the chain for the batch's metrics.
type timedProcessor struct {
	processors.Processor
	r *Runner
}

// timeChain wraps every processor of chain so that the batch's metrics
// see how long each stage took and whether it passed the message on.
func (r *Runner) timeChain(chain processors.Chain) processors.Chain {
	timed := make(processors.Chain, len(chain))
	for i, p := range chain {
		timed[i] = timedProcessor{Processor: p, r: r}
	}
	return timed
}

// Process runs the wrapped processor and records the stage.
func (p timedProcessor) Process(ctx context.Context, m *processors.Message) (processors.Result, error) {
	start := time.Now()
	res, err := p.Processor.Process(ctx, m)
	p.r.batchMetrics.Stage(p.Name(), time.Since(start), err == nil && res == processors.Continue)
	return res, err
}

// observeRecord adds what one processed input record yielded to the
// batch's metrics: the input, the outputs or the dead letter, and the
// decision of the chain.
func observeRecord(b *batch, topic string, res recordResult) {
	mb := b.metrics
	if mb == nil {
		return
	}
	mb.Input(topic)
	if res.deadLetter {
		mb.DeadLetter(res.stage)
		return
	}
	for _, out := range res.records {
		mb.Output(out.Topic)
	}
	m := res.message
	if m == nil {
		return
	}
	if len(res.records) > 0 {
		mb.Processed(m.Email.ReceivedAt)
	}
	if m.Duplicate {
		mb.Duplicate()
		return
	}

	switch m.Decision.Reason.Kind {
	case schemas.ReasonRule:
		mb.RuleHit(m.Decision.Reason.RuleID)
	case schemas.ReasonModel:
		mb.ModelHit(metrics.ModelHitModel)
	case schemas.ReasonFallback:
		mb.ModelHit(metrics.ModelHitFallback)
	}

	if m.Decision.AutoReply {
		mb.AutoReply(metrics.AutoReplyRequested, metrics.NoReason)
		return
	}
	for _, tag := range m.Decision.Tags {
		if reason, ok := strings.CutPrefix(tag, processors.AutoReplySuppressedTagPrefix); ok {
			mb.AutoReply(metrics.AutoReplySuppressed, reason)
			return
		}
	}
}
