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
// messages that no rule matched.
type Model interface {
	// Predict returns the model's prediction for e. ok is false when the
	// model is not confident enough: the default queue then applies, and
	// p.Reason still carries the model version, top labels and threshold
	// for the audit trail.
	Predict(ctx context.Context, e *schemas.InboundEmail) (p ModelPrediction, ok bool, err error)
}

// ModelPrediction is what a Model predicted for a message.
type ModelPrediction struct {
	Queue string
	Tags  []string
	// Reason has Kind schemas.ReasonModel, the model version, its top
	// labels and the confidence threshold in force.
	Reason schemas.Reason
}

// ClassifyConfig configures Classify.
type ClassifyConfig struct {
	// Rules is the loaded ruleset. Required unless RulesSource is set.
	Rules *Ruleset
	// RulesSource provides the ruleset for each message, such as a
	// RulesWatcher that reloads its file. It takes precedence over Rules.
	RulesSource RulesSource
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
	rules        RulesSource
	defaultQueue string
	model        Model
}

// NewClassify returns a Classify with cfg's defaults applied.
func NewClassify(cfg ClassifyConfig) (*Classify, error) {
	source := cfg.RulesSource
	if source == nil && cfg.Rules != nil {
		source = cfg.Rules
	}
	if source == nil || source.Current() == nil {
		return nil, errors.New("classify needs a ruleset; load one with LoadRules")
	}
	c := &Classify{rules: source, defaultQueue: cfg.DefaultQueue, model: cfg.Model}
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
	rules := c.rules.Current()
	if rule, why := rules.match(&m.Email, &m.keywordTexts); rule != nil {
		d.Queue = rule.Action.Queue
		d.Priority = rule.Action.Priority
		d.Tags = slices.Clone(rule.Action.Tags)
		d.SkipAutoReply = d.SkipAutoReply || rule.Action.SkipAutoReply
		d.Reason = schemas.Reason{
			Kind:           schemas.ReasonRule,
			RuleID:         rule.ID,
			RulesetVersion: rules.Version,
			Detail:         fmt.Sprintf("rule %s matched on %s", rule.ID, why),
		}
		return Continue, nil
	}

	d.Queue = c.defaultQueue
	d.Reason = schemas.Reason{
		Kind:           schemas.ReasonFallback,
		RulesetVersion: rules.Version,
		Detail:         "no rule matched, so the default queue applies",
	}
	if c.model == nil {
		return Continue, nil
	}

	p, ok, err := c.model.Predict(ctx, &m.Email)
	if err != nil {
		return Continue, fmt.Errorf("model prediction: %w", err)
	}
	if ok {
		d.Queue = p.Queue
		d.Tags = slices.Clone(p.Tags)
		d.Reason = p.Reason
		d.Reason.RulesetVersion = rules.Version
		return Continue, nil
	}
	// Below the threshold: the fallback keeps what the model saw, so an
	// auditor can tell a weak prediction from no model at all.
	d.Reason.ModelVersion = p.Reason.ModelVersion
	d.Reason.TopLabels = slices.Clone(p.Reason.TopLabels)
	d.Reason.Threshold = p.Reason.Threshold
	d.Reason.Detail = "no rule matched and the model was below its confidence threshold, so the default queue applies"
	return Continue, nil
}
