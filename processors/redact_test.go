package processors

import (
	"context"
	"maps"
	"testing"

	"mailtriage/schemas"
)

func TestRedactTextFindsEachKind(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
		kind string
	}{
		{"email", "Write to jane.doe+test@example.co.uk today", "Write to [EMAIL] today", PIIEmail},
		{"email unicode", "Contact: müller@bücher.de.", "Contact: [EMAIL].", PIIEmail},

		{"phone international", "Call +44 20 7946 0018 now", "Call [PHONE] now", PIIPhone},
		{"phone international parens", "Tel +1 (555) 234-5678.", "Tel [PHONE].", PIIPhone},
		{"phone trunk zero", "My number is 020 7946 0018", "My number is [PHONE]", PIIPhone},
		{"phone german mobile", "Handy 0151 12345678", "Handy [PHONE]", PIIPhone},
		{"phone french pairs", "au 06 12 34 56 78 merci", "au [PHONE] merci", PIIPhone},
		{"phone north american", "reach me at 555-234-5678", "reach me at [PHONE]", PIIPhone},
		{"phone area code parens", "(555) 234-5678 after 5pm", "[PHONE] after 5pm", PIIPhone},
		{"phone 00 prefix", "dial 0049 30 1234567", "dial [PHONE]", PIIPhone},
		{"phone after label", "phone: 5552345678", "phone: [PHONE]", PIIPhone},
		{"phone after date", "on 2024-05-12 020 7946 0018 rang", "on 2024-05-12 [PHONE] rang", PIIPhone},

		{"card visa spaces", "card 4111 1111 1111 1111 exp 12/27", "card [CARD] exp 12/27", PIICard},
		{"card dashes", "4242-4242-4242-4242", "[CARD]", PIICard},
		{"card amex", "Amex 378282246310005.", "Amex [CARD].", PIICard},
		{"card followed by year", "4111 1111 1111 1111 2027", "[CARD] 2027", PIICard},

		{"iban grouped", "IBAN: DE89 3704 0044 0532 0130 00 thanks", "IBAN: [IBAN] thanks", PIIIBAN},
		{"iban compact", "GB82WEST12345698765432", "[IBAN]", PIIIBAN},
		{"iban followed by word", "to GB82 WEST 1234 5698 7654 32 ASAP", "to [IBAN] ASAP", PIIIBAN},

		{"ssn dashed", "SSN 123-45-6789", "SSN [SSN]", PIISSN},
		{"ssn labeled bare", "social security number: 123456789", "social security number: [SSN]", PIISSN},

		{"ipv4", "login from 203.0.113.42, blocked", "login from [IP], blocked", PIIIP},
		{"ipv6", "source 2001:db8::8a2e:370:7334 seen", "source [IP] seen", PIIIP},
		{"ipv6 loopback", "bound to ::1.", "bound to [IP].", PIIIP},
		{"ipv4 mapped", "peer ::ffff:192.0.2.1 closed", "peer [IP] closed", PIIIP},

		{"bearer header", "Authorization: Bearer eyJhbGciOi.payload.sig123456", "Authorization: Bearer [SECRET]", PIISecret},
		{"bare bearer", "use bearer abcdEFGH12345678XYZ", "use bearer [SECRET]", PIISecret},
		{"stripe key", "key sk_live_4eC39HqLyjWDarjtT1zdp7dc leaked", "key [SECRET] leaked", PIISecret},
		{"aws key", "AKIAIOSFODNN7EXAMPLE in config", "[SECRET] in config", PIISecret},
		{"aws key before a period", "id AKIAIOSFODNN7EXAMPLE.", "id [SECRET].", PIISecret},
		{"aws session key", "ASIAIOSFODNN7EXAMPLE", "[SECRET]", PIISecret},
		{"google key", "key AIzaSyA1234567890abcdefghijklmnopqrstuv ok", "key [SECRET] ok", PIISecret},
		{"google key ending in dash", "key AIzaSyA1234567890abcdefghijklmnopqrstu- ok", "key [SECRET] ok", PIISecret},
		{"google key in a url", "?key=AIzaSyA1234567890abcdefghijklmnopqrstuv&x=1", "?key=[SECRET]&x=1", PIISecret},
		{"github token", "ghp_0123456789abcdefghijABCDEFGHIJ012345", "[SECRET]", PIISecret},
		{"slack token", "xoxb-1234567890-abcdefghij", "[SECRET]", PIISecret},
		{"api key assignment", "api_key=Zx81Kq02LmP7vT4wRb9n", "api_key=[SECRET]", PIISecret},
		{"token assignment", "?token=a8F3kLm29QxZ0pR7sT&x=1", "?token=[SECRET]&x=1", PIISecret},

		{"password colon", "password: hunter2!x.", "password: [PASSWORD].", PIIPassword},
		{"pwd equals", "user=bob pwd=S3cr3t", "user=bob pwd=[PASSWORD]", PIIPassword},
		{"passcode number", "the passcode 482913 works", "the passcode [PASSWORD] works", PIIPassword},
		{"password in prose", "my password is hunter2 now", "my password is [PASSWORD] now", PIIPassword},
		{"password in prose with symbol", "The new password was Sup3rS3cret!", "The new password was [PASSWORD]!", PIIPassword},
		{"password in prose quoted", "the password is 'sunshine'.", "the password is '[PASSWORD]'.", PIIPassword},
		{"password in html", "<b>Password:</b> hunter2</p>", "<b>Password:</b> [PASSWORD]</p>", PIIPassword},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, counts := RedactText(tt.in)
			if got != tt.want {
				t.Errorf("RedactText(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if counts[tt.kind] != 1 {
				t.Errorf("count of %s = %d, want 1 (all counts %v)", tt.kind, counts[tt.kind], counts)
			}
			if len(counts) != 1 {
				t.Errorf("counts = %v, want only %s", counts, tt.kind)
			}
		})
	}
}

