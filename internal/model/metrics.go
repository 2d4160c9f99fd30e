package model

import (
	"cmp"
	"slices"
)

// Metrics is the evaluation of predictions against gold labels.
type Metrics struct {
	Examples int     `json:"examples"`
	Accuracy float64 `json:"accuracy"`
	// MacroF1 is the unweighted mean F1 over the labels that occur in the
	// gold labels or the predictions.
	MacroF1 float64 `json:"macroF1"`
	// Labels holds one entry per label in the gold labels or predictions,
	// sorted by label.
	Labels []LabelMetrics `json:"labels"`
	// Confusions lists the gold→predicted pairs of the errors, most
	// frequent first, then by gold and predicted label.
	Confusions []Confusion `json:"confusions"`
}

// LabelMetrics is the precision, recall and F1 of one label. A ratio whose
// denominator is 0 is 0.
type LabelMetrics struct {
	Label     string  `json:"label"`
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
	// Support is the number of examples whose gold label this is.
	Support int `json:"support"`
}

// Confusion is a count of examples of label Gold predicted as Predicted.
type Confusion struct {
	Gold      string `json:"gold"`
	Predicted string `json:"predicted"`
	Count     int    `json:"count"`
}

// Evaluate compares predicted labels with gold labels, pairwise. The two
// slices must have the same length.
func Evaluate(gold, predicted []string) Metrics {
	type counts struct{ truePositive, goldCount, predictedCount int }
	perLabel := map[string]*counts{}
	get := func(l string) *counts {
		if perLabel[l] == nil {
			perLabel[l] = &counts{}
		}
		return perLabel[l]
	}
	pairs := map[[2]string]int{}

	m := Metrics{Examples: len(gold)}
	correct := 0
	for i, g := range gold {
		p := predicted[i]
		get(g).goldCount++
		get(p).predictedCount++
		if g == p {
			get(g).truePositive++
			correct++
		} else {
			pairs[[2]string{g, p}]++
		}
	}
	if len(gold) == 0 {
		return m
	}
	m.Accuracy = float64(correct) / float64(len(gold))

	for l, c := range perLabel {
		lm := LabelMetrics{Label: l, Support: c.goldCount}
		lm.Precision = ratio(c.truePositive, c.predictedCount)
		lm.Recall = ratio(c.truePositive, c.goldCount)
		if lm.Precision+lm.Recall > 0 {
			lm.F1 = 2 * lm.Precision * lm.Recall / (lm.Precision + lm.Recall)
		}
		m.Labels = append(m.Labels, lm)
		m.MacroF1 += lm.F1
	}
	m.MacroF1 /= float64(len(m.Labels))
	slices.SortFunc(m.Labels, func(a, b LabelMetrics) int { return cmp.Compare(a.Label, b.Label) })

	for pair, n := range pairs {
		m.Confusions = append(m.Confusions, Confusion{Gold: pair[0], Predicted: pair[1], Count: n})
	}
	slices.SortFunc(m.Confusions, func(a, b Confusion) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Gold, b.Gold), cmp.Compare(a.Predicted, b.Predicted))
	})
	return m
}

func ratio(n, d int) float64 {
	if d == 0 {
		return 0
	}
	return float64(n) / float64(d)
}

// PredictLabels returns c's most probable label for each example.
func (c *Classifier) PredictLabels(examples []Example) []string {
	out := make([]string, len(examples))
	for i, e := range examples {
		out[i] = c.Top(e.Text, 1)[0].Label
	}
	return out
}

// EvaluateExamples predicts every example with c and compares the
// predictions with the examples' labels.
func (c *Classifier) EvaluateExamples(examples []Example) Metrics {
	gold := make([]string, len(examples))
	for i, e := range examples {
		gold[i] = e.Label
	}
	return Evaluate(gold, c.PredictLabels(examples))
}
