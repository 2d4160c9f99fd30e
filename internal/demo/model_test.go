package demo

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"mailtriage/processors"
	"mailtriage/schemas"
)

// unsureModel predicts "refund" for every message, below its threshold.
type unsureModel struct{}

func (unsureModel) Predict(context.Context, *schemas.InboundEmail) (processors.ModelPrediction, bool, error) {
	return processors.ModelPrediction{
		Queue: "refund",
		Reason: schemas.Reason{
			Kind:         schemas.ReasonModel,
			ModelVersion: "test-model",
			TopLabels:    []schemas.LabelScore{{Label: "refund", Probability: 0.41}, {Label: "card_arrival", Probability: 0.3}},
			Threshold:    0.5,
		},
	}, false, nil
}

func TestDemoFallbackShowsModelTopLabel(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	report, err := Run(ctx, Config{Mail: []string{sampleMailbox}, RulesFile: sampleRules, Model: unsureModel{}, Timeout: 80 * time.Second})
	if err != nil {
		t.Fatalf("demo run: %v", err)
	}

	fallbacks := 0
	for _, row := range report.Rows {
		if row.Queue != "general" || row.Duplicate {
			continue
		}
		fallbacks++
		if row.Reason != "fallback (refund 0.41)" {
			t.Errorf("%s: reason %q, want %q", row.File, row.Reason, "fallback (refund 0.41)")
		}
	}
	if fallbacks != 8 {
		t.Errorf("%d fallback rows, want the 8 of queue general", fallbacks)
	}

	var out bytes.Buffer
	if err := report.WriteTable(&out); err != nil {
		t.Fatal(err)
	}
	var japanese string
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(line, "general-japanese.eml ") {
			japanese = line
		}
	}
	if !strings.Contains(japanese, "  general  ") || !strings.Contains(japanese, "  fallback (refund 0.41)  ") {
		t.Errorf("table row %q, want queue general and reason fallback (refund 0.41)", japanese)
	}
	if want := "inbound 35 = routed 32 + duplicates 3 + dlq 0\n"; !strings.Contains(out.String(), "\n"+want) {
		t.Errorf("table does not end its rows with %q:\n%s", want, out.String())
	}
}