func TestRedactTextLeavesNearMisses(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{"card failing luhn", "card 4111 1111 1111 1112"},
		{"card-length order number", "order 1234567890123456"},
		{"iban failing mod-97", "IBAN DE89 3704 0044 0532 0130 01"},
		{"iban wrong country length", "DE89 3704 0044 0532 0130"},
		{"iso date", "shipped 2024-05-12"},
		{"dotted date", "am 12.05.2024 geliefert"},
		{"slashed date", "due 05/12/2024"},
		{"date and time", "at 2024-05-12 10:30:45 UTC"},
		{"short number", "room 12345, floor 3"},
		{"bare digits without label", "reference 4500012345 only"},
		{"order number shaped like a phone", "Order 555-234-5678 has shipped"},
		{"hash number", "ticket #555-234-5678"},
		{"ssn invalid area 000", "000-12-3456"},
		{"ssn invalid area 666", "666-12-3456"},
		{"ssn invalid area 9xx", "912-34-5678"},
		{"version number", "version 1.2.3.4.5 released"},
		{"ipv4 out of range", "build 300.1.2.3"},
		{"time of day", "meeting at 10:30:45"},
		{"mac address", "mac 00:1a:2b:3c:4d:5e"},
		{"rust path", "use std::io::Read"},
		{"bearer prose", "a bearer token is needed"},
		{"key assignment word", "key: forwardingaddress"},
		{"key in code", "for(String key : bucketInfo.getKeys()) {"},
		{"low entropy value", "token=aaaa1111aaaa1111"},
		{"password reset prose", "I forgot my password and need a reset"},
		{"password prose word", "my password is incorrect, and the old password was fine."},
		{"money", "refund of $1,234.56 on 3 items"},
		{"aws-like prefix of a longer token", "build AKIAIOSFODNN7EXAMPLEXYZ2 done"},
		{"aws-like prefix before lower case", "AKIAIOSFODNN7EXAMPLEabc"},
		{"google-like prefix of a longer token", "AIzaSyA1234567890abcdefghijklmnopqrstuvWXYZ"},
		{"google-like prefix before a dash", "AIzaSyA1234567890abcdefghijklmnopqrstuv-rest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, counts := RedactText(tt.in)
			if got != tt.in {
				t.Errorf("RedactText(%q) = %q, want it unchanged", tt.in, got)
			}
			if len(counts) != 0 {
				t.Errorf("counts = %v, want none", counts)
			}
		})
	}
}

