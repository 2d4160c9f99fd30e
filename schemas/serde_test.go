package schemas

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	"mailtriage/topics"
)

func newConfluentSerde(t *testing.T, f *fakeRegistry, subjectFor func(topic, schemaName string) string) *Serde {
	t.Helper()
	client, err := NewRegistryClient(f.url)
	if err != nil {
		t.Fatalf("NewRegistryClient: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := NewConfluent(ctx, client, subjectFor)
	if err != nil {
		t.Fatalf("NewConfluent: %v", err)
	}
	return s
}

func mustSchema(t *testing.T, name string) string {
	t.Helper()
	text, err := Schema(name)
	if err != nil {
		t.Fatal(err)
	}
	return text
}

func TestConfluentRegistersTopicSubjects(t *testing.T) {
	f := newFakeRegistry(t)
	s := newConfluentSerde(t, f, nil)
	if !s.Confluent() {
		t.Error("Confluent() is false for a Serde from NewConfluent")
	}

	expect := map[string]string{
		"mailtriage.inbound.v1-value":       NameInboundEmail,
		"mailtriage.tickets.v1-value":       NameTicketCommand,
		"mailtriage.notifications.v1-value": NameNotification,
		"mailtriage.analytics.v1-value":     NameDecisionEvent,
		"mailtriage.dlq.v1-value":           NameDeadLetter,
	}
	for subject, name := range expect {
		got := f.subjectSchemas(subject)
		if len(got) != 1 {
			t.Errorf("subject %s has %d registrations, expected 1", subject, len(got))
			continue
		}
		if got[0] != mustSchema(t, name) {
			t.Errorf("subject %s holds another schema than the embedded %s", subject, name)
		}
	}
}

func TestConfluentEncodeFraming(t *testing.T) {
	f := newFakeRegistry(t)
	s := newConfluentSerde(t, f, nil)
	in := fullDeadLetter()

	data, err := s.Encode(topics.DLQ, &in)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	if len(data) < confluentHeader || data[0] != 0x00 {
		t.Fatalf("value starts with % x, expected magic byte 0", data[:min(len(data), 5)])
	}
	id := f.idOf(mustSchema(t, NameDeadLetter))
	if got := binary.BigEndian.Uint32(data[1:5]); int(got) != id {
		t.Errorf("schema ID in the header is %d, expected %d, the ID of the DLQ subject", got, id)
	}

	single, err := Marshal(&in)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data[5:], single[singleObjectHeader:]) {
		t.Error("Avro body after the Confluent header differs from the single-object body of the same value")
	}

	var out DeadLetter
	if err := s.Decode(data, &out); err != nil {
		t.Fatalf("Decode: %v", err)
	}
	want := fullDeadLetter()
	want.FailedAt = millisUTC(want.FailedAt)
	checkNoDiff(t, want, out)
}

func TestConfluentRoundTripEveryContract(t *testing.T) {
	f := newFakeRegistry(t)
	s := newConfluentSerde(t, f, nil)

	email := fullInboundEmail()
	var gotEmail InboundEmail
	confluentRoundTrip(t, s, topics.Inbound, &email, &gotEmail)
	if gotEmail.MessageID != email.MessageID || gotEmail.Subject != email.Subject || len(gotEmail.Attachments) != len(email.Attachments) {
		t.Errorf("InboundEmail came back as %q/%q with %d attachments, expected %q/%q with %d",
			gotEmail.MessageID, gotEmail.Subject, len(gotEmail.Attachments), email.MessageID, email.Subject, len(email.Attachments))
	}

	ticket := fullTicketCommand()
	var gotTicket TicketCommand
	confluentRoundTrip(t, s, topics.Tickets, &ticket, &gotTicket)
	wantTicket := fullTicketCommand()
	wantTicket.ReceivedAt = millisUTC(wantTicket.ReceivedAt)
	checkNoDiff(t, wantTicket, gotTicket)

	note := fullNotification()
	var gotNote Notification
	confluentRoundTrip(t, s, topics.Notifications, &note, &gotNote)
	wantNote := fullNotification()
	wantNote.ReceivedAt = millisUTC(wantNote.ReceivedAt)
	checkNoDiff(t, wantNote, gotNote)

	decision := fullDecisionEvent()
	var gotDecision DecisionEvent
	confluentRoundTrip(t, s, topics.Analytics, &decision, &gotDecision)
	if gotDecision.EventID != decision.EventID || gotDecision.PII["email"] != 3 || !gotDecision.Duplicate {
		t.Errorf("DecisionEvent came back as %+v", gotDecision)
	}
}

func confluentRoundTrip[T any](t *testing.T, s *Serde, topic string, in, out *T) {
	t.Helper()
	data, err := s.Encode(topic, in)
	if err != nil {
		t.Fatalf("Encode for %s: %v", topic, err)
	}
	if data[0] != 0 {
		t.Fatalf("value for %s starts with %#x, expected the Confluent magic byte 0", topic, data[0])
	}
	if err := s.Decode(data, out); err != nil {
		t.Fatalf("Decode from %s: %v", topic, err)
	}
}

func TestDecodeAcceptsBothFramings(t *testing.T) {
	f := newFakeRegistry(t)
	confluent := newConfluentSerde(t, f, nil)
	single := NewSingleObject()
	in := fullNotification()

	singleData, err := single.Encode(topics.Notifications, &in)
	if err != nil {
		t.Fatalf("single-object Encode: %v", err)
	}
	if singleData[0] != 0xC3 || singleData[1] != 0x01 {
		t.Fatalf("single-object value starts with % x, expected c3 01", singleData[:2])
	}
	confluentData, err := confluent.Encode(topics.Notifications, &in)
	if err != nil {
		t.Fatalf("Confluent Encode: %v", err)
	}

	for name, data := range map[string][]byte{"single-object": singleData, "Confluent": confluentData} {
		var out Notification
		if err := confluent.Decode(data, &out); err != nil {
			t.Errorf("Confluent Serde decoding a %s value: %v", name, err)
		} else if out.EventID != in.EventID || out.Excerpt != in.Excerpt {
			t.Errorf("Confluent Serde decoded a %s value as %+v", name, out)
		}
	}

	var out Notification
	if err := single.Decode(singleData, &out); err != nil || out.EventID != in.EventID {
		t.Errorf("single-object Serde decoding its own value: %v, event ID %q", err, out.EventID)
	}
	err = single.Decode(confluentData, &out)
	if !errors.Is(err, ErrUnknownSchemaID) || !strings.Contains(err.Error(), "no schema registry is configured") {
		t.Errorf("single-object Serde decoding a Confluent value returned %v, expected ErrUnknownSchemaID naming the missing registry", err)
	}
}

func TestDecodeLooksUpUnknownIDOnce(t *testing.T) {
	f := newFakeRegistry(t)
	s := newConfluentSerde(t, f, nil)

	// Another producer registered the same contract in its canonical form,
	// which the registry stores as a separate schema with its own ID.
	canonical, err := CanonicalSchema(NameTicketCommand)
	if err != nil {
		t.Fatal(err)
	}
	id := f.add("other-topic-value", canonical)
	single, err := Marshal(fullTicketCommand())
	if err != nil {
		t.Fatal(err)
	}
	data := confluentFrame(uint32(id), single[singleObjectHeader:])

	for i := range 3 {
		var out TicketCommand
		if err := s.Decode(data, &out); err != nil {
			t.Fatalf("Decode %d of a record with schema ID %d: %v", i, id, err)
		}
		if out.TicketRef != "T-1024" {
			t.Errorf("decoded ticket ref %q, expected T-1024", out.TicketRef)
		}
	}
	if n := f.lookupCount(id); n != 1 {
		t.Errorf("the registry was asked for schema ID %d %d times, expected once", id, n)
	}
}

func TestDecodeConfluentErrors(t *testing.T) {
	f := newFakeRegistry(t)
	s := newConfluentSerde(t, f, nil)
	ticket := fullTicketCommand()
	ticketData, err := s.Encode(topics.Tickets, &ticket)
	if err != nil {
		t.Fatal(err)
	}
	otherID := f.add("strings-value", `"string"`)

	tests := []struct {
		name   string
		data   []byte
		is     error
		expect string
	}{
		{"truncated header", []byte{0, 0, 0}, ErrCorruptRecord, "shorter than the 5-byte Confluent header"},
		{"ID not in registry", confluentFrame(999, []byte{2, 'a'}), ErrUnknownSchemaID, "schema ID 999"},
		{"ID of a non-contract schema", confluentFrame(uint32(otherID), []byte{2, 'a'}), ErrUnknownSchemaID, "not one of the contracts"},
		{"record of another contract", ticketData, ErrSchemaMismatch, "is a mailtriage.TicketCommand, not a mailtriage.InboundEmail"},
		{"truncated body", ticketData[:len(ticketData)/2], ErrSchemaMismatch, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out InboundEmail
			err := s.Decode(tt.data, &out)
			if !errors.Is(err, tt.is) {
				t.Fatalf("Decode returned %v, expected %v", err, tt.is)
			}
			if !strings.Contains(err.Error(), tt.expect) {
				t.Errorf("Decode error %q, expected it to contain %q", err, tt.expect)
			}
		})
	}

	var out TicketCommand
	if err := s.Decode(ticketData[:len(ticketData)-3], &out); !errors.Is(err, ErrCorruptRecord) {
		t.Errorf("Decode of a truncated ticket body returned %v, expected ErrCorruptRecord", err)
	}
	if err := s.Decode(append(append([]byte(nil), ticketData...), 0x02), &out); !errors.Is(err, ErrCorruptRecord) {
		t.Errorf("Decode of a ticket with a trailing byte returned %v, expected ErrCorruptRecord", err)
	}
}

