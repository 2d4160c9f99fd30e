package schemas

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"testing"

	"github.com/linkedin/goavro/v2"
)

func fullFeedbackEvent() FeedbackEvent {
	return FeedbackEvent{
		EventID:   FeedbackEventID("acme", "T-0123456789", 1),
		Tenant:    "acme",
		TicketRef: "T-0123456789",
		MessageID: "CAF=1234@mail.example.test",
		Actor:     "api:tok-42",
		Source:    FeedbackSourceAPI,
		At:        fixtureReceivedAt,
		From:      Assignment{Queue: "billing", Priority: "normal"},
		To:        Assignment{Queue: "réclamations", Priority: "high"},
		Reason:    fullReason(),
		Subject:   "Facture en double [CARD]",
		ReplyText: "Bonjour, j'ai été débité deux fois.",
	}
}

func TestRoundTripFeedbackEventFull(t *testing.T) {
	in := fullFeedbackEvent()
	var got FeedbackEvent
	roundTrip(t, in, &got)

	want := fullFeedbackEvent()
	want.At = millisUTC(want.At)
	checkNoDiff(t, want, got)
}

func TestRoundTripFeedbackEventPointer(t *testing.T) {
	in := fullFeedbackEvent()
	data, err := Marshal(&in)
	if err != nil {
		t.Fatalf("Marshal(pointer): %v", err)
	}
	var got FeedbackEvent
	if err := Unmarshal(data, &got); err != nil {
		t.Fatalf("Unmarshal: %v", err)
	}
	if got.EventID != in.EventID || got.To != in.To || len(got.Reason.TopLabels) != 3 {
		t.Errorf("decoded %+v, expected the event written", got)
	}

	var wrong DecisionEvent
	if err := Unmarshal(data, &wrong); !errors.Is(err, ErrSchemaMismatch) {
		t.Errorf("Unmarshal into a DecisionEvent: got %v, expected ErrSchemaMismatch", err)
	}
}

func TestFeedbackEventGoavroReadsSchemaFile(t *testing.T) {
	// A consumer in another language has only the .avsc file. Decoding
	// the body with a codec built from that file must give every field.
	text, err := os.ReadFile("feedback_event.avsc")
	if err != nil {
		t.Fatalf("reading feedback_event.avsc: %v", err)
	}
	codec, err := goavro.NewCodec(string(text))
	if err != nil {
		t.Fatalf("goavro.NewCodec(feedback_event.avsc): %v", err)
	}

	in := fullFeedbackEvent()
	data, err := Marshal(in)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	native, rest, err := codec.NativeFromBinary(data[singleObjectHeader:])
	if err != nil {
		t.Fatalf("goavro decoding the body: %v", err)
	}
	if len(rest) != 0 {
		t.Fatalf("goavro left %d trailing bytes", len(rest))
	}

	// The textual form has the JSON names of the Go type, so it can be
	// compared field by field with the value written.
	textual, err := codec.TextualFromNative(nil, native)
	if err != nil {
		t.Fatalf("goavro encoding the record as JSON: %v", err)
	}
	var fields map[string]any
	if err := json.Unmarshal(textual, &fields); err != nil {
		t.Fatalf("parsing goavro's JSON: %v", err)
	}

	expected := map[string]any{
		"eventId":   in.EventID,
		"tenant":    "acme",
		"ticketRef": "T-0123456789",
		"messageId": "CAF=1234@mail.example.test",
		"actor":     "api:tok-42",
		"source":    "api",
		"at":        float64(in.At.UnixMilli()),
		"from":      map[string]any{"queue": "billing", "priority": "normal"},
		"to":        map[string]any{"queue": "réclamations", "priority": "high"},
		"subject":   "Facture en double [CARD]",
		"replyText": "Bonjour, j'ai été débité deux fois.",
	}
	for name, want := range expected {
		if got := fields[name]; !reflect.DeepEqual(got, want) {
			t.Errorf("field %s: got %#v, expected %#v", name, got, want)
		}
	}

	reason, _ := fields["reason"].(map[string]any)
	if reason["kind"] != "model" || reason["modelVersion"] != "nb-7" || reason["threshold"] != 0.6 {
		t.Errorf("reason: got %v, expected kind model, modelVersion nb-7, threshold 0.6", reason)
	}
	labels, _ := reason["topLabels"].([]any)
	if len(labels) != 3 {
		t.Fatalf("reason.topLabels: got %v, expected 3 labels", reason["topLabels"])
	}
	first, _ := labels[0].(map[string]any)
	if first["label"] != "billing" || first["probability"] != 0.8125 {
		t.Errorf("reason.topLabels[0]: got %v, expected billing 0.8125", first)
	}
}

