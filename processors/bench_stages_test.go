package processors

import (
	"context"
	"testing"

	"mailtriage/internal/state"
)

// The benchmarks below time the stages of DefaultChain that BenchmarkChain
// runs besides Redact, Classify and Route, each over the benchmark mix
// after Redact, as the chain hands it on. One operation is the whole mix.

func BenchmarkDedupe(b *testing.B) {
	dedupe, err := NewDedupe(DedupeConfig{})
	if err != nil {
		b.Fatal(err)
	}
	msgs := redactedMail(b)
	store := state.NewMemory()
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	cpuStart := processCPUTime()
	for round := range b.N {
		for _, m := range msgs {
			if _, err := dedupe.Process(ctx, freshMessage(m.Email, round, store)); err != nil {
				b.Fatal(err)
			}
		}
	}
	reportEmailRate(b, len(msgs), cpuStart)
}

func BenchmarkThread(b *testing.B) {
	thread, err := NewThread(ThreadConfig{})
	if err != nil {
		b.Fatal(err)
	}
	msgs := redactedMail(b)
	global := state.NewMemory()
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	cpuStart := processCPUTime()
	for round := range b.N {
		for _, m := range msgs {
			fresh := freshMessage(m.Email, round, nil)
			fresh.Global = global
			fresh.Decision = Decision{Queue: "general", Priority: "normal"}
			if _, err := thread.Process(ctx, fresh); err != nil {
				b.Fatal(err)
			}
		}
	}
	reportEmailRate(b, len(msgs), cpuStart)
}

func BenchmarkAutoReplyGuard(b *testing.B) {
	guard := NewAutoReplyGuard()
	msgs := redactedMail(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	cpuStart := processCPUTime()
	for range b.N {
		for _, m := range msgs {
			fresh := &Message{Email: m.Email, Decision: Decision{Queue: "general", Priority: "normal", TicketRef: "T-0123456789"}}
			if _, err := guard.Process(ctx, fresh); err != nil {
				b.Fatal(err)
			}
		}
	}
	reportEmailRate(b, len(msgs), cpuStart)
}
