package schemas

import (
	"errors"
	"strings"
	"testing"
)

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	data, err := Marshal(v)
	if err != nil {
		t.Fatalf("Marshal(%T): %v", v, err)
	}
	return data
}

// checkError fails unless err wraps target and its message contains every
// fragment.
func checkError(t *testing.T, err, target error, fragments ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v", target)
	}
	if !errors.Is(err, target) {
		t.Errorf("error %q does not wrap %v", err, target)
	}
	for _, fragment := range fragments {
		if !strings.Contains(err.Error(), fragment) {
			t.Errorf("error %q does not mention %q", err, fragment)
		}
	}
}

func TestUnmarshalWrongMagic(t *testing.T) {
	valid := mustMarshal(t, fullNotification())
	tests := []struct {
		name      string
		data      []byte
		fragments []string
	}{
		{"empty", nil, []string{"empty", "mailtriage.InboundEmail", "schemas.Marshal"}},
		{"json", []byte(`{"tenant":"acme","messageId":"x"}`), []string{"JSON"}},
		{"confluent", append([]byte{0, 0, 0, 1, 0x2c}, valid[10:]...), []string{"Confluent wire format", "schema ID 300"}},
		{"other bytes", append([]byte{0xC3, 0x02}, valid[2:]...), []string{"0xc302", "expected 0xc301"}},
		{"short header", valid[:6], []string{"6 bytes", "10-byte header", "truncated"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got InboundEmail
			err := Unmarshal(tc.data, &got)
			checkError(t, err, ErrNotSingleObject, tc.fragments...)
		})
	}
}

func TestUnmarshalWrongType(t *testing.T) {
	data := mustMarshal(t, fullTicketCommand())

	var got InboundEmail
	err := Unmarshal(data, &got)
	checkError(t, err, ErrSchemaMismatch,
		"record is a mailtriage.TicketCommand, not a mailtriage.InboundEmail",
		"*schemas.TicketCommand")
}

func TestUnmarshalEveryWrongPair(t *testing.T) {
	for _, writer := range contractSamples {
		data := mustMarshal(t, writer.value)
		for _, reader := range contractSamples {
			if reader.name == writer.name {
				continue
			}
			target := map[string]any{
				NameInboundEmail:  &InboundEmail{},
				NameTicketCommand: &TicketCommand{},
				NameNotification:  &Notification{},
				NameDecisionEvent: &DecisionEvent{},
				NameDeadLetter:    &DeadLetter{},
			}[reader.name]

			err := Unmarshal(data, target)
			checkError(t, err, ErrSchemaMismatch, "record is a "+writer.name+", not a "+reader.name)
		}
	}
}

func TestUnmarshalUnknownFingerprint(t *testing.T) {
	data := mustMarshal(t, fullNotification())
	data[5] ^= 0xFF

	var got Notification
	err := Unmarshal(data, &got)
	checkError(t, err, ErrSchemaMismatch, "not one that this build knows", "mailtriage.Notification has", "newer schema version")
}

func TestUnmarshalTruncatedBody(t *testing.T) {
	// Avro binary is self-delimiting for a fixed schema, so every proper
	// prefix of a valid record must fail and none may panic.
	data := mustMarshal(t, fullInboundEmail())
	for n := 10; n < len(data); n++ {
		var got InboundEmail
		err := Unmarshal(data[:n], &got)
		if err == nil {
			t.Fatalf("Unmarshal of the first %d of %d bytes succeeded, want an error", n, len(data))
		}
		if !errors.Is(err, ErrCorruptRecord) {
			t.Fatalf("Unmarshal of the first %d bytes: error %q does not wrap ErrCorruptRecord", n, err)
		}
	}
}

func TestUnmarshalTruncatedMessage(t *testing.T) {
	data := mustMarshal(t, fullDeadLetter())

	var got DeadLetter
	err := Unmarshal(data[:len(data)-3], &got)
	checkError(t, err, ErrCorruptRecord, "decoding the mailtriage.DeadLetter body failed", "dead-letter topic")
}

func TestUnmarshalTrailingBytes(t *testing.T) {
	data := mustMarshal(t, fullNotification())
	data = append(data, 0x00, 0x01)

	var got Notification
	err := Unmarshal(data, &got)
	checkError(t, err, ErrCorruptRecord, "found 2 trailing bytes after the mailtriage.Notification body")
}

func TestUnmarshalCorruptUnionIndex(t *testing.T) {
	// The last field of DeadLetter is the raw union. Index 2 (zig-zag 0x04)
	// does not exist in ["null", BlobRef].
	in := DeadLetter{EventID: "d"}
	data := mustMarshal(t, in)
	data[len(data)-1] = 0x04

	var got DeadLetter
	err := Unmarshal(data, &got)
	checkError(t, err, ErrCorruptRecord, "mailtriage.DeadLetter")
}

func TestUnmarshalErrorLeavesValue(t *testing.T) {
	data := mustMarshal(t, fullNotification())
	before := Notification{EventID: "keep me"}
	got := before

	if err := Unmarshal(data[:len(data)-1], &got); err == nil {
		t.Fatal("Unmarshal of a truncated record succeeded, want an error")
	}
	if got != before {
		t.Errorf("Unmarshal changed the value on error: got %+v, want %+v", got, before)
	}
}

func TestMarshalUnsupportedType(t *testing.T) {
	var nilEmail *InboundEmail
	tests := []struct {
		name      string
		value     any
		fragments []string
	}{
		{"string", "hello", []string{"unsupported Go type string", "InboundEmail"}},
		{"nil interface", nil, []string{"unsupported Go type <nil>"}},
		{"nil pointer", nilEmail, []string{"nil *InboundEmail"}},
		{"pointer to pointer", &nilEmail, []string{"**schemas.InboundEmail"}},
		{"shared record", Address{}, []string{"schemas.Address"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data, err := Marshal(tc.value)
			checkError(t, err, ErrUnsupportedType, tc.fragments...)
			if data != nil {
				t.Errorf("Marshal returned %d bytes with the error, want nil", len(data))
			}
		})
	}
}

func TestUnmarshalUnsupportedTarget(t *testing.T) {
	data := mustMarshal(t, fullNotification())
	var nilNotification *Notification

	tests := []struct {
		name      string
		target    any
		fragments []string
	}{
		{"value not pointer", Notification{}, []string{"schemas.Notification", "pass a pointer to"}},
		{"nil pointer", nilNotification, []string{"nil *Notification"}},
		{"other type", &Address{}, []string{"*schemas.Address"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Unmarshal(data, tc.target)
			checkError(t, err, ErrUnsupportedType, tc.fragments...)
		})
	}
}

func TestLookupUnknownName(t *testing.T) {
	for _, name := range []string{"InboundEmail", "mailtriage.Address", ""} {
		_, err := Fingerprint(name)
		checkError(t, err, ErrUnknownSchema, `"`+name+`"`, NameInboundEmail, NameDeadLetter)

		_, err = Schema(name)
		checkError(t, err, ErrUnknownSchema)

		_, err = CanonicalSchema(name)
		checkError(t, err, ErrUnknownSchema)
	}
}
