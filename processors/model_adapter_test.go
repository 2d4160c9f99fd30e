package processors

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mailtriage/internal/model"
	"mailtriage/schemas"
)

// modelRules matches only subjects with "zebra", so the test messages
// reach the model.
const modelRules = `version: "model-test-1"
rules:
  - id: zebra
    when: {subject_keywords: [zebra]}
    then: {queue: zoo}
`

// trainModelTestClassifier trains a small three-label model whose label
// "Login Help" is not a valid queue name as it is.
func trainModelTestClassifier(t testing.TB) *model.Classifier {
	t.Helper()
	vocab := map[string][]string{
		"billing":    {"invoice", "refund", "charged twice", "payment failed", "receipt"},
		"shipping":   {"parcel", "delivery", "tracking number", "courier", "package lost"},
		"Login Help": {"password", "reset link", "locked out", "two factor code", "sign in"},
	}
	var examples []model.Example
	for label, words := range vocab {
		for i := range 20 {
			text := fmt.Sprintf("Hello, question %d about my %s and the %s", i, words[i%len(words)], words[(i+2)%len(words)])
			examples = append(examples, model.Example{Text: text, Label: label})
		}
	}
	fc := model.DefaultFeatureConfig()
	fc.HashBits = 14
	tc := model.DefaultTrainConfig()
	tc.Date = "2025-03-01"
	c, err := model.Train(examples, fc, tc)
	if err != nil {
		t.Fatalf("training the test model: %v", err)
	}
	return c
}

func newModelClassify(t *testing.T, c *model.Classifier, threshold float64) *Classify {
	t.Helper()
	rules, err := ParseRules("model-rules.yaml", []byte(modelRules))
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewModelClassifier(c, ModelConfig{Threshold: threshold})
	if err != nil {
		t.Fatal(err)
	}
	classify, err := NewClassify(ClassifyConfig{Rules: rules, Model: m})
	if err != nil {
		t.Fatal(err)
	}
	return classify
}

func modelTestEmail(subject, text string) schemas.InboundEmail {
	return schemas.InboundEmail{Tenant: "acme", MessageID: "m1@example.test", Subject: subject, Text: text}
}

