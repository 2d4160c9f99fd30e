package model

import (
	"fmt"
	"testing"
)

// tinyExamples returns a small three-label dataset whose labels follow
// from distinct vocabularies, n rows per label.
func tinyExamples(n int) []Example {
	vocab := map[string][]string{
		"billing":  {"invoice", "refund", "charged twice", "payment failed", "receipt"},
		"shipping": {"parcel", "delivery", "tracking number", "courier", "package lost"},
		"login":    {"password", "reset link", "locked out", "two factor code", "sign in"},
	}
	var out []Example
	for _, label := range []string{"billing", "shipping", "login"} {
		words := vocab[label]
		for i := range n {
			text := fmt.Sprintf("Hello, question %d about my %s and the %s", i, words[i%len(words)], words[(i+2)%len(words)])
			out = append(out, Example{Text: text, Label: label})
		}
	}
	return out
}

// tinyConfigs returns small, fast settings for tests.
func tinyConfigs() (FeatureConfig, TrainConfig) {
	fc := DefaultFeatureConfig()
	fc.HashBits = 14
	tc := DefaultTrainConfig()
	tc.Date = "2025-03-01"
	return fc, tc
}

func trainTiny(t testing.TB) *Classifier {
	t.Helper()
	fc, tc := tinyConfigs()
	c, err := Train(tinyExamples(20), fc, tc)
	if err != nil {
		t.Fatalf("Train: %v", err)
	}
	return c
}
