package model

import (
	"math"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// TestEvaluateHandComputed checks the metrics of six predictions worked
// out by hand:
//
//	gold:      a a a b b c
//	predicted: a a b b c c
//
// a: 2 true positives of 2 predicted and 3 gold: P 1, R 2/3, F1 0.8.
// b: 1 of 2 predicted and 2 gold: P 0.5, R 0.5, F1 0.5.
// c: 1 of 2 predicted and 1 gold: P 0.5, R 1, F1 2/3.
// Accuracy 4/6; macro-F1 (0.8 + 0.5 + 2/3) / 3 = 59/90.
func TestEvaluateHandComputed(t *testing.T) {
	m := Evaluate(
		[]string{"a", "a", "a", "b", "b", "c"},
		[]string{"a", "a", "b", "b", "c", "c"},
	)
	if m.Examples != 6 {
		t.Errorf("examples %d, expected 6", m.Examples)
	}
	if !near(m.Accuracy, 4.0/6) {
		t.Errorf("accuracy %v, expected 4/6", m.Accuracy)
	}
	if !near(m.MacroF1, 59.0/90) {
		t.Errorf("macro-F1 %v, expected 59/90 = %v", m.MacroF1, 59.0/90)
	}

	expected := []LabelMetrics{
		{Label: "a", Precision: 1, Recall: 2.0 / 3, F1: 0.8, Support: 3},
		{Label: "b", Precision: 0.5, Recall: 0.5, F1: 0.5, Support: 2},
		{Label: "c", Precision: 0.5, Recall: 1, F1: 2.0 / 3, Support: 1},
	}
	if len(m.Labels) != len(expected) {
		t.Fatalf("got %d labels, expected %d: %+v", len(m.Labels), len(expected), m.Labels)
	}
	for i, e := range expected {
		g := m.Labels[i]
		if g.Label != e.Label || g.Support != e.Support || !near(g.Precision, e.Precision) || !near(g.Recall, e.Recall) || !near(g.F1, e.F1) {
			t.Errorf("label %d: got %+v, expected %+v", i, g, e)
		}
	}

	expectedPairs := []Confusion{{Gold: "a", Predicted: "b", Count: 1}, {Gold: "b", Predicted: "c", Count: 1}}
	if len(m.Confusions) != len(expectedPairs) {
		t.Fatalf("got confusions %+v, expected %+v", m.Confusions, expectedPairs)
	}
	for i, e := range expectedPairs {
		if m.Confusions[i] != e {
			t.Errorf("confusion %d: got %+v, expected %+v", i, m.Confusions[i], e)
		}
	}
}

// TestEvaluatePredictedOnlyLabel checks that a label that is only
// predicted counts in macro-F1 with F1 0 and support 0, and that
// confusions sort by count first.
//
//	gold:      a a a b
//	predicted: x x a b
//
// a: P 1, R 1/3, F1 0.5. b: P 1, R 1, F1 1. x: P 0, R 0, F1 0.
// Macro-F1 (0.5 + 1 + 0) / 3 = 0.5; accuracy 2/4.
func TestEvaluatePredictedOnlyLabel(t *testing.T) {
	m := Evaluate([]string{"a", "a", "a", "b"}, []string{"x", "x", "a", "b"})
	if !near(m.Accuracy, 0.5) {
		t.Errorf("accuracy %v, expected 0.5", m.Accuracy)
	}
	if !near(m.MacroF1, 0.5) {
		t.Errorf("macro-F1 %v, expected 0.5", m.MacroF1)
	}
	if len(m.Labels) != 3 || m.Labels[2].Label != "x" || m.Labels[2].Support != 0 || m.Labels[2].F1 != 0 {
		t.Errorf("labels %+v, expected x last with support 0 and F1 0", m.Labels)
	}
	if len(m.Confusions) != 1 || m.Confusions[0] != (Confusion{Gold: "a", Predicted: "x", Count: 2}) {
		t.Errorf("confusions %+v, expected a->x twice", m.Confusions)
	}
}

func TestEvaluateEmpty(t *testing.T) {
	m := Evaluate(nil, nil)
	if m.Examples != 0 || m.Accuracy != 0 || m.MacroF1 != 0 || len(m.Labels) != 0 {
		t.Errorf("got %+v, expected all zero", m)
	}
}
