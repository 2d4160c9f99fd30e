package mime

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"mailtriage/schemas"
)

// corpusDir is the shared MIME corpus, two folders above the repository.
const corpusDir = "../../../shared/corpus/mime"

// corpusMessages returns the paths listed in the corpus MESSAGES file, or
// skips the test when the shared corpus is not checked out beside the repo.
func corpusMessages(t testing.TB) []string {
	t.Helper()
	list, err := os.ReadFile(filepath.Join(corpusDir, "MESSAGES"))
	if os.IsNotExist(err) {
		t.Skipf("corpus list %s not found; check out the shared folder beside the repository to run this test", filepath.Join(corpusDir, "MESSAGES"))
	}
	if err != nil {
		t.Fatalf("reading corpus list: %v", err)
	}
	return strings.Fields(string(list))
}

func readCorpusFile(t testing.TB, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(corpusDir, name))
	if os.IsNotExist(err) {
		t.Skipf("corpus file %s not found; check out the shared folder beside the repository", name)
	}
	if err != nil {
		t.Fatalf("reading %s: %v", name, err)
	}
	return raw
}

func parseCorpusFile(t *testing.T, name string) *Parsed {
	t.Helper()
	parsed, err := Parse(readCorpusFile(t, name), Options{Tenant: "acme", Source: schemas.SourceImport})
	if err != nil {
		t.Fatalf("Parse(%s) error: %v", name, err)
	}
	return parsed
}

func TestParseEveryCorpusMessage(t *testing.T) {
	names := corpusMessages(t)
	if len(names) < 250 {
		t.Fatalf("corpus list holds %d messages, expected at least 250", len(names))
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			parsed := parseCorpusFile(t, name)
			if _, err := json.Marshal(parsed.Email); err != nil {
				t.Fatalf("json.Marshal: %v", err)
			}
			if got, exp := len(parsed.Parts), len(parsed.Email.Attachments); got != exp {
				t.Errorf("len(Parts) = %d, expected one per attachment (%d)", got, exp)
			}
			if field, ok := invalidUTF8Field(&parsed.Email); !ok {
				t.Errorf("field %s is not valid UTF-8", field)
			}
			if parsed.Email.MessageID == "" || strings.ContainsAny(parsed.Email.MessageID, "<>") {
				t.Errorf("MessageID = %q, expected a non-empty ID without angle brackets", parsed.Email.MessageID)
			}
		})
	}
}

// invalidUTF8Field returns the name of the first string field of email that
// is not valid UTF-8, and false; or "", true when all are valid.
func invalidUTF8Field(email *schemas.InboundEmail) (string, bool) {
	type named struct{ name, value string }
	values := []named{
		{"MessageID", email.MessageID}, {"Subject", email.Subject}, {"Text", email.Text},
		{"HTML", email.HTML}, {"ReplyText", email.ReplyText},
	}
	addresses := append(append(append([]schemas.Address{}, email.To...), email.Cc...), email.ReplyTo...)
	if email.From != nil {
		addresses = append(addresses, *email.From)
	}
	for _, a := range addresses {
		values = append(values, named{"address name", a.Name}, named{"address", a.Address})
	}
	for _, h := range email.Headers {
		values = append(values, named{"header name", h.Name}, named{"header " + h.Name, h.Value})
	}
	for _, a := range email.Attachments {
		values = append(values,
			named{"attachment filename", a.Filename}, named{"attachment text", a.Text},
			named{"attachment content ID", a.ContentID}, named{"attachment content type", a.ContentType})
	}
	for _, w := range email.Warnings {
		values = append(values, named{"warning", w})
	}
	for _, id := range append(append([]string{}, email.InReplyTo...), email.References...) {
		values = append(values, named{"message ID list", id})
	}

	for _, v := range values {
		if !utf8.ValidString(v.value) {
			return v.name, false
		}
	}
	return "", true
}

func FuzzParse(f *testing.F) {
	seeds := []string{
		"mikel-mail/multi_charset/japanese_iso_2022.eml",
		"enmime/mail/html-mime-inline.raw",
		"enmime/mail/multipart-wo-boundary.raw",
		"enmime/parts/multi-malformed.raw",
		"mikel-mail/mime_emails/raw_email_with_illegal_boundary.eml",
		"mimekit/messages/simple-embedded-message.eml",
		"php-mime-mail-parser/issue163",
	}
	for _, name := range seeds {
		if raw, err := os.ReadFile(filepath.Join(corpusDir, name)); err == nil {
			f.Add(raw)
		}
	}
	f.Add([]byte("Subject: =?koi8-r?B?8NLJ18XU?=\r\nReferences: <a@x><b@y>\r\n\r\nhi\r\n"))
	f.Add([]byte("From x\nContent-Type: multipart/mixed\n\n--b\nContent-Type: text/plain\n\nx\n--b--\n"))

	f.Fuzz(func(t *testing.T, raw []byte) {
		parsed, err := Parse(raw, Options{Tenant: "fuzz", Source: schemas.SourceImport})
		if err != nil {
			return
		}
		if field, ok := invalidUTF8Field(&parsed.Email); !ok {
			t.Fatalf("field %s is not valid UTF-8", field)
		}
		if len(parsed.Parts) != len(parsed.Email.Attachments) {
			t.Fatalf("len(Parts) = %d, len(Attachments) = %d", len(parsed.Parts), len(parsed.Email.Attachments))
		}
	})
}
