package importer

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// clock returns a Now function that advances by step on every call after
// the first.
func clock(step time.Duration) func() time.Time {
	now := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	first := true
	return func() time.Time {
		if !first {
			now = now.Add(step)
		}
		first = false
		return now
	}
}

func TestLineProgressEveryCount(t *testing.T) {
	var out bytes.Buffer
	p := &LineProgress{W: &out, Every: 5, Interval: time.Hour, Now: clock(100 * time.Millisecond)}
	p.Start(10)
	for i := 1; i <= 10; i++ {
		p.Update(i)
	}
	p.Finish(10)

	// Update i runs at i×100ms, so 5 messages took 0.5s (10/s) and the
	// other 5 take another 0.5s. Finish runs at 1.1s, shown in whole seconds.
	want := []string{
		"imported 5/10 (10/s, ETA 500ms)",
		"imported 10/10 (10/s, ETA 0s)",
		"imported 10/10 (9/s, in 1s)",
	}
	got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("lines:\n%s\nexpected:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestLineProgressEveryInterval(t *testing.T) {
	var out bytes.Buffer
	p := &LineProgress{W: &out, Every: 1000, Interval: 5 * time.Second, Now: clock(2 * time.Second)}
	p.Start(100)
	for i := 1; i <= 5; i++ {
		p.Update(i)
	}

	// Updates run at 2s, 4s, 6s, 8s and 10s. A line is due 5s after the
	// previous one, which is at 6s and then at 12s or later.
	want := "imported 3/100 (0/s, ETA 3m14s)\n"
	if out.String() != want {
		t.Errorf("output %q, expected %q", out.String(), want)
	}
}
