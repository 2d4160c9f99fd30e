package ingress

import (
	"testing"
	"time"
)

func TestTimestampsIncreaseWithinOneMillisecond(t *testing.T) {
	var ts Timestamps
	base := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)

	got := []time.Time{
		ts.Next(base.Add(100 * time.Microsecond)),
		ts.Next(base.Add(200 * time.Microsecond)),
		ts.Next(base.Add(300 * time.Microsecond)),
		ts.Next(base.Add(10 * time.Millisecond)), // the clock passed the stamps
		ts.Next(base.Add(5 * time.Millisecond)),  // the clock went back
	}
	want := []time.Time{
		base,
		base.Add(1 * time.Millisecond),
		base.Add(2 * time.Millisecond),
		base.Add(10 * time.Millisecond),
		base.Add(11 * time.Millisecond),
	}
	for i := range want {
		if !got[i].Equal(want[i]) {
			t.Errorf("timestamp %d = %s, expected %s", i, got[i].Format(time.RFC3339Nano), want[i].Format(time.RFC3339Nano))
		}
	}
}
