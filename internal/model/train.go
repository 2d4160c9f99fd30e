package model

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// TrainConfig sets how the weights are fitted: softmax regression by
// stochastic gradient descent with AdaGrad step sizes and an L2 penalty.
type TrainConfig struct {
	// Epochs is the number of passes over the training texts. Default 15.
	Epochs int `json:"epochs"`
	// LearningRate is AdaGrad's base step size. Default 0.05.
	LearningRate float64 `json:"learningRate"`
	// L2 is the penalty on the squared weights, applied to the weights of
	// the features present in each example. Default 0: with AdaGrad's
	// shrinking steps, the small default rate and 15 epochs regularize
	// better than a penalty did on Banking77.
	L2 float64 `json:"l2"`
	// Seed makes the order of the examples, and so the model, repeatable.
	Seed uint64 `json:"seed"`
	// Date is the training date as YYYY-MM-DD; it starts the model version.
	// Required.
	Date string `json:"date"`
}

// DefaultTrainConfig returns the training settings that `mailtriage model
// train` uses unless flags change them, dated today in UTC.
func DefaultTrainConfig() TrainConfig {
	return TrainConfig{Epochs: 15, LearningRate: 0.05, L2: 0, Seed: 1, Date: time.Now().UTC().Format(time.DateOnly)}
}

// validate checks tc and names the first invalid setting.
func (tc TrainConfig) validate() error {
	switch {
	case tc.Epochs < 1 || tc.Epochs > 1000:
		return fmt.Errorf("invalid epoch count %d: use a value from 1 to 1000", tc.Epochs)
	case !(tc.LearningRate > 0) || tc.LearningRate > 100:
		return fmt.Errorf("invalid learning rate %v: use a positive value such as 0.05", tc.LearningRate)
	case !(tc.L2 >= 0) || tc.L2 >= 1:
		return fmt.Errorf("invalid L2 penalty %v: use a value from 0 to below 1, such as 1e-5", tc.L2)
	}
	if _, err := time.Parse(time.DateOnly, tc.Date); err != nil {
		return fmt.Errorf("invalid training date %q: use YYYY-MM-DD", tc.Date)
	}
	return nil
}

// adagradEpsilon keeps AdaGrad's first steps finite.
const adagradEpsilon = 1e-8

// Train fits a classifier to examples. The labels are the distinct
// example labels; there must be at least two. The same examples and
// configs give the same model, bit for bit.
func Train(examples []Example, fc FeatureConfig, tc TrainConfig) (*Classifier, error) {
	if err := fc.validate(); err != nil {
		return nil, err
	}
	if err := tc.validate(); err != nil {
		return nil, err
	}
	if len(examples) == 0 {
		return nil, errors.New("no training examples")
	}
	labels, y := labelIndex(examples)
	if len(labels) < 2 {
		return nil, fmt.Errorf("only one label (%q) in the training examples: a classifier needs at least two", labels[0])
	}

	xs, vocab := vectorizeAll(examples, fc)
	c := &Classifier{
		Labels:   labels,
		Features: fc,
		Training: tc,
		Examples: len(examples),
		vocab:    vocab,
		weights:  make([]float32, len(vocab.buckets)*len(labels)),
		bias:     make([]float32, len(labels)),
	}
	fit(c, xs, y)
	c.Version = tc.Date + "-" + c.contentHash()[:12]
	return c, nil
}

// labelIndex returns the sorted distinct labels and each example's index
// into them.
func labelIndex(examples []Example) ([]string, []int) {
	var labels []string
	for _, e := range examples {
		labels = append(labels, e.Label)
	}
	slices.Sort(labels)
	labels = slices.Compact(labels)

	y := make([]int, len(examples))
	for i, e := range examples {
		y[i], _ = slices.BinarySearch(labels, e.Label)
	}
	return labels, y
}

// vectorizeAll builds the vocabulary of the examples and their vectors.
func vectorizeAll(examples []Example, fc FeatureConfig) ([]sparseVector, *vocabulary) {
	all := make([][]uint32, len(examples))
	unique := make([][]uint32, len(examples))
	for i, e := range examples {
		all[i] = fc.appendBuckets(nil, textWords(e.Text))
		unique[i] = uniqueSorted(slices.Clone(all[i]))
	}
	vocab := newVocabulary(fc, unique)

	xs := make([]sparseVector, len(examples))
	for i := range all {
		vocab.vectorize(all[i], &xs[i])
	}
	return xs, vocab
}

// fit runs the AdaGrad epochs over xs with targets y, updating c's
// weights and bias in place.
func fit(c *Classifier, xs []sparseVector, y []int) {
	tc := c.Training
	k := len(c.Labels)
	weightSquares := make([]float32, len(c.weights))
	biasSquares := make([]float32, k)
	probs := make([]float64, k)
	grad := make([]float32, k)
	rate := float32(tc.LearningRate)
	l2 := float32(tc.L2)

	order := make([]int, len(xs))
	for i := range order {
		order[i] = i
	}
	rng := rand.New(rand.NewPCG(tc.Seed, 0x6d61696c74726961)) // second word: "mailtria"

	for range tc.Epochs {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, n := range order {
			x := &xs[n]
			c.scores(x, probs)
			softmax(probs)
			for j, p := range probs {
				grad[j] = float32(p)
			}
			grad[y[n]]--

			for j, g := range grad {
				biasSquares[j] += g * g
				c.bias[j] -= rate * g / (sqrt32(biasSquares[j]) + adagradEpsilon)
			}
			for i, row := range x.rows {
				v := x.vals[i]
				base := int(row) * k
				w := c.weights[base : base+k : base+k]
				sq := weightSquares[base : base+k : base+k]
				for j, g := range grad {
					gw := g*v + l2*w[j]
					sq[j] += gw * gw
					w[j] -= rate * gw / (sqrt32(sq[j]) + adagradEpsilon)
				}
			}
		}
	}
}

func sqrt32(x float32) float32 { return float32(math.Sqrt(float64(x))) }
