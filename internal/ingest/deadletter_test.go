package ingest

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"mailtriage/schemas"
)

func TestDeadLetterFor(t *testing.T) {
	store := newCountingStore(t)
	raw := []byte("   \n")
	_, err := Prepare(context.Background(), raw, testOpts, store)
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("Prepare error = %v, want *ParseError", err)
	}
	now := time.Date(2024, 3, 5, 15, 4, 5, 0, time.FixedZone("EST", -5*3600))

	dl := DeadLetterFor(pe, raw, schemas.SourceImport, now)

	if dl.Stage != "parse" {
		t.Errorf("Stage = %q, want %q", dl.Stage, "parse")
	}
	if dl.Tenant != "acme" {
		t.Errorf("Tenant = %q, want %q", dl.Tenant, "acme")
	}
	if dl.Error != pe.Err.Error() || dl.Error == "" {
		t.Errorf("Error = %q, want the parse error %q", dl.Error, pe.Err.Error())
	}
	if dl.SourceTopic != schemas.SourceImport || dl.SourcePartition != -1 || dl.SourceOffset != -1 {
		t.Errorf("source = %q/%d/%d, want %q/-1/-1", dl.SourceTopic, dl.SourcePartition, dl.SourceOffset, schemas.SourceImport)
	}
	if dl.Attempts != 1 {
		t.Errorf("Attempts = %d, want 1", dl.Attempts)
	}
	if !dl.FailedAt.Equal(now) || dl.FailedAt.Location() != time.UTC {
		t.Errorf("FailedAt = %v, want %v in UTC", dl.FailedAt, now.UTC())
	}
	if !bytes.Equal(dl.Payload, raw) {
		t.Errorf("Payload = %q, want the raw bytes %q", dl.Payload, raw)
	}
	if dl.Raw == nil || *dl.Raw != pe.Raw {
		t.Errorf("Raw = %+v, want %+v", dl.Raw, pe.Raw)
	}
	if len(dl.EventID) != 32 {
		t.Errorf("EventID = %q, want 32 hex characters", dl.EventID)
	}
}

func TestDeadLetterEventID(t *testing.T) {
	pe := &ParseError{Tenant: "acme", Raw: schemas.BlobRef{SHA256: "aa"}, Err: errors.New("bad")}
	now := time.Now()

	first := DeadLetterFor(pe, nil, schemas.SourceImport, now).EventID
	again := DeadLetterFor(pe, nil, schemas.SourceSMTP, now.Add(time.Hour)).EventID
	if first != again {
		t.Errorf("EventID changed between failures of the same bytes: %q and %q", first, again)
	}

	otherTenant := *pe
	otherTenant.Tenant = "globex"
	if DeadLetterFor(&otherTenant, nil, schemas.SourceImport, now).EventID == first {
		t.Errorf("EventID is the same for two tenants")
	}
	otherRaw := *pe
	otherRaw.Raw.SHA256 = "bb"
	if DeadLetterFor(&otherRaw, nil, schemas.SourceImport, now).EventID == first {
		t.Errorf("EventID is the same for two different raw messages")
	}
}

func TestParseErrorWithoutCause(t *testing.T) {
	pe := &ParseError{Raw: schemas.BlobRef{Key: "raw/x.eml"}}
	if got := pe.Error(); got != "parsing message raw/x.eml: unknown parse error" {
		t.Errorf("Error() = %q", got)
	}
	if dl := DeadLetterFor(pe, nil, schemas.SourceImport, time.Now()); dl.Error != "unknown parse error" {
		t.Errorf("DeadLetter.Error = %q, want %q", dl.Error, "unknown parse error")
	}
}

func TestDeadLetterForCutsLargePayload(t *testing.T) {
	raw := bytes.Repeat([]byte{0xff, 0xd8, 0x00}, MaxParsePayload) // 1.5 MiB, not mail
	_, err := Prepare(context.Background(), raw, testOpts, newCountingStore(t))
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("Prepare error = %v, want *ParseError", err)
	}

	dl := DeadLetterFor(pe, raw, schemas.SourceImport, time.Now())

	if !bytes.Equal(dl.Payload, raw[:MaxParsePayload]) {
		t.Errorf("Payload has %d bytes, want the first %d of the raw message", len(dl.Payload), MaxParsePayload)
	}
	if dl.Raw == nil || dl.Raw.Size != int64(len(raw)) {
		t.Errorf("Raw = %+v, want the whole %d-byte message", dl.Raw, len(raw))
	}
}

func TestRejectedDeadLetter(t *testing.T) {
	raw, _ := bigMessage("text/plain", 200<<10)
	email, err := Prepare(context.Background(), raw, testOpts, newCountingStore(t))
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	now := time.Date(2024, 3, 5, 15, 4, 5, 0, time.FixedZone("EST", -5*3600))
	key := []byte(email.Key())

	dl := RejectedDeadLetter(email, key, raw, "record too large", schemas.SourceImport, now)

	if dl.Stage != "ingress" {
		t.Errorf("Stage = %q, want %q", dl.Stage, "ingress")
	}
	if dl.Tenant != "acme" || dl.Error != "record too large" {
		t.Errorf("Tenant, Error = %q, %q; want %q, %q", dl.Tenant, dl.Error, "acme", "record too large")
	}
	if !bytes.Equal(dl.Key, key) {
		t.Errorf("Key = %q, want %q", dl.Key, key)
	}
	if !bytes.Equal(dl.Payload, raw[:MaxIngressPayload]) {
		t.Errorf("Payload has %d bytes, want the first %d of the raw message", len(dl.Payload), MaxIngressPayload)
	}
	if dl.Raw != email.Raw {
		t.Errorf("Raw = %+v, want the message's raw reference %+v", dl.Raw, email.Raw)
	}
	if dl.SourceTopic != schemas.SourceImport || dl.SourcePartition != -1 || dl.SourceOffset != -1 {
		t.Errorf("source = %q/%d/%d, want %q/-1/-1", dl.SourceTopic, dl.SourcePartition, dl.SourceOffset, schemas.SourceImport)
	}
	if !dl.FailedAt.Equal(now) || dl.FailedAt.Location() != time.UTC {
		t.Errorf("FailedAt = %v, want %v in UTC", dl.FailedAt, now.UTC())
	}

	again := RejectedDeadLetter(email, key, raw, "other text", schemas.SourceImport, now.Add(time.Hour))
	if len(dl.EventID) != 32 || again.EventID != dl.EventID {
		t.Errorf("EventIDs %q and %q, want the same 32 hex characters for the same message", dl.EventID, again.EventID)
	}
	parse := DeadLetterFor(&ParseError{Tenant: "acme", Raw: *email.Raw}, raw, schemas.SourceImport, now)
	if parse.EventID == dl.EventID {
		t.Errorf("ingress and parse dead letters of one message share EventID %q", dl.EventID)
	}
}
