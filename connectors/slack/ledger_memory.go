package slack

import (
	"context"
	"sort"
	"sync"
	"time"
)

// MemoryLedger is a Ledger kept in memory, for the embedded demo and tests.
// It is lost when the process exits, so it protects only against replays
// within one process. It is safe for concurrent use.
type MemoryLedger struct {
	mu      sync.Mutex // guards entries
	entries map[string]*Entry
	now     func() time.Time
}

// NewMemoryLedger returns an empty MemoryLedger.
func NewMemoryLedger() *MemoryLedger {
	return &MemoryLedger{entries: make(map[string]*Entry), now: time.Now}
}

// RecoverPending marks every pending entry unknown and returns them, sorted
// by EventID.
func (l *MemoryLedger) RecoverPending(ctx context.Context) ([]Entry, error) {
	l.mu.Lock()
	defer l.mu.Unlock()

	var out []Entry
	now := l.now()
	for _, e := range l.entries {
		if e.Status == StatusPending {
			e.Status = StatusUnknown
			e.UpdatedAt = now
			out = append(out, *e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].EventID < out[j].EventID })
	return out, nil
}

// Claim implements Ledger.Claim.
func (l *MemoryLedger) Claim(ctx context.Context, eventID, tenant string) (Claim, error) {
	l.mu.Lock()
	defer l.mu.Unlock()

	now := l.now()
	e, ok := l.entries[eventID]
	if !ok {
		l.entries[eventID] = &Entry{
			EventID: eventID, Tenant: tenant, Status: StatusPending, Attempts: 1,
			CreatedAt: now, UpdatedAt: now,
		}
		return Claim{Claimed: true}, nil
	}

	previous := e.Status
	if previous == StatusPending {
		e.Status = StatusUnknown
		e.UpdatedAt = now
	}
	return Claim{Previous: previous}, nil
}

// RecordAttempt implements Ledger.RecordAttempt.
func (l *MemoryLedger) RecordAttempt(ctx context.Context, eventID string, attempts int) error {
	l.update(eventID, func(e *Entry) {
		if e.Status == StatusPending {
			e.Attempts = attempts
		}
	})
	return nil
}

// MarkDelivered implements Ledger.MarkDelivered.
func (l *MemoryLedger) MarkDelivered(ctx context.Context, eventID string, attempts int) error {
	l.update(eventID, func(e *Entry) {
		if e.Status == StatusPending || e.Status == StatusUnknown {
			e.Status = StatusDelivered
			e.Attempts = attempts
			e.LastError = ""
		}
	})
	return nil
}

// MarkFailed implements Ledger.MarkFailed.
func (l *MemoryLedger) MarkFailed(ctx context.Context, eventID string, attempts int, reason string) error {
	l.update(eventID, func(e *Entry) {
		if e.Status == StatusPending || e.Status == StatusUnknown {
			e.Status = StatusFailed
			e.Attempts = attempts
			e.LastError = reason
		}
	})
	return nil
}

// Release implements Ledger.Release.
func (l *MemoryLedger) Release(ctx context.Context, eventID string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.entries[eventID]; ok && e.Status == StatusPending {
		delete(l.entries, eventID)
	}
	return nil
}

// Lookup implements Ledger.Lookup.
func (l *MemoryLedger) Lookup(ctx context.Context, eventID string) (Entry, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.entries[eventID]
	if !ok {
		return Entry{}, false, nil
	}
	return *e, true, nil
}

// Entries returns a copy of every entry, sorted by EventID.
func (l *MemoryLedger) Entries() []Entry {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Entry, 0, len(l.entries))
	for _, e := range l.entries {
		out = append(out, *e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].EventID < out[j].EventID })
	return out
}

// update runs fn on the entry of eventID, if any, and stamps it.
func (l *MemoryLedger) update(eventID string, fn func(*Entry)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.entries[eventID]; ok {
		fn(e)
		e.UpdatedAt = l.now()
	}
}
