package model

import (
	"fmt"
	"slices"
	"testing"
)

func TestSplitStratified(t *testing.T) {
	var examples []Example
	for i := range 100 {
		examples = append(examples, Example{Text: fmt.Sprint("a", i), Label: "a"})
	}
	for i := range 30 {
		examples = append(examples, Example{Text: fmt.Sprint("b", i), Label: "b"})
	}
	examples = append(examples, Example{Text: "c0", Label: "c"})

	train, holdout, err := Split(examples, 0.1, 7)
	if err != nil {
		t.Fatal(err)
	}
	count := func(xs []Example, label string) int {
		n := 0
		for _, x := range xs {
			if x.Label == label {
				n++
			}
		}
		return n
	}
	for _, c := range []struct {
		label         string
		train, holout int
	}{{"a", 90, 10}, {"b", 27, 3}, {"c", 1, 0}} {
		if got := count(train, c.label); got != c.train {
			t.Errorf("label %s: %d training rows, expected %d", c.label, got, c.train)
		}
		if got := count(holdout, c.label); got != c.holout {
			t.Errorf("label %s: %d held-out rows, expected %d", c.label, got, c.holout)
		}
	}

	again, againHoldout, _ := Split(examples, 0.1, 7)
	if !slices.Equal(train, again) || !slices.Equal(holdout, againHoldout) {
		t.Error("the same seed gave a different split")
	}
	_, otherHoldout, _ := Split(examples, 0.1, 8)
	if slices.Equal(holdout, otherHoldout) {
		t.Error("seeds 7 and 8 gave the same held-out rows")
	}
}

func TestSplitFraction(t *testing.T) {
	examples := tinyExamples(5)
	train, holdout, err := Split(examples, 0, 1)
	if err != nil || len(train) != len(examples) || holdout != nil {
		t.Errorf("fraction 0: got %d and %d rows and %v, expected all in training", len(train), len(holdout), err)
	}
	for _, bad := range []float64{-0.1, 1, 1.5} {
		if _, _, err := Split(examples, bad, 1); err == nil {
			t.Errorf("fraction %v: got no error", bad)
		}
	}
}