func TestRegistryFailures(t *testing.T) {
	f := newFakeRegistry(t)
	client, err := NewRegistryClient(f.url)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	f.setFail(true)
	if _, err := NewConfluent(ctx, client, nil); !errors.Is(err, ErrRegistry) || !strings.Contains(err.Error(), `subject "mailtriage.inbound.v1-value"`) {
		t.Errorf("NewConfluent with a failing registry returned %v, expected ErrRegistry naming the subject", err)
	}

	f.setFail(false)
	s := newConfluentSerde(t, f, nil)
	canonical, err := CanonicalSchema(NameNotification)
	if err != nil {
		t.Fatal(err)
	}
	id := f.add("elsewhere-value", canonical)
	note := fullNotification()
	single, err := Marshal(&note)
	if err != nil {
		t.Fatal(err)
	}
	data := confluentFrame(uint32(id), single[singleObjectHeader:])

	f.setFail(true)
	var out Notification
	if err := s.Decode(data, &out); !errors.Is(err, ErrRegistry) {
		t.Errorf("Decode during a registry outage returned %v, expected ErrRegistry", err)
	}
	f.setFail(false)
	if err := s.Decode(data, &out); err != nil {
		t.Errorf("Decode after the outage: %v, expected the failed lookup not to be remembered", err)
	}
}

