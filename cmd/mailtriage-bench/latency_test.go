package main

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func TestSplitMessageIDOfPayload(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tag := range []string{"latency-0a1b2c3d", "warmup-latency-0a1b2c3d"} {
		body, err := latencyPayload(rng, tag, 42)
		if err != nil {
			t.Fatal(err)
		}
		var payload struct {
			MessageID string `json:"messageId"`
		}
		if err := json.Unmarshal(body, &payload); err != nil {
			t.Fatalf("payload of %s is not JSON: %v", tag, err)
		}
		id := "<" + tag + "-42@bench.example>"
		if payload.MessageID != id {
			t.Fatalf("payload of %s has message ID %q, expected %q", tag, payload.MessageID, id)
		}
		for _, stored := range []string{id, strings.Trim(id, "<>")} {
			gotTag, i, ok := splitMessageID(stored)
			if !ok || gotTag != tag || i != 42 {
				t.Errorf("splitMessageID(%q) = %q, %d, %v; expected %q, 42, true", stored, gotTag, i, ok, tag)
			}
		}
	}
}

func TestSplitMessageIDForeign(t *testing.T) {
	for _, id := range []string{"<order-1@shop.example>", "latency-short", "latency-0a1b2c3d-x@bench.example", "latency-0a1b2c3d-1@other.example"} {
		if tag, i, ok := splitMessageID(id); ok {
			t.Errorf("splitMessageID(%q) = %q, %d, true; expected no match", id, tag, i)
		}
	}
}

func TestPercentilesNearestRank(t *testing.T) {
	var d []time.Duration
	for i := 100; i >= 1; i-- {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	p := percentiles(d)
	if p.P50 != 50 || p.P95 != 95 || p.P99 != 99 || p.Max != 100 {
		t.Errorf("percentiles of 1..100 ms = %+v, expected p50 50, p95 95, p99 99, max 100", p)
	}
}
