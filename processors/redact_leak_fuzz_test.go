package processors

import (
	"context"
	"strings"
	"testing"

	"mailtriage/schemas"
)

// leakCases are lines that the redactor must find wherever they stand on
// a line of their own: value is what must not survive, and line is value
// with the label that some kinds need.
var leakCases = []struct{ line, value string }{
	{"jane.doe+test@example.co.uk", "jane.doe+test@example.co.uk"},
	{"müller@bücher.de", "müller@bücher.de"},
	{"+44 20 7946 0018", "+44 20 7946 0018"},
	{"4111 1111 1111 1111", "4111 1111 1111 1111"},
	{"4242-4242-4242-4242", "4242-4242-4242-4242"},
	{"DE89 3704 0044 0532 0130 00", "DE89 3704 0044 0532 0130 00"},
	{"GB82WEST12345698765432", "GB82WEST12345698765432"},
	{"SSN 123-45-6789", "123-45-6789"},
	{"203.0.113.42", "203.0.113.42"},
	{"2001:db8::8a2e:370:7334", "2001:db8::8a2e:370:7334"},
	{"sk_live_4eC39HqLyjWDarjtT1zdp7dc", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"},
	{"AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"},
	{"ghp_0123456789abcdefghijABCDEFGHIJ012345", "ghp_0123456789abcdefghijABCDEFGHIJ012345"},
	{"Authorization: Bearer eyJhbGciOi.payload.sig123456", "eyJhbGciOi.payload.sig123456"},
	{"api_key=Zx81Kq02LmP7vT4wRb9n", "Zx81Kq02LmP7vT4wRb9n"},
	{"password: hunter2!x", "hunter2!x"},
}

func TestLeakCasesFoundAlone(t *testing.T) {
	for _, c := range leakCases {
		out, counts := RedactText(c.line)
		if strings.Contains(out, c.value) || len(counts) == 0 {
			t.Errorf("RedactText(%q) = %q with counts %v, want %q replaced", c.line, out, counts, c.value)
		}
	}
}

func FuzzRedactRemovesValues(f *testing.F) {
	for i, s := range redactSeeds {
		f.Add(s, redactSeeds[(i+1)%len(redactSeeds)], uint8(i))
	}
	f.Add("", "", uint8(0))
	f.Add("password:", "", uint8(3))
	f.Add("Order", "5", uint8(2))

	f.Fuzz(func(t *testing.T, before, after string, which uint8) {
		c := leakCases[int(which)%len(leakCases)]
		if strings.Contains(before, c.value) || strings.Contains(after, c.value) {
			return // a copy of the value in the context may stand where it is not personal data
		}
		text := before + "\n" + c.line + "\n" + after

		out, counts := RedactText(text)
		if strings.Contains(out, c.value) {
			t.Fatalf("RedactText(%q) = %q, which still contains %q", text, out, c.value)
		}
		if len(counts) == 0 {
			t.Fatalf("RedactText(%q) counted nothing, want at least the line %q", text, c.line)
		}
		if again, _ := RedactText(out); again != out {
			t.Fatalf("redacting %q again changed it to %q", out, again)
		}

		m := &Message{Email: schemas.InboundEmail{
			Subject: text, Text: text, HTML: text, ReplyText: text,
			Attachments: []schemas.Attachment{{Filename: "a.eml", Text: text}},
		}}
		if _, err := NewRedact().Process(context.Background(), m); err != nil {
			t.Fatalf("Process: %v", err)
		}
		e := m.Email
		for name, field := range map[string]string{
			"subject": e.Subject, "text": e.Text, "html": e.HTML, "reply text": e.ReplyText, "attachment text": e.Attachments[0].Text,
		} {
			if field != out {
				t.Fatalf("Process left the %s as %q, want %q as RedactText returns", name, field, out)
			}
		}
		if len(e.PII) == 0 {
			t.Fatalf("Process counted no PII in %q", text)
		}
	})
}
