package benchparse

import (
	"fmt"
	"slices"
	"time"
)

// Limits decide how many timed passes over the pack a runner makes. One
// untimed warm-up pass comes first. After each timed pass the runner stops
// when MaxPasses passes are done, or when MinPasses are done and they took
// MinTime in total, or when they took MaxTime in total, whichever comes
// first. The Python and Node runners in scripts/bench apply the same rule
// to the same flags.
type Limits struct {
	MinPasses int           // at least 1
	MaxPasses int           // at least MinPasses
	MinTime   time.Duration // total timed passes before stopping early
	MaxTime   time.Duration // hard cap on the total of the timed passes
}

// Validate returns an error naming the first limit that is out of range.
func (l Limits) Validate() error {
	switch {
	case l.MinPasses < 1:
		return fmt.Errorf("minimum passes is %d; it must be at least 1", l.MinPasses)
	case l.MaxPasses < l.MinPasses:
		return fmt.Errorf("maximum passes is %d, below the minimum of %d; raise it", l.MaxPasses, l.MinPasses)
	case l.MinTime < 0:
		return fmt.Errorf("minimum time is %v; it must not be negative", l.MinTime)
	case l.MaxTime < l.MinTime:
		return fmt.Errorf("time cap is %v, below the minimum time of %v; raise it", l.MaxTime, l.MinTime)
	}
	return nil
}

// done reports whether the rule of Limits stops after passes timed passes
// that took elapsed in total.
func (l Limits) done(passes int, elapsed time.Duration) bool {
	return passes >= l.MaxPasses ||
		(passes >= l.MinPasses && elapsed >= l.MinTime) ||
		elapsed >= l.MaxTime
}

// Result is the outcome of one runner, printed as one JSON object. The
// Python and Node runners print the same fields.
type Result struct {
	Parser  string `json:"parser"`
	Version string `json:"version"`
	Runtime string `json:"runtime"`
	Work    string `json:"work"`
	// Pack is the Selection of the pack the runner parsed.
	Pack     string `json:"pack"`
	Messages int    `json:"messages"`
	Bytes    int64  `json:"bytes"`
	// Failed counts the messages of one pass whose parse returned an error;
	// their time is part of the pass.
	Failed            int       `json:"failed"`
	WarmupSeconds     float64   `json:"warmupSeconds"`
	PassSeconds       []float64 `json:"passSeconds"`
	MedianSeconds     float64   `json:"medianSeconds"`
	MBPerSecond       float64   `json:"mbPerSecond"`
	MessagesPerSecond float64   `json:"messagesPerSecond"`
}

// ParseFunc parses one raw message. Its error counts the message as failed
// and does not stop the pass.
type ParseFunc func(raw []byte) error

// Measure parses every message of pack once untimed and then in timed
// passes by the rule of limits. It fills the counts and timings of the
// returned Result; the caller names the parser.
func Measure(pack *Pack, limits Limits, parse ParseFunc) (Result, error) {
	if err := limits.Validate(); err != nil {
		return Result{}, err
	}
	res := Result{Pack: pack.Selection, Messages: len(pack.Raw), Bytes: pack.Bytes}

	warmup, failed := runPass(pack, parse)
	res.WarmupSeconds = warmup.Seconds()
	res.Failed = failed

	var elapsed time.Duration
	for passes := 0; !limits.done(passes, elapsed); passes++ {
		took, _ := runPass(pack, parse)
		elapsed += took
		res.PassSeconds = append(res.PassSeconds, took.Seconds())
	}

	res.MedianSeconds = Median(res.PassSeconds)
	if res.MedianSeconds > 0 {
		res.MBPerSecond = float64(res.Bytes) / 1e6 / res.MedianSeconds
		res.MessagesPerSecond = float64(res.Messages) / res.MedianSeconds
	}
	return res, nil
}

// runPass parses every message once and returns the wall time and the
// number of errors.
func runPass(pack *Pack, parse ParseFunc) (time.Duration, int) {
	failed := 0
	start := time.Now()
	for _, raw := range pack.Raw {
		if parse(raw) != nil {
			failed++
		}
	}
	return time.Since(start), failed
}

// Median returns the median of values, the mean of the middle two for an
// even count, or 0 for none.
func Median(values []float64) float64 {
	if len(values) == 0 {
		return 0
	}
	sorted := slices.Clone(values)
	slices.Sort(sorted)
	mid := len(sorted) / 2
	if len(sorted)%2 == 1 {
		return sorted[mid]
	}
	return (sorted[mid-1] + sorted[mid]) / 2
}
