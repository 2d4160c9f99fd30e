package webhook

import (
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock that the test moves by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestLedgerAcceptedEntryExpires(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	l := newLedger(10, clock.Now)
	id := recordID("acme/m1")

	c, _, _ := l.acquire(id)
	c.accept(outcome{status: statusAccepted, key: "acme/m1"}, time.Minute)

	clock.Add(59 * time.Second)
	if _, prev, _ := l.acquire(id); prev == nil || prev.key != "acme/m1" {
		t.Fatalf("after 59s: outcome %+v, want the accepted key acme/m1", prev)
	}
	clock.Add(time.Second)
	if c, prev, _ := l.acquire(id); c == nil || prev != nil {
		t.Fatalf("after 60s: claim %v outcome %+v, want a new claim", c, prev)
	}
}

func TestLedgerReleaseWakesWaiters(t *testing.T) {
	l := newLedger(10, time.Now)
	id := bodyID("acme", []byte("body"))

	first, _, _ := l.acquire(id)
	_, _, busy := l.acquire(id)
	if busy == nil {
		t.Fatal("a second acquire of an in-flight key returned no done channel")
	}
	first.release()
	select {
	case <-busy:
	default:
		t.Fatal("release did not close the done channel")
	}
	if c, _, _ := l.acquire(id); c == nil {
		t.Fatal("after release the key could not be claimed again")
	}
}

func TestLedgerIsBounded(t *testing.T) {
	l := newLedger(100, time.Now)
	for i := range 1000 {
		c, _, _ := l.acquire(recordID(string(rune(i)) + "key"))
		c.accept(outcome{status: statusAccepted}, time.Hour)
	}
	if n := l.len(); n > 100 {
		t.Errorf("ledger holds %d entries, want at most 100", n)
	}
	// The newest key survives, the oldest is gone.
	if _, prev, _ := l.acquire(recordID(string(rune(999)) + "key")); prev == nil {
		t.Error("the newest key was evicted")
	}
	if c, _, _ := l.acquire(recordID(string(rune(0)) + "key")); c == nil {
		t.Error("the oldest key is still present")
	}
}

func TestLedgerKeepsInFlightEntriesWhenFull(t *testing.T) {
	l := newLedger(2, time.Now)
	inFlight, _, _ := l.acquire(recordID("in-flight"))
	for _, key := range []string{"a", "b", "c"} {
		c, _, _ := l.acquire(recordID(key))
		c.accept(outcome{status: statusAccepted}, time.Hour)
	}
	if _, _, busy := l.acquire(recordID("in-flight")); busy == nil {
		t.Fatal("an in-flight entry was evicted")
	}
	inFlight.release()
}
