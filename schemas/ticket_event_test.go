package schemas

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

func fullTicketEvent() TicketEvent {
	return TicketEvent{
		EventID:   TicketEventID("acme", "T-0123456789", 3),
		Tenant:    "acme",
		TicketRef: "T-0123456789",
		Kind:      TicketEventStatusChanged,
		Status:    "pending",
		ActorKind: ActorAPI,
		At:        fixtureReceivedAt.Add(42 * time.Minute),
	}
}

func TestRoundTripTicketEvent(t *testing.T) {
	var got TicketEvent
	roundTrip(t, fullTicketEvent(), &got)

	want := fullTicketEvent()
	want.At = millisUTC(want.At)
	checkNoDiff(t, want, got)
}

func TestTicketEventIntoOtherContract(t *testing.T) {
	data, err := Marshal(fullTicketEvent())
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	var wrong FeedbackEvent
	if err := Unmarshal(data, &wrong); !errors.Is(err, ErrSchemaMismatch) {
		t.Errorf("Unmarshal into a FeedbackEvent: got %v, expected ErrSchemaMismatch", err)
	}
	if name, err := SchemaName(&TicketEvent{}); err != nil || name != NameTicketEvent {
		t.Errorf("SchemaName(*TicketEvent) = %q, %v; expected %q", name, err, NameTicketEvent)
	}
}

func TestTicketEventBinding(t *testing.T) {
	found := false
	for _, b := range DefaultBindings() {
		if b.Topic == "mailtriage.ticket-events.v1" {
			found = b.Schema == NameTicketEvent
		}
	}
	if !found {
		t.Errorf("DefaultBindings() has no binding of mailtriage.ticket-events.v1 to %s", NameTicketEvent)
	}
}

func TestDriftTicketEvent(t *testing.T) {
	s := loadSchemaFile(t, "ticket_event.avsc")
	if s.root.Name != "TicketEvent" {
		t.Fatalf("ticket_event.avsc defines %s at the top, expected TicketEvent", s.root.Name)
	}
	compareRecord(t, s, reflect.TypeFor[TicketEvent](), map[string]bool{})

	for _, field := range s.record(t, "TicketEvent").Fields {
		isTimestamp := describeAvroType(t, field.Type) == "long.timestamp-millis"
		if len(field.Default) == 0 && !isTimestamp {
			t.Errorf("field TicketEvent.%s has no default", field.Name)
		}
	}
}

func TestTicketEventKeyAndID(t *testing.T) {
	e := fullTicketEvent()
	if got := e.Key(); got != "acme/T-0123456789" {
		t.Errorf("Key = %q, expected acme/T-0123456789", got)
	}

	id := TicketEventID("acme", "T-1", 1)
	if id != TicketEventID("acme", "T-1", 1) {
		t.Error("TicketEventID returned two IDs for the same input")
	}
	if len(id) != 32 {
		t.Errorf("TicketEventID length %d, expected 32 hex digits", len(id))
	}
	for _, other := range []string{TicketEventID("acme", "T-1", 2), TicketEventID("acme", "T-2", 1), TicketEventID("globex", "T-1", 1), FeedbackEventID("acme", "T-1", 1)} {
		if other == id {
			t.Errorf("TicketEventID(acme, T-1, 1) = %s equals the ID of another event", id)
		}
	}
}
