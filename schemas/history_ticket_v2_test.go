package schemas

import (
	"testing"
	"time"
)

func TestUnmarshalReadsTicketCommandV2(t *testing.T) {
	native := map[string]any{
		"eventId":    "e-v2",
		"tenant":     "acme",
		"action":     "append",
		"ticketRef":  "T-0123456789",
		"receivedAt": time.Date(2025, 1, 7, 8, 0, 0, 0, time.UTC),
		"attachments": []any{map[string]any{
			"filename":    "c.txt",
			"downloadUrl": "https://objects.example.test/c.txt",
		}},
		"skipAutoReply": true,
	}
	data := writeWithFile(t, "history/ticket_command.v2.avsc", native)

	var got TicketCommand
	if err := Unmarshal(data, &got); err != nil {
		t.Fatalf("Unmarshal of a version 2 record: %v", err)
	}
	if got.EventID != "e-v2" || got.Action != "append" || got.TicketRef != "T-0123456789" {
		t.Errorf("decoded event %q, action %q, ref %q; expected e-v2, append, T-0123456789", got.EventID, got.Action, got.TicketRef)
	}
	if !got.SkipAutoReply {
		t.Error("skipAutoReply decoded false, expected the written true")
	}
	if len(got.Attachments) != 1 || got.Attachments[0].DownloadURL != "https://objects.example.test/c.txt" {
		t.Errorf("attachments = %+v, expected c.txt with its downloadUrl", got.Attachments)
	}
	if got.LinkedTicketRef != "" {
		t.Errorf("linkedTicketRef = %q, expected the empty default for a version 2 record", got.LinkedTicketRef)
	}
}

func TestTicketCommandLinkedRefRoundTrip(t *testing.T) {
	in := TicketCommand{
		EventID: "e-3", Tenant: "acme", Action: "create", TicketRef: "T-NEW0000000",
		MessageID: "m3@example.test", LinkedTicketRef: "T-OLD0000000",
		ReceivedAt: time.Date(2025, 1, 7, 9, 0, 0, 0, time.UTC),
	}
	data, err := Marshal(&in)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	var out TicketCommand
	if err := Unmarshal(data, &out); err != nil {
		t.Fatalf("Unmarshal: %v", err)
	}
	if out.LinkedTicketRef != "T-OLD0000000" {
		t.Errorf("linkedTicketRef = %q after a round trip, expected T-OLD0000000", out.LinkedTicketRef)
	}
}