func TestEncodeNeedsRegistration(t *testing.T) {
	f := newFakeRegistry(t)
	s := newConfluentSerde(t, f, nil)
	ticket := fullTicketCommand()

	_, err := s.Encode("mailtriage.escalations.v1", &ticket)
	if !errors.Is(err, ErrNotRegistered) {
		t.Fatalf("Encode to an unregistered topic returned %v, expected ErrNotRegistered", err)
	}
	if _, err := s.Encode(topics.Analytics, &ticket); !errors.Is(err, ErrNotRegistered) {
		t.Errorf("Encode of a TicketCommand to the analytics topic returned %v, expected ErrNotRegistered", err)
	}

	id, err := s.Register(context.Background(), "mailtriage.escalations.v1", NameTicketCommand)
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	if got := f.subjectSchemas("mailtriage.escalations.v1-value"); len(got) != 1 {
		t.Errorf("subject mailtriage.escalations.v1-value has %d registrations, expected 1", len(got))
	}
	if expect := f.idOf(mustSchema(t, NameTicketCommand)); id != expect {
		t.Errorf("Register returned ID %d, expected %d, the ID the tickets subject got for the same schema", id, expect)
	}
	data, err := s.Encode("mailtriage.escalations.v1", &ticket)
	if err != nil {
		t.Fatalf("Encode after Register: %v", err)
	}
	if got := binary.BigEndian.Uint32(data[1:5]); int(got) != id {
		t.Errorf("schema ID in the header is %d, expected %d", got, id)
	}

	if _, err := s.Register(context.Background(), "x", "mailtriage.Nope"); !errors.Is(err, ErrUnknownSchema) {
		t.Errorf("Register of an unknown contract returned %v, expected ErrUnknownSchema", err)
	}
}

func TestCustomSubjectStrategy(t *testing.T) {
	f := newFakeRegistry(t)
	recordName := func(_, schemaName string) string { return schemaName }
	newConfluentSerde(t, f, recordName)

	for _, name := range Names() {
		if got := f.subjectSchemas(name); len(got) != 1 || got[0] != mustSchema(t, name) {
			t.Errorf("subject %s has %d registrations, expected the embedded schema once", name, len(got))
		}
	}
	if got := f.subjectSchemas("mailtriage.inbound.v1-value"); len(got) != 0 {
		t.Errorf("topic subject registered %d times with a record-name strategy, expected none", len(got))
	}
}

func TestRegistryClientBasicAuthFromURL(t *testing.T) {
	f := newFakeRegistry(t)
	withUser := strings.Replace(f.url, "http://", "http://svc:pa55word@", 1)
	client, err := NewRegistryClient(withUser)
	if err != nil {
		t.Fatalf("NewRegistryClient: %v", err)
	}
	if _, err := NewConfluent(context.Background(), client, nil); err != nil {
		t.Fatalf("NewConfluent: %v", err)
	}
	f.mu.Lock()
	auth := f.basicAuth
	f.mu.Unlock()
	if auth != "svc:pa55word" {
		t.Errorf("registry saw basic auth %q, expected svc:pa55word", auth)
	}

	if got := RedactURL(withUser); strings.Contains(got, "pa55word") || !strings.Contains(got, "svc:xxxxx@") {
		t.Errorf("RedactURL returned %q, expected the password replaced", got)
	}
	_, err = NewRegistryClient("ftp://svc:pa55word@registry:21")
	if err == nil || strings.Contains(err.Error(), "pa55word") || !strings.Contains(err.Error(), "write it as http://host:port") {
		t.Errorf("NewRegistryClient of an ftp URL returned %v, expected an error without the password", err)
	}
}

func TestNewConfluentNeedsClient(t *testing.T) {
	if _, err := NewConfluent(context.Background(), nil, nil); err == nil || !strings.Contains(err.Error(), "NewSingleObject") {
		t.Errorf("NewConfluent(nil client) returned %v, expected an error pointing to NewSingleObject", err)
	}
}

func confluentFrame(id uint32, body []byte) []byte {
	out := []byte{0, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(out[1:], id)
	return append(out, body...)
}
