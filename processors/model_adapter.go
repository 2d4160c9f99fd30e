package processors

import (
	"context"
	"fmt"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"

	"mailtriage/internal/model"
	"mailtriage/schemas"
)

// DefaultModelThreshold is the minimum probability of the model's top label
// for its queue to apply when ModelConfig.Threshold is not set by a flag.
const DefaultModelThreshold = 0.5

// modelTopLabels is how many labels a model decision records.
const modelTopLabels = 3

// ModelConfig configures NewModelClassifier.
type ModelConfig struct {
	// Threshold is the minimum probability of the top label, from 0 to 1,
	// for the message to go to that label's queue. Below it Classify uses
	// the default queue.
	Threshold float64
	// Queues maps labels to queue names. A label without an entry goes to
	// the queue that QueueForLabel derives from it.
	Queues map[string]string
}

// ModelClassifier is the Model that Classify consults: a trained
// model.Classifier, a confidence threshold and the queue of every label.
// It is safe for concurrent use.
type ModelClassifier struct {
	classifier *model.Classifier
	threshold  float64
	queues     map[string]string // every label of the classifier -> its queue
}

// NewModelClassifier checks cfg against c's labels and returns the Model.
// It fails on a threshold outside 0 to 1, a queue map entry for a label c
// does not have, an invalid queue name, or a label that gives no queue
// name.
func NewModelClassifier(c *model.Classifier, cfg ModelConfig) (*ModelClassifier, error) {
	if !(cfg.Threshold >= 0 && cfg.Threshold <= 1) {
		return nil, fmt.Errorf("invalid model threshold %v: use a probability from 0 to 1, such as %v", cfg.Threshold, DefaultModelThreshold)
	}
	m := &ModelClassifier{classifier: c, threshold: cfg.Threshold, queues: make(map[string]string, len(c.Labels))}
	known := make(map[string]bool, len(c.Labels))
	for _, label := range c.Labels {
		known[label] = true
	}
	for label, queue := range cfg.Queues {
		if !known[label] {
			return nil, fmt.Errorf("queue map names label %q, which model %s does not have: fix the label or remove the entry", label, c.Version)
		}
		if !queueNameRe.MatchString(queue) {
			return nil, fmt.Errorf("queue map sends label %q to invalid queue %q: use lower-case letters, digits, '.', '_' and '-'", label, queue)
		}
	}

	for _, label := range c.Labels {
		if queue, ok := cfg.Queues[label]; ok {
			m.queues[label] = queue
			continue
		}
		queue, err := QueueForLabel(label)
		if err != nil {
			return nil, err
		}
		m.queues[label] = queue
	}
	return m, nil
}

// LoadModelClassifier loads the model file at modelPath and, when
// queueMapPath is not empty, the YAML label-to-queue map there, and returns
// the Model with threshold.
func LoadModelClassifier(modelPath string, threshold float64, queueMapPath string) (*ModelClassifier, error) {
	c, err := model.Load(modelPath)
	if err != nil {
		return nil, err
	}
	var queues map[string]string
	if queueMapPath != "" {
		if queues, err = LoadQueueMap(queueMapPath); err != nil {
			return nil, err
		}
	}
	m, err := NewModelClassifier(c, ModelConfig{Threshold: threshold, Queues: queues})
	if err != nil {
		return nil, fmt.Errorf("model file %s: %w", modelPath, err)
	}
	return m, nil
}

// LoadQueueMap reads a YAML mapping from model labels to queue names, such
// as "card_arrival: cards".
func LoadQueueMap(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the model queue map: %w", err)
	}
	var queues map[string]string
	if err := yaml.Unmarshal(data, &queues); err != nil {
		return nil, fmt.Errorf("%s: invalid queue map (%v): write one \"label: queue\" line per label", path, err)
	}
	return queues, nil
}

// QueueForLabel returns the queue name of a model label without a queue
// map entry. That is the label in lower case, with '_' in place of every
// character other than a-z, 0-9, '.', '_' and '-'. Leading '.', '_' and
// '-' are removed.
func QueueForLabel(label string) (string, error) {
	queue := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			return r
		}
		return '_'
	}, strings.ToLower(label))
	queue = strings.TrimLeft(queue, "._-")
	if !queueNameRe.MatchString(queue) {
		return "", fmt.Errorf("model label %q gives no valid queue name: map it to a queue with --model-queue-map", label)
	}
	return queue, nil
}

// ModelText returns the text of e that the model reads: the subject, a
// line break, and the reply text, or the whole text when there is no reply
// text.
func ModelText(e *schemas.InboundEmail) string {
	body := e.ReplyText
	if strings.TrimSpace(body) == "" {
		body = e.Text
	}
	return e.Subject + "\n" + body
}

// Version returns the version of the loaded model.
func (m *ModelClassifier) Version() string { return m.classifier.Version }

// Threshold returns the confidence threshold in force.
func (m *ModelClassifier) Threshold() float64 { return m.threshold }

// Predict classifies e. p.Reason always carries the model version, the top
// three labels with their probabilities and the threshold. ok is true when
// the top probability is at or above the threshold; p.Queue is then the
// top label's queue.
func (m *ModelClassifier) Predict(ctx context.Context, e *schemas.InboundEmail) (ModelPrediction, bool, error) {
	if err := ctx.Err(); err != nil {
		return ModelPrediction{}, false, err
	}
	top := m.classifier.Top(ModelText(e), modelTopLabels)
	labels := make([]schemas.LabelScore, len(top))
	for i, t := range top {
		labels[i] = schemas.LabelScore{Label: t.Label, Probability: t.Probability}
	}

	best := top[0]
	queue := m.queues[best.Label]
	p := ModelPrediction{
		Queue: queue,
		Reason: schemas.Reason{
			Kind:         schemas.ReasonModel,
			ModelVersion: m.classifier.Version,
			TopLabels:    labels,
			Threshold:    m.threshold,
			Detail: fmt.Sprintf("no rule matched and model %s predicted %s with probability %.3f (threshold %.3f), so queue %s applies",
				m.classifier.Version, best.Label, best.Probability, m.threshold, queue),
		},
	}
	return p, best.Probability >= m.threshold, nil
}
