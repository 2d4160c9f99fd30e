package processors

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"mailtriage/schemas"
)

// DefaultQueue is the queue of a message that no rule matches when
// ClassifyConfig.DefaultQueue is empty.
const DefaultQueue = "general"

// Model is the seam for a trained classifier. Classify consults it only for
// messages that no rule matched. No implementation exists yet, so
// ClassifyConfig.Model is nil and such messages go to the default queue.
type Model interface {
	// Predict returns the model's decision for e. ok is false when the
	// model is not confident enough, and the default queue then applies.
	Predict(ctx context.Context, e *schemas.InboundEmail) (p ModelPrediction, ok bool, err error)
}

// ModelPrediction is a confident decision of a Model.
type ModelPrediction struct {
	Queue string
	Tags  []string
	// Reason has Kind schemas.ReasonModel, the model version, its top
	// labels and the confidence threshold in force.
	Reason schemas.Reason
}

// ClassifyConfig configures Classify.
type ClassifyConfig struct {
	// Rules is the loaded ruleset. Required.
	Rules *Ruleset
	// DefaultQueue is the queue when nothing matches. Empty means
	// DefaultQueue ("general").
	DefaultQueue string
	// Model is consulted when no rule matches. Nil, the default, skips it.
	Model Model
}

// Classify chooses a message's queue, and possibly its priority, tags and
// auto-reply suppression, from the first matching rule of the tenant's
// ruleset. It sets m.Decision.Reason to the rule ID and ruleset version, or
// to a fallback reason when no rule matched.
type Classify struct {
	rules        *Ruleset
	defaultQueue string
	model        Model
}

// NewClassify returns a Classify with cfg's defaults applied.
func NewClassify(cfg ClassifyConfig) (*Classify, error) {
	if cfg.Rules == nil {
		return nil, errors.New("classify needs a ruleset; load one with LoadRules")
	}
	c := &Classify{rules: cfg.Rules, defaultQueue: cfg.DefaultQueue, model: cfg.Model}
	if c.defaultQueue == "" {
		c.defaultQueue = DefaultQueue
	}
	if !queueNameRe.MatchString(c.defaultQueue) {
		return nil, fmt.Errorf("default queue %q is invalid; use lower-case letters, digits, '.', '_' and '-'", c.defaultQueue)
	}
	return c, nil
}

// Name returns "classify".
func (c *Classify) Name() string { return "classify" }

// Process sets m.Decision's queue, priority, tags, auto-reply flag and
// reason. It fails only when the model fails.
func (c *Classify) Process(ctx context.Context, m *Message) (Result, error) {
	d := &m.Decision
	if rule, why := c.rules.match(&m.Email, &m.keywordTexts); rule != nil {
		d.Queue = rule.Action.Queue
		d.Priority = rule.Action.Priority
		d.Tags = slices.Clone(rule.Action.Tags)
		d.SkipAutoReply = d.SkipAutoReply || rule.Action.SkipAutoReply
		d.Reason = schemas.Reason{
			Kind:           schemas.ReasonRule,
			RuleID:         rule.ID,
			RulesetVersion: c.rules.Version,
			Detail:         fmt.Sprintf("rule %s matched on %s", rule.ID, why),
		}
		return Continue, nil
	}

	if c.model != nil {
		p, ok, err := c.model.Predict(ctx, &m.Email)
		if err != nil {
			return Continue, fmt.Errorf("model prediction: %w", err)
		}
		if ok {
			d.Queue = p.Queue
			d.Tags = slices.Clone(p.Tags)
			d.Reason = p.Reason
			d.Reason.RulesetVersion = c.rules.Version
			return Continue, nil
		}
	}

	d.Queue = c.defaultQueue
	d.Reason = schemas.Reason{
		Kind:           schemas.ReasonFallback,
		RulesetVersion: c.rules.Version,
		Detail:         "no rule matched, so the default queue applies",
	}
	return Continue, nil
}
