package webhook

import (
	"container/list"
	"crypto/sha256"
	"sync"
	"time"
)

// outcome is the response to an accepted request, kept so that a retry
// gets the same response.
type outcome struct {
	status string // statusAccepted or statusDeadLettered
	key    string // the record key
}

// ledger remembers the requests that were accepted, and the ones in flight,
// under three kinds of key: the signature, the body digest and the record
// key. It is bounded in count and time and safe for concurrent use.
//
// NOTE: the ledger lives in one process. With several gateway instances a
// retry that reaches another instance is published again, and the dedupe
// processor drops the copy by message ID downstream.
type ledger struct {
	mu      sync.Mutex
	entries map[ledgerID]*list.Element // of *ledgerEntry
	order   *list.List                 // oldest first; in-flight entries are never evicted
	max     int
	now     func() time.Time
}

// ledgerID is the SHA-256 of a key, so that every entry has the same size
// however long a message ID is.
type ledgerID [sha256.Size]byte

type ledgerEntry struct {
	id      ledgerID
	done    chan struct{} // closed when the claim is accepted or released
	result  *outcome      // nil while in flight
	expires time.Time     // zero while in flight
}

func newLedger(max int, now func() time.Time) *ledger {
	return &ledger{entries: make(map[ledgerID]*list.Element), order: list.New(), max: max, now: now}
}

// Key kinds. Each is a prefix, so that a body digest never matches a
// message ID.
func signatureID(tenant string, signature []byte) ledgerID {
	return hashID("sig", tenant, string(signature))
}

func bodyID(tenant string, body []byte) ledgerID {
	sum := sha256.Sum256(body)
	return hashID("body", tenant, string(sum[:]))
}

func recordID(key string) ledgerID { return hashID("record", key) }

func hashID(parts ...string) ledgerID {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	var id ledgerID
	h.Sum(id[:0])
	return id
}

// claim is an in-flight entry owned by one request.
type claim struct {
	ledger *ledger
	entry  *ledgerEntry
}

// acquire looks id up, and exactly one of its three results is non-nil.
// When id was accepted and has not expired, it returns the earlier
// outcome. When another request holds id, it returns that request's done
// channel. Otherwise it returns a new claim on id for the caller.
func (l *ledger) acquire(id ledgerID) (*claim, *outcome, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()

	now := l.now()
	if el, ok := l.entries[id]; ok {
		e := el.Value.(*ledgerEntry)
		switch {
		case e.result == nil:
			return nil, nil, e.done
		case now.Before(e.expires):
			return nil, e.result, nil
		}
		l.remove(el)
	}

	l.evict(now)
	e := &ledgerEntry{id: id, done: make(chan struct{})}
	l.entries[id] = l.order.PushBack(e)
	return &claim{ledger: l, entry: e}, nil, nil
}

// accept records result for the claimed key until ttl has passed and wakes
// the requests waiting for it.
func (c *claim) accept(result outcome, ttl time.Duration) {
	if c == nil {
		return
	}
	l := c.ledger
	l.mu.Lock()
	defer l.mu.Unlock()

	c.entry.result = &result
	c.entry.expires = l.now().Add(ttl)
	if el, ok := l.entries[c.entry.id]; ok && el.Value == c.entry {
		l.order.MoveToBack(el)
	}
	close(c.entry.done)
}

// release removes the claimed key, so that the next request with it is
// processed again, and wakes the requests waiting for it.
func (c *claim) release() {
	if c == nil {
		return
	}
	l := c.ledger
	l.mu.Lock()
	defer l.mu.Unlock()

	if el, ok := l.entries[c.entry.id]; ok && el.Value == c.entry {
		l.remove(el)
	}
	close(c.entry.done)
}

// evict drops expired entries from the front of the order and, while the
// ledger is full, the oldest accepted ones. Entries are ordered by the
// time they were accepted, and their TTLs differ by kind, so an expired
// entry behind a live one stays until it reaches the front or is looked up.
func (l *ledger) evict(now time.Time) {
	for el := l.order.Front(); el != nil; {
		e := el.Value.(*ledgerEntry)
		next := el.Next()
		switch {
		case e.result == nil:
			// In flight: bounded by the number of running requests.
		case !now.Before(e.expires) || l.order.Len() >= l.max:
			l.remove(el)
		default:
			return
		}
		el = next
	}
}

func (l *ledger) remove(el *list.Element) {
	delete(l.entries, el.Value.(*ledgerEntry).id)
	l.order.Remove(el)
}

// len returns the number of entries, for tests.
func (l *ledger) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.order.Len()
}
