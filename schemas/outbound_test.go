package schemas

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"mailtriage/topics"
)

func fullOutboundMessage() OutboundMessage {
	return OutboundMessage{
		EventID:    "api/reply/7c1f",
		Tenant:     "acme",
		Kind:       OutboundKindAgentReply,
		TicketRef:  "T-0123456789",
		MessageID:  "mt.T-0123456789.ABCDEFGHJKMNPQRS@support.example.test",
		To:         Address{Name: "Zoë Müller", Address: "zoe@example.test"},
		Subject:    "Re: [#T-0123456789] Facture en double",
		Text:       "Bonjour, the duplicate is refunded.",
		HTML:       "<p>Bonjour, the duplicate is refunded.</p>",
		InReplyTo:  "CAF=1234@mail.example.test",
		References: []string{"first@mail.example.test", "CAF=1234@mail.example.test"},
		Actor:      "api:helpdesk",
		CreatedAt:  fixtureReceivedAt.Add(90 * time.Minute),
	}
}

func TestRoundTripOutboundMessageFull(t *testing.T) {
	var got OutboundMessage
	roundTrip(t, fullOutboundMessage(), &got)

	want := fullOutboundMessage()
	want.CreatedAt = millisUTC(want.CreatedAt)
	checkNoDiff(t, want, got)
}

func TestOutboundMessageIntoAutoReply(t *testing.T) {
	data, err := Marshal(fullOutboundMessage())
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	var wrong AutoReply
	if err := Unmarshal(data, &wrong); !errors.Is(err, ErrSchemaMismatch) {
		t.Errorf("Unmarshal into an AutoReply: got %v, expected ErrSchemaMismatch", err)
	}
	if name, err := SchemaName(&OutboundMessage{}); err != nil || name != NameOutboundMessage {
		t.Errorf("SchemaName(*OutboundMessage) = %q, %v; expected %q", name, err, NameOutboundMessage)
	}
}

func TestDriftOutboundMessage(t *testing.T) {
	s := loadSchemaFile(t, "outbound_message.avsc")
	if s.root.Name != "OutboundMessage" {
		t.Fatalf("outbound_message.avsc defines %s at the top, expected OutboundMessage", s.root.Name)
	}
	compareRecord(t, s, reflect.TypeFor[OutboundMessage](), map[string]bool{})

	inbound := loadSchemaFile(t, "inbound_email.avsc")
	if got, want := normalizeJSON(t, s.records["Address"]), normalizeJSON(t, inbound.records["Address"]); got != want {
		t.Errorf("Address in outbound_message.avsc differs from inbound_email.avsc:\n%s\n%s", got, want)
	}
}

func TestOutboundMessageKeyAndBinding(t *testing.T) {
	m := fullOutboundMessage()
	if got, want := m.Key(), "acme/T-0123456789"; got != want {
		t.Errorf("Key() = %q, expected %q", got, want)
	}
	found := false
	for _, b := range DefaultBindings() {
		if b.Topic == topics.Outbound {
			found = b.Schema == NameOutboundMessage
		}
	}
	if !found {
		t.Errorf("DefaultBindings() has no binding of %s to %s", topics.Outbound, NameOutboundMessage)
	}
}
