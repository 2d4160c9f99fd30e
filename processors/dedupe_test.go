package processors

import (
	"context"
	"strings"
	"testing"
	"time"

	"mailtriage/internal/state"
	"mailtriage/schemas"
)

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func inboundAt(tenant, id, text string, offset int64, store state.Store) *Message {
	return &Message{
		Email:    schemas.InboundEmail{Tenant: tenant, MessageID: id, Text: text, HTML: "<p>" + text + "</p>"},
		Position: Position{Topic: "mailtriage.inbound.v1", Partition: 3, Offset: offset},
		State:    store,
	}
}

func TestDedupe(t *testing.T) {
	type step struct {
		msg     *Message
		after   time.Duration // time since t0 when this message arrives
		wantDup bool
	}
	tests := []struct {
		name  string
		ttl   time.Duration
		steps func(s state.Store) []step
	}{
		{"new message continues", 0, func(s state.Store) []step {
			return []step{{inboundAt("a", "m1", "hello", 10, s), 0, false}}
		}},
		{"copy at another offset is duplicate", 0, func(s state.Store) []step {
			return []step{
				{inboundAt("a", "m1", "hello", 10, s), 0, false},
				{inboundAt("a", "m1", "hello", 11, s), time.Hour, true},
			}
		}},
		{"replay at same position continues", 0, func(s state.Store) []step {
			return []step{
				{inboundAt("a", "m1", "hello", 10, s), 0, false},
				{inboundAt("a", "m1", "hello", 10, s), time.Hour, false},
				{inboundAt("a", "m1", "hello", 11, s), 2 * time.Hour, true},
			}
		}},
		{"copy after default TTL is new", 0, func(s state.Store) []step {
			return []step{
				{inboundAt("a", "m1", "hello", 10, s), 0, false},
				{inboundAt("a", "m1", "hello", 11, s), 7*24*time.Hour - time.Second, true},
				{inboundAt("a", "m1", "hello", 12, s), 7 * 24 * time.Hour, false},
				// The expired entry was overwritten by offset 12.
				{inboundAt("a", "m1", "hello", 13, s), 7*24*time.Hour + time.Minute, true},
			}
		}},
		{"custom TTL", time.Hour, func(s state.Store) []step {
			return []step{
				{inboundAt("a", "m1", "hello", 10, s), 0, false},
				{inboundAt("a", "m1", "hello", 11, s), time.Hour, false},
			}
		}},
		{"tenants are separate", 0, func(s state.Store) []step {
			return []step{
				{inboundAt("a", "m1", "hello", 10, s), 0, false},
				{inboundAt("b", "m1", "hello", 11, s), 0, false},
			}
		}},
		{"different body is new", 0, func(s state.Store) []step {
			return []step{
				{inboundAt("a", "m1", "hello", 10, s), 0, false},
				{inboundAt("a", "m1", "goodbye", 11, s), 0, false},
			}
		}},
		{"different message id is new", 0, func(s state.Store) []step {
			return []step{
				{inboundAt("a", "m1", "hello", 10, s), 0, false},
				{inboundAt("a", "m2", "hello", 11, s), 0, false},
			}
		}},
		{"re-encoded body is duplicate", 0, func(s state.Store) []step {
			return []step{
				{inboundAt("a", "m1", "Hello there,\r\nWe  need help.\r\n", 10, s), 0, false},
				{inboundAt("a", "m1", "hello there, we need\nhelp.", 11, s), 0, true},
			}
		}},
		{"no position is never a replay", 0, func(s state.Store) []step {
			first := inboundAt("a", "m1", "hello", 0, s)
			second := inboundAt("a", "m1", "hello", 0, s)
			first.Position, second.Position = Position{}, Position{}
			return []step{{first, 0, false}, {second, 0, true}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := t0
			d, err := NewDedupe(DedupeConfig{TTL: tt.ttl, Now: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			store := state.NewMemory()
			for i, s := range tt.steps(store) {
				now = t0.Add(s.after)
				res, err := d.Process(context.Background(), s.msg)
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if s.msg.Duplicate != s.wantDup {
					t.Errorf("step %d: Duplicate = %v, want %v", i, s.msg.Duplicate, s.wantDup)
				}
				wantRes := Continue
				if s.wantDup {
					wantRes = Stop
				}
				if res != wantRes {
					t.Errorf("step %d: result = %v, want %v", i, res, wantRes)
				}
				if len(s.msg.Fingerprint) != 64 {
					t.Errorf("step %d: Fingerprint = %q, want 64 hex digits", i, s.msg.Fingerprint)
				}
			}
		})
	}
}

func TestDedupeStoresEntryUnderTenantKey(t *testing.T) {
	d, err := NewDedupe(DedupeConfig{Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	store := state.NewMemory()
	m := inboundAt("acme", "m1", "hello", 42, store)
	if _, err := d.Process(context.Background(), m); err != nil {
		t.Fatal(err)
	}

	key := "dedupe/acme/" + m.Fingerprint
	raw, ok := store.Get(key)
	if !ok {
		t.Fatalf("no entry under %q", key)
	}
	entry, err := decodeDedupeEntry(raw)
	if err != nil {
		t.Fatal(err)
	}
	if !entry.FirstSeen.Equal(t0) {
		t.Errorf("FirstSeen = %v, want %v", entry.FirstSeen, t0)
	}
	if entry.Position != m.Position {
		t.Errorf("Position = %+v, want %+v", entry.Position, m.Position)
	}
	if store.Len() != 1 {
		t.Errorf("store has %d keys, want 1", store.Len())
	}
}

func TestDedupeDuplicateDetail(t *testing.T) {
	d, _ := NewDedupe(DedupeConfig{Now: func() time.Time { return t0 }})
	store := state.NewMemory()
	if _, err := d.Process(context.Background(), inboundAt("a", "m1", "x", 5, store)); err != nil {
		t.Fatal(err)
	}
	dup := inboundAt("a", "m1", "x", 9, store)
	if _, err := d.Process(context.Background(), dup); err != nil {
		t.Fatal(err)
	}
	want := "duplicate of the record at mailtriage.inbound.v1 partition 3 offset 5, first seen 2025-06-01T12:00:00Z"
	if dup.Decision.Reason.Detail != want {
		t.Errorf("Detail = %q, want %q", dup.Decision.Reason.Detail, want)
	}
}

func TestDedupeErrors(t *testing.T) {
	if _, err := NewDedupe(DedupeConfig{TTL: -time.Second}); err == nil || !strings.Contains(err.Error(), "-1s") {
		t.Errorf("NewDedupe with negative TTL: err = %v, want one naming -1s", err)
	}

	d, _ := NewDedupe(DedupeConfig{})
	if _, err := d.Process(context.Background(), &Message{}); err == nil {
		t.Error("Process without a store: err = nil, want an error")
	}

	store := state.NewMemory()
	m := inboundAt("a", "m1", "x", 1, store)
	store.Put("dedupe/a/"+Fingerprint("m1", "x", "<p>x</p>"), []byte{9, 9})
	if _, err := d.Process(context.Background(), m); err == nil || !strings.Contains(err.Error(), "dedupe/a/") {
		t.Errorf("Process with a corrupt entry: err = %v, want one naming the key", err)
	}
}

func TestNormalizeBody(t *testing.T) {
	tests := []struct{ in, want string }{
		{"  Hello\r\n\tWorld  ", "helloworld"},
		{"caf\u0065\u0301", "caf\u00e9"}, // decomposed é composes to NFC
		{"a\u00a0b\u200bc", "abc"},       // no-break space and zero-width space are dropped
		{"", ""},
	}
	for _, tt := range tests {
		if got := normalizeBody(tt.in); got != tt.want {
			t.Errorf("normalizeBody(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
