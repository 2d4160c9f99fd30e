package clickhouse

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"mailtriage/schemas"
	"mailtriage/topics"
)

// TestDecodeRowConfluentFraming decodes a DecisionEvent in the Confluent
// wire format with a registry decoder, and checks that the single-object
// decoder rejects it with ErrUnknownSchemaID, so it would go to the DLQ.
func TestDecodeRowConfluentFraming(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	registry := srfake.New()
	t.Cleanup(registry.Close)
	client, err := sr.NewClient(sr.URLs(registry.URL()))
	if err != nil {
		t.Fatal(err)
	}
	writer, err := schemas.NewConfluent(ctx, client, nil)
	if err != nil {
		t.Fatalf("NewConfluent: %v", err)
	}
	ev := testEvent("acme", 3)
	value, err := writer.Encode(topics.Analytics, &ev)
	if err != nil {
		t.Fatal(err)
	}

	decoder, err := schemas.NewRegistryDecoder(client)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeRowWith(ctx, decoder, value)
	if err != nil {
		t.Fatalf("decoding with the registry decoder: %v", err)
	}
	if got.EventID != ev.EventID || got.Queue != ev.Queue || got.Tenant != ev.Tenant {
		t.Errorf("row = %s/%s/%s, expected %s/%s/%s", got.Tenant, got.EventID, got.Queue, ev.Tenant, ev.EventID, ev.Queue)
	}

	if _, err := decodeRow(value); !errors.Is(err, schemas.ErrUnknownSchemaID) {
		t.Errorf("single-object decoder returned %v, expected ErrUnknownSchemaID", err)
	}
}