func TestClassifyModelConfident(t *testing.T) {
	c := trainModelTestClassifier(t)
	classify := newModelClassify(t, c, 0.5)

	m := &Message{Email: modelTestEmail("Refund", "I was charged twice, where is my refund for the invoice?")}
	if _, err := classify.Process(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	d := m.Decision
	if d.Queue != "billing" {
		t.Errorf("queue %q, expected billing", d.Queue)
	}
	r := d.Reason
	if r.Kind != schemas.ReasonModel || r.ModelVersion != c.Version || r.RulesetVersion != "model-test-1" || r.Threshold != 0.5 {
		t.Errorf("reason %+v, expected kind model, version %s, ruleset model-test-1, threshold 0.5", r, c.Version)
	}
	if len(r.TopLabels) != 3 || r.TopLabels[0].Label != "billing" || r.TopLabels[0].Probability < 0.5 {
		t.Fatalf("top labels %+v, expected 3 with billing first at 0.5 or more", r.TopLabels)
	}
	var sum float64
	for _, l := range r.TopLabels {
		sum += l.Probability
	}
	if sum < 0.999 || sum > 1.001 {
		t.Errorf("top three probabilities sum to %v, expected 1 with three labels", sum)
	}
	if !strings.Contains(r.Detail, "billing") {
		t.Errorf("detail %q does not name the label", r.Detail)
	}
}

func TestClassifyModelBelowThreshold(t *testing.T) {
	c := trainModelTestClassifier(t)
	const threshold = 0.999
	classify := newModelClassify(t, c, threshold)

	m := &Message{Email: modelTestEmail("Question", "My refund and my parcel")}
	if _, err := classify.Process(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	d := m.Decision
	if d.Queue != DefaultQueue {
		t.Errorf("queue %q, expected the default queue %s", d.Queue, DefaultQueue)
	}
	r := d.Reason
	if r.Kind != schemas.ReasonFallback || r.ModelVersion != c.Version || r.Threshold != threshold {
		t.Errorf("reason %+v, expected kind fallback with model version %s and threshold %v", r, c.Version, threshold)
	}
	if len(r.TopLabels) != 3 || r.TopLabels[0].Probability >= threshold {
		t.Errorf("top labels %+v, expected 3 with the first below %v", r.TopLabels, threshold)
	}
}

func TestClassifyRuleSkipsModel(t *testing.T) {
	classify := newModelClassify(t, trainModelTestClassifier(t), 0)
	m := &Message{Email: modelTestEmail("zebra refund", "refund for the invoice")}
	if _, err := classify.Process(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if m.Decision.Queue != "zoo" || m.Decision.Reason.Kind != schemas.ReasonRule || m.Decision.Reason.ModelVersion != "" {
		t.Errorf("decision %+v, expected rule zebra's queue zoo without a model version", m.Decision)
	}
}

func TestModelClassifierQueues(t *testing.T) {
	c := trainModelTestClassifier(t)
	m, err := NewModelClassifier(c, ModelConfig{Threshold: 0, Queues: map[string]string{"shipping": "logistics"}})
	if err != nil {
		t.Fatal(err)
	}
	for text, expected := range map[string]string{
		"the courier lost my parcel":       "logistics",
		"locked out, the reset link fails": "login_help",
	} {
		p, ok, err := m.Predict(context.Background(), &schemas.InboundEmail{Subject: text})
		if err != nil || !ok || p.Queue != expected {
			t.Errorf("Predict(%q) = queue %q, ok %v, error %v; expected %s, true, nil", text, p.Queue, ok, err, expected)
		}
	}
}

func TestNewModelClassifierRejects(t *testing.T) {
	c := trainModelTestClassifier(t)
	tests := []struct {
		name     string
		cfg      ModelConfig
		expected string
	}{
		{"threshold above 1", ModelConfig{Threshold: 1.5}, "invalid model threshold"},
		{"negative threshold", ModelConfig{Threshold: -0.1}, "invalid model threshold"},
		{"unknown label", ModelConfig{Queues: map[string]string{"refunds": "billing"}}, `label "refunds"`},
		{"invalid queue", ModelConfig{Queues: map[string]string{"billing": "Billing Team"}}, `invalid queue "Billing Team"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewModelClassifier(c, tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.expected) {
				t.Errorf("got %v, expected an error containing %q", err, tt.expected)
			}
		})
	}
}

func TestQueueForLabel(t *testing.T) {
	tests := map[string]string{
		"card_arrival":       "card_arrival",
		"Login Help":         "login_help",
		"_billing":           "billing",
		"top-up.failed":      "top-up.failed",
		"Réclamation client": "r_clamation_client",
	}
	for label, expected := range tests {
		if got, err := QueueForLabel(label); err != nil || got != expected {
			t.Errorf("QueueForLabel(%q) = %q, %v; expected %q", label, got, err, expected)
		}
	}
	if _, err := QueueForLabel("__"); err == nil || !strings.Contains(err.Error(), "--model-queue-map") {
		t.Errorf("QueueForLabel(\"__\") gave %v, expected an error naming --model-queue-map", err)
	}
}

func TestLoadModelClassifier(t *testing.T) {
	dir := t.TempDir()
	modelPath := filepath.Join(dir, "model.bin")
	if err := trainModelTestClassifier(t).Save(modelPath); err != nil {
		t.Fatal(err)
	}
	mapPath := filepath.Join(dir, "queues.yaml")
	if err := os.WriteFile(mapPath, []byte("billing: finance\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	m, err := LoadModelClassifier(modelPath, 0.3, mapPath)
	if err != nil {
		t.Fatal(err)
	}
	p, ok, err := m.Predict(context.Background(), &schemas.InboundEmail{Subject: "refund for my invoice"})
	if err != nil || !ok || p.Queue != "finance" || p.Reason.Threshold != 0.3 {
		t.Errorf("got queue %q, ok %v, threshold %v, error %v; expected finance, true, 0.3, nil", p.Queue, ok, p.Reason.Threshold, err)
	}

	if err := os.WriteFile(mapPath, []byte("- billing\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadModelClassifier(modelPath, 0.3, mapPath); err == nil || !strings.Contains(err.Error(), mapPath) {
		t.Errorf("a list instead of a mapping gave %v, expected an error naming %s", err, mapPath)
	}
}

func TestModelText(t *testing.T) {
	e := &schemas.InboundEmail{Subject: "Card", Text: "full text\n> quoted", ReplyText: "reply only"}
	if got := ModelText(e); got != "Card\nreply only" {
		t.Errorf("ModelText with reply text = %q, expected the subject and the reply text", got)
	}
	e.ReplyText = " "
	if got := ModelText(e); got != "Card\nfull text\n> quoted" {
		t.Errorf("ModelText without reply text = %q, expected the subject and the text", got)
	}
}
