package schemas

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

func fullAutoReply() AutoReply {
	return AutoReply{
		EventID:    "9f2c1d0e5b7a4c3d",
		Tenant:     "acme",
		Kind:       AutoReplyAcknowledgement,
		TicketRef:  "T-0123456789",
		Queue:      "billing",
		To:         Address{Name: "Zoë Müller", Address: "zoe@example.test"},
		Subject:    "Facture en double",
		InReplyTo:  "CAF=1234@mail.example.test",
		References: []string{"first@mail.example.test", "CAF=1234@mail.example.test"},
		ReceivedAt: fixtureReceivedAt,
		DecidedAt:  fixtureReceivedAt.Add(1500 * time.Millisecond),
	}
}

func TestRoundTripAutoReplyFull(t *testing.T) {
	in := fullAutoReply()
	var got AutoReply
	roundTrip(t, in, &got)

	want := fullAutoReply()
	want.ReceivedAt = millisUTC(want.ReceivedAt)
	want.DecidedAt = millisUTC(want.DecidedAt)
	checkNoDiff(t, want, got)
}

func TestRoundTripAutoReplyEmptyReferences(t *testing.T) {
	in := fullAutoReply()
	in.References = nil
	var got AutoReply
	roundTrip(t, in, &got)
	if got.References != nil {
		t.Errorf("References = %v, expected nil for an empty array", got.References)
	}
}

func TestAutoReplyIntoOtherContract(t *testing.T) {
	data, err := Marshal(fullAutoReply())
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	var wrong TicketCommand
	if err := Unmarshal(data, &wrong); !errors.Is(err, ErrSchemaMismatch) {
		t.Errorf("Unmarshal into a TicketCommand: got %v, expected ErrSchemaMismatch", err)
	}
	if name, err := SchemaName(&AutoReply{}); err != nil || name != NameAutoReply {
		t.Errorf("SchemaName(*AutoReply) = %q, %v; expected %q", name, err, NameAutoReply)
	}
}

func TestDriftAutoReply(t *testing.T) {
	s := loadSchemaFile(t, "auto_reply.avsc")
	if s.root.Name != "AutoReply" {
		t.Fatalf("auto_reply.avsc defines %s at the top, expected AutoReply", s.root.Name)
	}
	compareRecord(t, s, reflect.TypeFor[AutoReply](), map[string]bool{})

	for name := range s.records {
		for _, field := range s.record(t, name).Fields {
			isTimestamp := describeAvroType(t, field.Type) == "long.timestamp-millis"
			if len(field.Default) == 0 && !isTimestamp {
				t.Errorf("field %s.%s has no default", name, field.Name)
			}
		}
	}

	// The Address record must equal its copy in inbound_email.avsc.
	inbound := loadSchemaFile(t, "inbound_email.avsc")
	if got, want := normalizeJSON(t, s.records["Address"]), normalizeJSON(t, inbound.records["Address"]); got != want {
		t.Errorf("Address in auto_reply.avsc differs from inbound_email.avsc:\n%s\n%s", got, want)
	}
}

func TestAutoReplyKeyHashesRecipient(t *testing.T) {
	a := fullAutoReply()
	b := fullAutoReply()
	b.To.Address = " <ZOE@Example.TEST> "
	if a.Key() != b.Key() {
		t.Errorf("Key differs by case and brackets: %q != %q", a.Key(), b.Key())
	}
	const wantPrefix = "acme/"
	if got := a.Key(); len(got) != len(wantPrefix)+64 || got[:len(wantPrefix)] != wantPrefix {
		t.Errorf("Key = %q, expected acme/ and 64 hex digits", got)
	}
	c := fullAutoReply()
	c.To.Address = "other@example.test"
	if a.Key() == c.Key() {
		t.Errorf("two recipients share key %q", a.Key())
	}
}
