package model

import (
	"math"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestTrainTinyPredicts(t *testing.T) {
	c := trainTiny(t)
	if !slices.Equal(c.Labels, []string{"billing", "login", "shipping"}) {
		t.Fatalf("labels %q, expected billing, login, shipping", c.Labels)
	}
	cases := map[string]string{
		"I was charged twice, where is my refund?":   "billing",
		"The courier says the package lost":          "shipping",
		"I am locked out and the reset link expired": "login",
	}
	for text, expected := range cases {
		top := c.Top(text, 3)
		if len(top) != 3 || top[0].Label != expected {
			t.Errorf("Top(%q) = %+v, expected %s first", text, top, expected)
		}
		if top[0].Probability < top[1].Probability || top[1].Probability < top[2].Probability {
			t.Errorf("Top(%q) is not sorted by probability: %+v", text, top)
		}
	}
}

func TestPredictSumsToOne(t *testing.T) {
	c := trainTiny(t)
	probs := c.Predict("refund for my parcel")
	var sum float64
	for _, p := range probs {
		sum += p
	}
	if math.Abs(sum-1) > 1e-9 || len(probs) != 3 {
		t.Errorf("got %d probabilities summing to %v, expected 3 summing to 1", len(probs), sum)
	}
	empty := c.Predict("")
	if len(empty) != 3 {
		t.Errorf("empty text gave %d probabilities, expected 3", len(empty))
	}
}

func TestTrainDeterministic(t *testing.T) {
	a, b := trainTiny(t), trainTiny(t)
	if a.Version != b.Version {
		t.Errorf("two runs with one seed gave versions %s and %s, expected equal", a.Version, b.Version)
	}
	if !regexp.MustCompile(`^2025-03-01-[0-9a-f]{12}$`).MatchString(a.Version) {
		t.Errorf("version %q, expected 2025-03-01- and 12 hex digits", a.Version)
	}

	fc, tc := tinyConfigs()
	tc.Seed = 2
	other, err := Train(tinyExamples(20), fc, tc)
	if err != nil {
		t.Fatal(err)
	}
	if other.Version == a.Version {
		t.Errorf("seeds 1 and 2 gave the same version %s, expected different weights", a.Version)
	}
}

func TestTrainRejects(t *testing.T) {
	fc, tc := tinyConfigs()
	tests := []struct {
		name     string
		examples []Example
		mutate   func(*FeatureConfig, *TrainConfig)
		expected string
	}{
		{"no examples", nil, nil, "no training examples"},
		{"one label", []Example{{Text: "a", Label: "x"}, {Text: "b", Label: "x"}}, nil, "only one label"},
		{"bad date", tinyExamples(2), func(_ *FeatureConfig, tc *TrainConfig) { tc.Date = "March" }, "invalid training date"},
		{"zero epochs", tinyExamples(2), func(_ *FeatureConfig, tc *TrainConfig) { tc.Epochs = 0 }, "invalid epoch count"},
		{"hash bits", tinyExamples(2), func(fc *FeatureConfig, _ *TrainConfig) { fc.HashBits = 30 }, "invalid hash bits"},
		{"char range", tinyExamples(2), func(fc *FeatureConfig, _ *TrainConfig) { fc.CharMin = 6 }, "invalid character n-gram range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, c := fc, tc
			if tt.mutate != nil {
				tt.mutate(&f, &c)
			}
			_, err := Train(tt.examples, f, c)
			if err == nil || !strings.Contains(err.Error(), tt.expected) {
				t.Errorf("got error %v, expected one containing %q", err, tt.expected)
			}
		})
	}
}

// banking77 is the Banking77 training file, outside the repository.
const banking77 = "../../../shared/labeled/banking77/train.csv"

// banking77Config is the configuration BENCHMARKS.md reports.
func banking77Config() (FeatureConfig, TrainConfig) {
	fc := DefaultFeatureConfig()
	tc := DefaultTrainConfig()
	tc.Date = "2025-03-01"
	return fc, tc
}

// readBanking77 reads Banking77's train.csv and splits off the stratified
// 10% validation rows with seed 1, or skips the test when it is missing.
func readBanking77(t testing.TB) (train, holdout []Example) {
	t.Helper()
	if _, err := os.Stat(banking77); err != nil {
		t.Skipf("Banking77 not found at %s (%v): the accuracy check needs the labeled data beside the repository", banking77, err)
	}
	examples, err := ReadExamples(DataSource{Path: banking77, TextColumn: "text", LabelColumn: "category"})
	if err != nil {
		t.Fatal(err)
	}
	train, holdout, err = Split(examples, 0.1, 1)
	if err != nil {
		t.Fatal(err)
	}
	return train, holdout
}

// TestBanking77Accuracy trains on 90% of Banking77's train.csv and checks
// the accuracy on the other, stratified 10%.
func TestBanking77Accuracy(t *testing.T) {
	if testing.Short() {
		t.Skip("training on Banking77 takes tens of seconds; run without -short")
	}
	train, holdout := readBanking77(t)
	if len(train) != 8998 || len(holdout) != 1005 {
		t.Fatalf("split gave %d and %d rows, expected 8998 and 1005", len(train), len(holdout))
	}

	fc, tc := banking77Config()
	start := time.Now()
	c, err := Train(train, fc, tc)
	if err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	if len(c.Labels) != 77 {
		t.Errorf("trained %d labels, expected 77", len(c.Labels))
	}

	m := c.EvaluateExamples(holdout)
	t.Logf("Banking77 held-out accuracy %.4f, macro-F1 %.4f, training %s", m.Accuracy, m.MacroF1, elapsed.Round(time.Millisecond))
	if m.Accuracy < 0.90 {
		t.Errorf("held-out accuracy %.4f, expected at least 0.90", m.Accuracy)
	}
}