func TestRedactTextIdempotent(t *testing.T) {
	in := "From jane@example.com, +44 20 7946 0018, card 4111 1111 1111 1111, " +
		"IBAN DE89 3704 0044 0532 0130 00, SSN 123-45-6789, ip 203.0.113.42 and 2001:db8::1, " +
		"Authorization: Bearer abcdefghijklmnop1234, api_key=Zx81Kq02LmP7vT4wRb9n, password: hunter2"
	once, counts := RedactText(in)
	want := map[string]int{
		PIIEmail: 1, PIIPhone: 1, PIICard: 1, PIIIBAN: 1, PIISSN: 1, PIIIP: 2, PIISecret: 2, PIIPassword: 1,
	}
	if !maps.Equal(counts, want) {
		t.Errorf("first pass counts = %v, want %v", counts, want)
	}
	wantText := "From [EMAIL], [PHONE], card [CARD], IBAN [IBAN], SSN [SSN], ip [IP] and [IP], " +
		"Authorization: Bearer [SECRET], api_key=[SECRET], password: [PASSWORD]"
	if once != wantText {
		t.Errorf("first pass = %q, want %q", once, wantText)
	}

	twice, counts := RedactText(once)
	if twice != once {
		t.Errorf("second pass changed the text: %q -> %q", once, twice)
	}
	if len(counts) != 0 {
		t.Errorf("second pass counts = %v, want none", counts)
	}
}

// TestRedactTextSecondPass checks a number that only a second pass finds:
// once the first number is "[PHONE]", that word labels the second one.
func TestRedactTextSecondPass(t *testing.T) {
	got, counts := RedactText("555-234-5678 12345678")
	if want := "[PHONE] [PHONE]"; got != want {
		t.Errorf("RedactText = %q, want %q", got, want)
	}
	if counts[PIIPhone] != 2 {
		t.Errorf("phone count = %d, want 2 (all counts %v)", counts[PIIPhone], counts)
	}
}

func TestRedactProcessCountsDistinctAcrossFields(t *testing.T) {
	m := &Message{Email: schemas.InboundEmail{
		From:      &schemas.Address{Address: "jane@example.com"},
		To:        []schemas.Address{{Address: "support@shop.example"}},
		Subject:   "Card 4111 1111 1111 1111 charged twice",
		Text:      "Hi, I am jane@example.com. Card 4111-1111-1111-1111. Call 555-234-5678.\n> old: bob@example.org",
		HTML:      "<p>Hi, I am <a href=\"mailto:jane@example.com\">jane@example.com</a>.</p>",
		ReplyText: "Hi, I am jane@example.com. Card 4111-1111-1111-1111. Call 555-234-5678.",
		Attachments: []schemas.Attachment{
			{Filename: "fwd.eml", Text: "password: letmein99"},
		},
		PII: map[string]int32{},
	}}
	res, err := NewRedact().Process(context.Background(), m)
	if err != nil || res != Continue {
		t.Fatalf("Process = %v, %v; want Continue, nil", res, err)
	}

	want := map[string]int32{PIIEmail: 2, PIICard: 1, PIIPhone: 1, PIIPassword: 1}
	if !maps.Equal(m.Email.PII, want) {
		t.Errorf("PII = %v, want %v", m.Email.PII, want)
	}
	if got := m.Email.Subject; got != "Card [CARD] charged twice" {
		t.Errorf("Subject = %q", got)
	}
	if got := m.Email.HTML; got != `<p>Hi, I am <a href="mailto:[EMAIL]">[EMAIL]</a>.</p>` {
		t.Errorf("HTML = %q", got)
	}
	if got := m.Email.Attachments[0].Text; got != "password: [PASSWORD]" {
		t.Errorf("attachment Text = %q", got)
	}
	if m.Email.From.Address != "jane@example.com" || m.Email.To[0].Address != "support@shop.example" {
		t.Errorf("header addresses changed: From %q, To %q", m.Email.From.Address, m.Email.To[0].Address)
	}

	// A second run finds nothing and leaves the counts as they are.
	if _, err := NewRedact().Process(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(m.Email.PII, want) {
		t.Errorf("PII after second run = %v, want %v", m.Email.PII, want)
	}
}
