package runner

import (
	"context"
	"fmt"
	"testing"
	"time"

	"mailtriage/internal/model"
	"mailtriage/processors"
	"mailtriage/schemas"
	"mailtriage/topics"
)

// TestRunnerModelReasons runs the default chain with a trained model over
// two messages that no rule matches: a confident one that goes to the
// model's queue and an ambiguous one below the threshold that goes to the
// default queue. Both decisions on the analytics topic carry the model
// version, the top three labels and the threshold.
func TestRunnerModelReasons(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	classifier := trainRunnerModel(t)
	const threshold = 0.8
	modelClassifier, err := processors.NewModelClassifier(classifier, processors.ModelConfig{Threshold: threshold})
	if err != nil {
		t.Fatal(err)
	}
	rules, err := processors.ParseRules("rules.yaml", []byte("version: \"runner-model-1\"\nrules:\n  - id: zebra\n    when: {subject_keywords: [zebra]}\n    then: {queue: zoo}\n"))
	if err != nil {
		t.Fatal(err)
	}

	confident := testEmail("acme", "confident", "Refund")
	confident.Text = "I was charged twice, where is my refund for the invoice?"
	ambiguous := testEmail("acme", "ambiguous", "Question")
	ambiguous.Text = "my refund, my parcel and my password"
	for _, e := range []*schemas.InboundEmail{&confident, &ambiguous} {
		e.From = &schemas.Address{Address: "customer@example.test"}
		e.To = []schemas.Address{{Address: "support@example.test"}}
	}
	// The test relies on the two messages falling on either side of the
	// threshold; check that before running the topology.
	if p := classifier.Top(processors.ModelText(&confident), 1)[0]; p.Label != "billing" || p.Probability < threshold {
		t.Fatalf("confident message predicted %+v, expected billing at %v or more", p, threshold)
	}
	if p := classifier.Top(processors.ModelText(&ambiguous), 1)[0]; p.Probability >= threshold {
		t.Fatalf("ambiguous message predicted %+v, expected below %v", p, threshold)
	}

	brokers := startCluster(ctx, t)
	ends := produceInbound(ctx, t, brokers, emailRecord(t, confident, -1), emailRecord(t, ambiguous, -1))
	chain, err := processors.DefaultChain(processors.ChainConfig{Rules: rules, Model: modelClassifier})
	if err != nil {
		t.Fatalf("DefaultChain: %v", err)
	}
	cfg := testConfig(brokers)
	cfg.Chain = chain
	cfg.Outputs = processors.Outputs
	rr := startRunner(ctx, t, newRunner(t, cfg))
	waitCaughtUp(ctx, t, rr, ends)
	if err := rr.stop(); err != nil {
		t.Fatalf("Run returned %v", err)
	}

	decisions := decodeDecisions(t, readTopic(ctx, t, brokers, topics.Analytics, true))
	byID := map[string]schemas.DecisionEvent{}
	for _, d := range decisions {
		byID[d.MessageID] = d
	}
	if len(decisions) != 2 || len(byID) != 2 {
		t.Fatalf("read %d decisions for %d messages, expected 2 and 2", len(decisions), len(byID))
	}

	checks := []struct {
		id, queue, kind string
	}{
		{confident.MessageID, "billing", schemas.ReasonModel},
		{ambiguous.MessageID, processors.DefaultQueue, schemas.ReasonFallback},
	}
	for _, c := range checks {
		d := byID[c.id]
		r := d.Reason
		if d.Queue != c.queue || r.Kind != c.kind {
			t.Errorf("%s: queue %q and reason kind %q, expected %q and %q", c.id, d.Queue, r.Kind, c.queue, c.kind)
		}
		if r.ModelVersion != classifier.Version || r.Threshold != threshold || r.RulesetVersion != "runner-model-1" {
			t.Errorf("%s: reason %+v, expected model %s, threshold %v and ruleset runner-model-1", c.id, r, classifier.Version, threshold)
		}
		if len(r.TopLabels) != 3 || r.TopLabels[0].Probability < r.TopLabels[1].Probability {
			t.Errorf("%s: top labels %+v, expected three, most probable first", c.id, r.TopLabels)
		}
	}
}

// trainRunnerModel trains a small three-label model.
func trainRunnerModel(t *testing.T) *model.Classifier {
	t.Helper()
	vocab := map[string][]string{
		"billing":  {"invoice", "refund", "charged twice", "payment failed", "receipt"},
		"shipping": {"parcel", "delivery", "tracking number", "courier", "package lost"},
		"login":    {"password", "reset link", "locked out", "two factor code", "sign in"},
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
