// Package model is mailtriage's intent classifier: a linear model over
// hashed word and character n-grams, trained as multinomial logistic
// regression. It holds feature extraction, training, prediction, the model
// file format, the CSV and JSONL readers of labeled data and the
// evaluation metrics. It is pure Go and needs no GPU.
package model

import (
	"math"
	"slices"
	"sync"
)

// Classifier is a trained model. Its methods are safe for concurrent use.
type Classifier struct {
	// Version names this model in decisions: the training date and the
	// first 12 hex digits of the SHA-256 of its contents, as in
	// "2025-03-01-3fa2c9d1e0b4".
	Version string
	// Labels are the classes, sorted. Probabilities follow this order.
	Labels []string
	// Features and Training are the settings the model was trained with.
	Features FeatureConfig
	Training TrainConfig
	// Examples is the number of texts the model was trained on.
	Examples int

	vocab   *vocabulary
	weights []float32 // row-major: the weights of row r are weights[r*K : (r+1)*K]
	bias    []float32 // one per label

	scratch sync.Pool // *predictScratch
}

// predictScratch holds the buffers of one prediction.
type predictScratch struct {
	buckets []uint32
	vec     sparseVector
}

// LabelProbability is one label with its predicted probability.
type LabelProbability struct {
	Label       string
	Probability float64
}

// Predict returns the probability of every label for text, in the order of
// c.Labels. The probabilities sum to 1.
func (c *Classifier) Predict(text string) []float64 {
	s, _ := c.scratch.Get().(*predictScratch)
	if s == nil {
		s = &predictScratch{}
	}
	defer c.scratch.Put(s)

	s.buckets = c.Features.appendBuckets(s.buckets[:0], textWords(text))
	c.vocab.vectorize(s.buckets, &s.vec)
	probs := make([]float64, len(c.Labels))
	c.scores(&s.vec, probs)
	softmax(probs)
	return probs
}

// Top returns the n most probable labels for text, most probable first.
// Ties keep the order of c.Labels.
func (c *Classifier) Top(text string, n int) []LabelProbability {
	return topLabels(c.Labels, c.Predict(text), n)
}

// topLabels returns the n labels with the highest probabilities.
func topLabels(labels []string, probs []float64, n int) []LabelProbability {
	all := make([]LabelProbability, len(labels))
	for i, l := range labels {
		all[i] = LabelProbability{Label: l, Probability: probs[i]}
	}
	slices.SortStableFunc(all, func(a, b LabelProbability) int {
		switch {
		case a.Probability > b.Probability:
			return -1
		case a.Probability < b.Probability:
			return 1
		}
		return 0
	})
	return all[:min(n, len(all))]
}

// scores writes the linear score of every label for x into out.
func (c *Classifier) scores(x *sparseVector, out []float64) {
	k := len(c.Labels)
	for j := range out {
		out[j] = float64(c.bias[j])
	}
	for i, row := range x.rows {
		v := float64(x.vals[i])
		w := c.weights[int(row)*k : int(row+1)*k]
		for j := range out {
			out[j] += v * float64(w[j])
		}
	}
}

// softmax turns scores into probabilities in place.
func softmax(scores []float64) {
	top := math.Inf(-1)
	for _, s := range scores {
		top = max(top, s)
	}
	var sum float64
	for i, s := range scores {
		scores[i] = math.Exp(s - top)
		sum += scores[i]
	}
	for i := range scores {
		scores[i] /= sum
	}
}
