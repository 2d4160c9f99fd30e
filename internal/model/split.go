package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Split divides examples into a training part and a held-out part of
// about fraction of each label's rows, chosen at random from seed. A label
// with a single row stays in training. Both parts keep the input order,
// and the same input, fraction and seed give the same split.
func Split(examples []Example, fraction float64, seed uint64) (train, holdout []Example, err error) {
	if !(fraction >= 0 && fraction < 1) {
		return nil, nil, fmt.Errorf("invalid validation fraction %v: use a value from 0 to below 1, such as 0.1", fraction)
	}
	if fraction == 0 {
		return examples, nil, nil
	}

	byLabel := map[string][]int{}
	for i, e := range examples {
		byLabel[e.Label] = append(byLabel[e.Label], i)
	}
	labels := make([]string, 0, len(byLabel))
	for l := range byLabel {
		labels = append(labels, l)
	}
	slices.Sort(labels)

	rng := rand.New(rand.NewPCG(seed, 0x73706c6974)) // second word: "split"
	inHoldout := make([]bool, len(examples))
	for _, l := range labels {
		rows := byLabel[l]
		n := int(math.Round(fraction * float64(len(rows))))
		n = min(max(n, 1), len(rows)-1)
		rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
		for _, i := range rows[:n] {
			inHoldout[i] = true
		}
	}

	for i, e := range examples {
		if inHoldout[i] {
			holdout = append(holdout, e)
		} else {
			train = append(train, e)
		}
	}
	return train, holdout, nil
}
