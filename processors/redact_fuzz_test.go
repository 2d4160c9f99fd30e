package processors

import (
	"testing"
	"unicode/utf8"
)

// redactSeeds are the inputs of the redact tests, as the fuzz corpus
// starts.
var redactSeeds = []string{
	"Write to jane.doe+test@example.co.uk today", "Contact: müller@bücher.de.",
	"Call +44 20 7946 0018 now", "Tel +1 (555) 234-5678.", "My number is 020 7946 0018", "Handy 0151 12345678",
	"au 06 12 34 56 78 merci", "reach me at 555-234-5678", "(555) 234-5678 after 5pm", "dial 0049 30 1234567",
	"phone: 5552345678", "on 2024-05-12 020 7946 0018 rang",
	"card 4111 1111 1111 1111 exp 12/27", "4242-4242-4242-4242", "Amex 378282246310005.", "4111 1111 1111 1111 2027",
	"IBAN: DE89 3704 0044 0532 0130 00 thanks", "GB82WEST12345698765432", "to GB82 WEST 1234 5698 7654 32 ASAP",
	"SSN 123-45-6789", "social security number: 123456789",
	"login from 203.0.113.42, blocked", "source 2001:db8::8a2e:370:7334 seen", "bound to ::1.", "peer ::ffff:192.0.2.1 closed",
	"Authorization: Bearer eyJhbGciOi.payload.sig123456", "use bearer abcdEFGH12345678XYZ",
	"key sk_live_4eC39HqLyjWDarjtT1zdp7dc leaked", "AKIAIOSFODNN7EXAMPLE in config", "ghp_0123456789abcdefghijABCDEFGHIJ012345",
	"xoxb-1234567890-abcdefghij", "api_key=Zx81Kq02LmP7vT4wRb9n", "?token=a8F3kLm29QxZ0pR7sT&x=1",
	"password: hunter2!x.", "user=bob pwd=S3cr3t", "the passcode 482913 works", "my password is hunter2 now",
	"The new password was Sup3rS3cret!", "the password is 'sunshine'.", "<b>Password:</b> hunter2</p>",
	"card 4111 1111 1111 1112", "order 1234567890123456", "IBAN DE89 3704 0044 0532 0130 01", "DE89 3704 0044 0532 0130",
	"shipped 2024-05-12", "am 12.05.2024 geliefert", "due 05/12/2024", "at 2024-05-12 10:30:45 UTC", "room 12345, floor 3",
	"reference 4500012345 only", "Order 555-234-5678 has shipped", "ticket #555-234-5678", "000-12-3456", "666-12-3456",
	"912-34-5678", "version 1.2.3.4.5 released", "build 300.1.2.3", "meeting at 10:30:45", "mac 00:1a:2b:3c:4d:5e",
	"use std::io::Read", "a bearer token is needed", "key: forwardingaddress", "for(String key : bucketInfo.getKeys()) {",
	"token=aaaa1111aaaa1111", "I forgot my password and need a reset", "my password is incorrect, and the old password was fine.",
	"refund of $1,234.56 on 3 items",
	"From jane@example.com, +44 20 7946 0018, card 4111 1111 1111 1111, IBAN DE89 3704 0044 0532 0130 00, SSN 123-45-6789, " +
		"ip 203.0.113.42 and 2001:db8::1, Authorization: Bearer abcdefghijklmnop1234, api_key=Zx81Kq02LmP7vT4wRb9n, password: hunter2",
	"Hi, I am jane@example.com. Card 4111-1111-1111-1111. Call 555-234-5678.\n> old: bob@example.org",
	"password: letmein99",
}

func FuzzRedactText(f *testing.F) {
	for _, s := range redactSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		once, _ := RedactText(in)
		if utf8.ValidString(in) && !utf8.ValidString(once) {
			t.Errorf("RedactText(%q) = %q, which is not valid UTF-8", in, once)
		}
		twice, counts := RedactText(once)
		if twice != once {
			t.Errorf("second pass over %q changed %q to %q", in, once, twice)
		}
		if len(counts) != 0 {
			t.Errorf("second pass over %q counted %v in %q, want nothing", in, counts, once)
		}
	})
}
