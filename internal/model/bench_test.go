package model

import (
	"sync"
	"testing"
)

// BenchmarkTrainBanking77 trains on the 90% training part of Banking77's
// train.csv and reports the held-out accuracy and macro-F1 beside the
// time. Run it once per measurement: -benchtime=1x.
func BenchmarkTrainBanking77(b *testing.B) {
	train, holdout := readBanking77(b)
	fc, tc := banking77Config()
	b.ResetTimer()
	var c *Classifier
	for range b.N {
		var err error
		if c, err = Train(train, fc, tc); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	m := c.EvaluateExamples(holdout)
	b.ReportMetric(m.Accuracy, "accuracy")
	b.ReportMetric(m.MacroF1, "macro-F1")
	b.ReportMetric(float64(len(c.vocab.buckets)), "features")
}

// banking77Model caches the model that BenchmarkPredictBanking77 uses, so
// that the benchmark's repeated runs train it once.
var banking77Model struct {
	once    sync.Once
	c       *Classifier
	holdout []Example
	err     error
}

// BenchmarkPredictBanking77 measures the top three labels of one
// held-out Banking77 message: normalization, features and scores of the
// 77 labels.
func BenchmarkPredictBanking77(b *testing.B) {
	train, holdout := readBanking77(b)
	banking77Model.once.Do(func() {
		fc, tc := banking77Config()
		banking77Model.c, banking77Model.err = Train(train, fc, tc)
		banking77Model.holdout = holdout
	})
	if banking77Model.err != nil {
		b.Fatal(banking77Model.err)
	}
	c, texts := banking77Model.c, banking77Model.holdout
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if top := c.Top(texts[i%len(texts)].Text, 3); len(top) != 3 {
			b.Fatalf("got %d labels, expected 3", len(top))
		}
	}
}
