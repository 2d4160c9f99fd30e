package mime

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"mailtriage/schemas"
)

// maxCorpusSeedBytes leaves the few large corpus messages out of the fuzz
// seeds: the mutator works on one input at a time, and a megabyte input
// slows every execution without reaching code that smaller ones miss.
const maxCorpusSeedBytes = 64 << 10

// addCorpusSeeds adds every message of the shared corpus up to
// maxCorpusSeedBytes as a seed. Without the corpus, the fuzz target runs
// on its hand-written seeds only.
func addCorpusSeeds(f *testing.F) {
	list, err := os.ReadFile(filepath.Join(corpusDir, "MESSAGES"))
	if err != nil {
		f.Logf("corpus list not read (%v); fuzzing from the hand-written seeds only", err)
		return
	}
	for _, name := range strings.Fields(string(list)) {
		raw, err := os.ReadFile(filepath.Join(corpusDir, name))
		if err == nil && len(raw) <= maxCorpusSeedBytes {
			f.Add(raw)
		}
	}
}

var fuzzReceivedAt = time.Date(2025, time.March, 14, 9, 26, 53, 0, time.UTC)

func FuzzParseContract(f *testing.F) {
	addCorpusSeeds(f)
	f.Add([]byte(""))
	f.Add([]byte(" \r\n\t"))
	f.Add([]byte("Subject: =?utf-8?q?caf=C3=A9?= =?utf-8?b?w6k=?=\r\nFrom: \"A, B\" <a@b.c>\r\n\r\nbody"))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\nhi\r\n--x--\r\n"))
	f.Add([]byte("Subject: \xe9t\xe9\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\ncaf=E9=\r\n"))
	f.Add([]byte("no header at all, just text\n"))

	opts := Options{Tenant: "fuzz", Source: schemas.SourceImport, ReceivedAt: fuzzReceivedAt}
	f.Fuzz(func(t *testing.T, raw []byte) {
		parsed, err := Parse(raw, opts)
		switch {
		case parsed == nil && err == nil:
			t.Fatal("Parse returned neither a result nor an error")
		case parsed != nil && err != nil:
			t.Fatalf("Parse returned a result and the error %v", err)
		case err != nil:
			if !errors.Is(err, ErrNotMail) {
				t.Fatalf("Parse error %v does not wrap ErrNotMail", err)
			}
			return
		}

		email := &parsed.Email
		if field, ok := invalidUTF8Field(email); !ok {
			t.Fatalf("field %s is not valid UTF-8", field)
		}
		if len(parsed.Parts) != len(email.Attachments) {
			t.Fatalf("len(Parts) = %d, len(Attachments) = %d", len(parsed.Parts), len(email.Attachments))
		}
		if email.MessageID == "" {
			t.Fatal("MessageID is empty; Parse must synthesize one")
		}
		if email.Tenant != opts.Tenant || email.Source != opts.Source || !email.ReceivedAt.Equal(opts.ReceivedAt) {
			t.Fatalf("tenant/source/receivedAt = %q/%q/%s, want the options %q/%q/%s",
				email.Tenant, email.Source, email.ReceivedAt, opts.Tenant, opts.Source, opts.ReceivedAt)
		}

		again, err := Parse(raw, opts)
		if err != nil {
			t.Fatalf("a second Parse of the same bytes failed: %v", err)
		}
		if !reflect.DeepEqual(parsed, again) {
			t.Fatal("two Parse calls on the same bytes returned different results")
		}
		if _, err := schemas.Marshal(email); err != nil {
			t.Fatalf("the parsed message does not encode as an InboundEmail: %v", err)
		}
	})
}

func FuzzDecodeHeaderValue(f *testing.F) {
	for _, s := range []string{
		"=?utf-8?q?caf=C3=A9?= =?utf-8?b?w6k=?=", "=?iso-8859-1?Q?Andr=E9 Pirard?=", "=?koi8-r?B?8NLJ18XU?=",
		"=?x-unknown?q?a b?=", "=?utf-8*fr?b?w6k?=", "\x1b$B$3$s$K$A$O\x1b(B", "caf\xe9 cr\xe8me", "plain ascii", "=?",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		decoded := decodeHeaderValue(value)
		if !utf8.ValidString(decoded) {
			t.Fatalf("decodeHeaderValue(%q) = %q, which is not valid UTF-8", value, decoded)
		}
		plain := utf8.ValidString(value) && !strings.Contains(value, "=?") && !strings.Contains(value, "\x1b")
		if plain && decoded != value {
			t.Fatalf("decodeHeaderValue(%q) = %q; a valid UTF-8 value without encoded words must stay as it is", value, decoded)
		}

		addresses, _ := parseAddressList(value)
		for i, a := range addresses {
			if !utf8.ValidString(a.Name) || !utf8.ValidString(a.Address) {
				t.Fatalf("parseAddressList(%q)[%d] = %q <%q>, which is not valid UTF-8", value, i, a.Name, a.Address)
			}
		}
	})
}

func FuzzReplyText(f *testing.F) {
	for _, s := range []string{
		"Thanks, that works.\n\nOn Mon, 3 Mar 2025 at 10:00, Ana <ana@example.org> wrote:\n> old text\n> more",
		"Inline answer\n> question one\nanswer one\n> question two\nanswer two",
		"Hi\r\n-----Original Message-----\r\nFrom: x\r\nSent: y\r\n\r\nold",
		"Body\n-- \nSignature", "Danke!\n\nBeste Grüße\nAna Müller\n+49 30 1234567", "Sent from my iPhone", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		reply := ReplyText(text)
		if utf8.ValidString(text) && !utf8.ValidString(reply) {
			t.Fatalf("ReplyText(%q) = %q, which is not valid UTF-8", text, reply)
		}
		if reply != strings.TrimSpace(reply) {
			t.Fatalf("ReplyText(%q) = %q, which has white space around it", text, reply)
		}

		if reply == "" {
			return
		}
		inputLines := map[string]bool{}
		for _, line := range strings.Split(normalizeNewlines(text), "\n") {
			inputLines[strings.TrimSpace(line)] = true
		}
		for _, line := range strings.Split(reply, "\n") {
			trimmed := strings.TrimSpace(line)
			if strings.HasPrefix(trimmed, ">") {
				t.Fatalf("ReplyText(%q) kept the quoted line %q", text, line)
			}
			if !inputLines[trimmed] {
				t.Fatalf("ReplyText(%q) returned the line %q, which is not a line of the input", text, line)
			}
		}
	})
}