func TestDriftFeedbackEvent(t *testing.T) {
	s := loadSchemaFile(t, "feedback_event.avsc")
	if s.root.Name != "FeedbackEvent" {
		t.Fatalf("feedback_event.avsc defines %s at the top, expected FeedbackEvent", s.root.Name)
	}
	compareRecord(t, s, reflect.TypeFor[FeedbackEvent](), map[string]bool{})

	// Reason and LabelScore must be the same record as in the other
	// contracts, docs and defaults included.
	decision := loadSchemaFile(t, "decision_event.avsc")
	for _, shared := range []string{"Reason", "LabelScore"} {
		if normalizeJSON(t, s.records[shared]) != normalizeJSON(t, decision.records[shared]) {
			t.Errorf("record %s in feedback_event.avsc differs from its copy in decision_event.avsc", shared)
		}
	}

	for name := range s.records {
		for _, field := range s.record(t, name).Fields {
			isTimestamp := describeAvroType(t, field.Type) == "long.timestamp-millis"
			if len(field.Default) == 0 && !isTimestamp {
				t.Errorf("field %s.%s has no default", name, field.Name)
			}
		}
	}
}

func TestFeedbackEventBindingAndName(t *testing.T) {
	name, err := SchemaName(FeedbackEvent{})
	if err != nil || name != NameFeedbackEvent {
		t.Errorf("SchemaName(FeedbackEvent{}) = %q, %v; expected %q, nil", name, err, NameFeedbackEvent)
	}
	found := false
	for _, b := range DefaultBindings() {
		if b.Topic == "mailtriage.feedback.v1" {
			found = b.Schema == NameFeedbackEvent
		}
	}
	if !found {
		t.Errorf("DefaultBindings() has no binding of mailtriage.feedback.v1 to %s", NameFeedbackEvent)
	}
}

func TestFeedbackEventIDDeterministic(t *testing.T) {
	a := FeedbackEventID("acme", "T-1", 1)
	if a != FeedbackEventID("acme", "T-1", 1) {
		t.Error("FeedbackEventID returned two IDs for the same input")
	}
	if len(a) != 32 {
		t.Errorf("FeedbackEventID length: got %d, expected 32 hex digits", len(a))
	}
	for _, other := range []string{
		FeedbackEventID("acme", "T-1", 2),
		FeedbackEventID("acme", "T-2", 1),
		FeedbackEventID("other", "T-1", 1),
	} {
		if other == a {
			t.Errorf("FeedbackEventID gave %s for a different input", a)
		}
	}
}

func TestFeedbackTrainingText(t *testing.T) {
	tests := []struct {
		name, subject, reply, want string
	}{
		{"both", " Refund ", "Please refund me.\n", "Refund\nPlease refund me."},
		{"subject only", "Refund", "  ", "Refund"},
		{"reply only", "", "Please refund me.", "Please refund me."},
		{"neither", "", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := FeedbackEvent{Subject: tc.subject, ReplyText: tc.reply}
			if got := e.TrainingText(); got != tc.want {
				t.Errorf("TrainingText() = %q, expected %q", got, tc.want)
			}
		})
	}
}
