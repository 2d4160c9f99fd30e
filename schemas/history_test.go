package schemas

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/linkedin/goavro/v2"
)

// writeWithFile encodes native with the embedded schema file as Avro
// single-object encoding, as a producer built against that version would.
func writeWithFile(t *testing.T, file string, native map[string]any) []byte {
	t.Helper()
	text, err := schemaFiles.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	codec, err := goavro.NewCodec(string(text))
	if err != nil {
		t.Fatal(err)
	}
	out := make([]byte, singleObjectHeader)
	out[0], out[1] = singleObjectMarker0, singleObjectMarker1
	binary.LittleEndian.PutUint64(out[2:], rabinFingerprint(canonicalForm(codec)))
	out, err = codec.BinaryFromNative(out, native)
	if err != nil {
		t.Fatalf("encoding with %s: %v", file, err)
	}
	return out
}

func TestHistoryVersionsDifferFromCurrent(t *testing.T) {
	for _, entry := range historyFiles {
		found := false
		for _, h := range historyByFingerprint {
			if h.file == entry.file {
				found = true
			}
		}
		if !found {
			t.Errorf("%s has the fingerprint of the current %s: a history file must be an earlier version", entry.file, entry.name)
		}
	}
}

func TestUnmarshalReadsInboundEmailV1(t *testing.T) {
	received := time.Date(2024, 3, 5, 9, 12, 50, 0, time.UTC)
	native := map[string]any{
		"tenant":     "acme",
		"messageId":  "old-1@example.org",
		"receivedAt": received,
		"subject":    "Written before downloadUrl existed",
		"attachments": []any{map[string]any{
			"filename":    "a.pdf",
			"contentType": "application/pdf",
			"size":        int64(12),
			"storageKey":  "acme/2024/03/05/x/attachments/0-y",
		}},
	}
	data := writeWithFile(t, "history/inbound_email.v1.avsc", native)

	var got InboundEmail
	if err := Unmarshal(data, &got); err != nil {
		t.Fatalf("Unmarshal of a version 1 record: %v", err)
	}
	if got.MessageID != "old-1@example.org" || got.Subject != "Written before downloadUrl existed" {
		t.Errorf("decoded %q / %q, want the written message ID and subject", got.MessageID, got.Subject)
	}
	if len(got.Attachments) != 1 {
		t.Fatalf("attachments = %d, want 1", len(got.Attachments))
	}
	if a := got.Attachments[0]; a.Filename != "a.pdf" || a.StorageKey != "acme/2024/03/05/x/attachments/0-y" || a.DownloadURL != "" {
		t.Errorf("attachment = %+v, want the written fields and an empty downloadUrl from the default", a)
	}
	if !got.ReceivedAt.Equal(received) {
		t.Errorf("receivedAt = %v, want %v", got.ReceivedAt, received)
	}
}

func TestUnmarshalReadsTicketCommandV1(t *testing.T) {
	native := map[string]any{
		"eventId":    "e-1",
		"tenant":     "acme",
		"action":     "create",
		"receivedAt": time.Date(2024, 3, 5, 9, 0, 0, 0, time.UTC),
		"attachments": []any{map[string]any{
			"filename": "b.png",
		}},
	}
	data := writeWithFile(t, "history/ticket_command.v1.avsc", native)

	var got TicketCommand
	if err := Unmarshal(data, &got); err != nil {
		t.Fatalf("Unmarshal of a version 1 record: %v", err)
	}
	if got.EventID != "e-1" || len(got.Attachments) != 1 || got.Attachments[0].Filename != "b.png" {
		t.Errorf("decoded %+v, want event e-1 with attachment b.png", got)
	}
}

func TestUnmarshalRejectsOtherContractsHistory(t *testing.T) {
	data := writeWithFile(t, "history/ticket_command.v1.avsc", map[string]any{
		"eventId": "e-2", "tenant": "acme", "receivedAt": time.Unix(0, 0),
	})
	var got InboundEmail
	if err := Unmarshal(data, &got); err == nil {
		t.Error("Unmarshal of a TicketCommand v1 record into an InboundEmail succeeded, want a schema mismatch")
	}
}
