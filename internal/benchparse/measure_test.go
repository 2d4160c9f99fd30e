package benchparse

import (
	"errors"
	"testing"
	"time"
)

func TestLimitsDone(t *testing.T) {
	limits := Limits{MinPasses: 3, MaxPasses: 5, MinTime: 3 * time.Second, MaxTime: 60 * time.Second}
	cases := []struct {
		name    string
		passes  int
		elapsed time.Duration
		exp     bool
	}{
		{"no pass yet", 0, 0, false},
		{"time reached below min passes", 2, 10 * time.Second, false},
		{"min passes and min time", 3, 3 * time.Second, true},
		{"min passes below min time", 4, 2 * time.Second, false},
		{"max passes below min time", 5, time.Second, true},
		{"cap below min passes", 1, 60 * time.Second, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := limits.done(c.passes, c.elapsed); got != c.exp {
				t.Errorf("done(%d, %v) = %v, expected %v", c.passes, c.elapsed, got, c.exp)
			}
		})
	}
}

func TestLimitsValidate(t *testing.T) {
	valid := Limits{MinPasses: 1, MaxPasses: 1, MinTime: 0, MaxTime: time.Second}
	if err := valid.Validate(); err != nil {
		t.Errorf("Validate(%+v) = %v, expected nil", valid, err)
	}
	invalid := []Limits{
		{MinPasses: 0, MaxPasses: 1, MaxTime: time.Second},
		{MinPasses: 3, MaxPasses: 2, MaxTime: time.Second},
		{MinPasses: 1, MaxPasses: 1, MinTime: -time.Second, MaxTime: time.Second},
		{MinPasses: 1, MaxPasses: 1, MinTime: 2 * time.Second, MaxTime: time.Second},
	}
	for _, l := range invalid {
		if err := l.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil, expected an error", l)
		}
	}
}

func TestMedian(t *testing.T) {
	cases := []struct {
		values []float64
		exp    float64
	}{
		{nil, 0},
		{[]float64{4}, 4},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
	}
	for _, c := range cases {
		if got := Median(c.values); got != c.exp {
			t.Errorf("Median(%v) = %v, expected %v", c.values, got, c.exp)
		}
	}
}

func TestMeasureCountsPassesAndFailures(t *testing.T) {
	pack := &Pack{
		Index: Index{Selection: "test", Bytes: 6},
		Raw:   [][]byte{[]byte("ab"), []byte("bad"), []byte("c")},
	}
	calls := 0
	parse := func(raw []byte) error {
		calls++
		if string(raw) == "bad" {
			return errors.New("not mail")
		}
		return nil
	}

	res, err := Measure(pack, Limits{MinPasses: 2, MaxPasses: 2, MaxTime: time.Minute}, parse)
	if err != nil {
		t.Fatalf("Measure: %v", err)
	}
	if got, exp := len(res.PassSeconds), 2; got != exp {
		t.Errorf("timed passes = %d, expected %d", got, exp)
	}
	if got, exp := calls, 9; got != exp {
		t.Errorf("parse calls = %d, expected %d (one warm-up and two timed passes of 3 messages)", got, exp)
	}
	if got, exp := res.Failed, 1; got != exp {
		t.Errorf("Failed = %d, expected %d", got, exp)
	}
	if res.Messages != 3 || res.Bytes != 6 || res.Pack != "test" {
		t.Errorf("Messages, Bytes, Pack = %d, %d, %q, expected 3, 6, \"test\"", res.Messages, res.Bytes, res.Pack)
	}
	if res.MedianSeconds <= 0 {
		t.Fatalf("MedianSeconds = %v, expected a positive time", res.MedianSeconds)
	}
	if got, exp := res.MessagesPerSecond, 3/res.MedianSeconds; got != exp {
		t.Errorf("MessagesPerSecond = %v, expected %v", got, exp)
	}
}

func TestMeasureRejectsInvalidLimits(t *testing.T) {
	_, err := Measure(&Pack{}, Limits{}, func([]byte) error { return nil })
	if err == nil {
		t.Fatal("Measure with zero Limits returned no error, expected one naming the minimum passes")
	}
}

func TestRunUnknownParser(t *testing.T) {
	_, err := Run("nosuch", &Pack{}, Limits{MinPasses: 1, MaxPasses: 1, MaxTime: time.Second})
	if err == nil {
		t.Fatal("Run(nosuch) returned no error, expected one listing the parsers")
	}
}

func TestRunMailtriageParser(t *testing.T) {
	raw := []byte("From: a@example.org\r\nTo: b@example.org\r\nSubject: hi\r\nMessage-ID: <1@example.org>\r\n\r\nHello\r\n")
	pack := &Pack{Index: Index{Bytes: int64(len(raw) + 1)}, Raw: [][]byte{raw, []byte(" ")}}
	res, err := Run("mailtriage", pack, Limits{MinPasses: 1, MaxPasses: 1, MaxTime: time.Minute})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got, exp := res.Failed, 1; got != exp {
		t.Errorf("Failed = %d, expected %d (the blank input is not mail)", got, exp)
	}
	if res.Parser != "mailtriage" || res.Work == "" || res.Runtime == "" {
		t.Errorf("Parser, Work, Runtime = %q, %q, %q, expected mailtriage and non-empty texts", res.Parser, res.Work, res.Runtime)
	}
}
