package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"mailtriage/internal/mime"
)

// jpegHead is the start of a JFIF file: SOI, APP0 with the JFIF identifier.
const jpegHead = "\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xdb\x00C\x00\x08\x06\x06\x07\x06\x05\x08\x07\x07\x07\x09\x09\x08\n\x0c\x14"

func randomBytes(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.UintN(256))
	}
	return b
}

func TestPrepareRejectsNonMail(t *testing.T) {
	random := randomBytes(4096)
	tests := []struct {
		name   string
		raw    []byte
		reason string // expected text after "not an email message: "
	}{
		{"jpeg", []byte(jpegHead), fmt.Sprintf("no header fields found in the first %d bytes", strings.IndexByte(jpegHead, '\n')+1)},
		{"random bytes", random, fmt.Sprintf("no header fields found in the first %d bytes", bytes.IndexByte(random, '\n')+1)},
		{"NUL bytes", make([]byte, 300), "no header fields found in the first 300 bytes"},
		{"plain text", []byte("Shopping list\n- milk\n- eggs\n"), "no header fields found in the first 14 bytes"},
		{"text with colon in prose", []byte("Remember this: buy milk\n"), "no header fields found in the first 24 bytes"},
		{"blank first line then text", []byte("\nhello there\n"), "no header fields found in the first 1 byte"},
		{"mbox line then text", []byte("From ana@example.org Mon Jan  1 00:00:00 2024\nhello\n"), "no header fields found in the first 52 bytes"},
		{"empty", nil, "the message is empty (0 bytes)"},
		{"whitespace", []byte("\r\n   \r\n"), "the message contains only whitespace (7 bytes)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := newCountingStore(t)

			email, err := Prepare(context.Background(), tt.raw, testOpts, store)

			if email != nil {
				t.Errorf("Prepare returned a message: subject %q, %d headers", email.Subject, len(email.Headers))
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Prepare error = %v (%T), want *ParseError", err, err)
			}
			want := "not an email message: " + tt.reason + "; import RFC 5322 messages (.eml), mbox files or Maildirs"
			if pe.Err == nil || pe.Err.Error() != want {
				t.Errorf("cause = %v\nwant    %s", pe.Err, want)
			}
			if !errors.Is(err, mime.ErrNotMail) {
				t.Errorf("error %v does not match mime.ErrNotMail", err)
			}
			stored, err := store.Get(context.Background(), pe.Raw.Key)
			if err != nil {
				t.Fatalf("raw bytes not stored: %v", err)
			}
			if !bytes.Equal(stored, tt.raw) {
				t.Errorf("stored %d bytes, want the %d input bytes unchanged", len(stored), len(tt.raw))
			}
		})
	}
}

func TestPrepareKeepsBrokenMail(t *testing.T) {
	tests := []struct {
		name string
		raw  string
	}{
		{"header only", "Subject: no body\n"},
		{"one field then prose", "Note: buy milk\nand eggs\n"},
		{"no blank line", "From: ana@example.org\nSubject: hi\nThis line is the body.\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			email, err := Prepare(context.Background(), []byte(tt.raw), testOpts, newCountingStore(t))
			if err != nil {
				t.Fatalf("Prepare(%q) = %v, want a message with its warnings", tt.raw, err)
			}
			if len(email.Headers) == 0 {
				t.Errorf("Prepare(%q) returned no headers", tt.raw)
			}
		})
	}
}
