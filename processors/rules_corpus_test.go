package processors

import (
	"os"
	"path/filepath"
	"testing"

	"mailtriage/internal/mime"
	"mailtriage/schemas"
)

// corpusDir holds real messages collected from MIME libraries' test suites.
const corpusDir = "../../shared/corpus/mime"

func parseCorpusMessage(t *testing.T, name string) schemas.InboundEmail {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(corpusDir, name))
	if os.IsNotExist(err) {
		t.Skipf("corpus message %s not found under %s; the shared corpus is not checked out", name, corpusDir)
	}
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := mime.Parse(raw, mime.Options{Tenant: "default", Source: schemas.SourceImport})
	if err != nil {
		t.Fatalf("parsing %s: %v", name, err)
	}
	return parsed.Email
}

func TestRuleConditionsOnCorpus(t *testing.T) {
	tests := []struct {
		file    string
		when    string
		wantWhy string // "" when the rule must not match
	}{
		{"mikel-mail/attachment_emails/attachment_pdf_lf.eml", `{attachment_types: [application/pdf]}`, `attachment type "application/pdf"`},
		{"mikel-mail/attachment_emails/attachment_pdf_lf.eml", `{attachment_types: [image/*]}`, ""},
		{"mikel-mail/attachment_emails/attachment_pdf_lf.eml", `{language: en}`, "language en"},
		{"mikel-mail/multi_charset/japanese_iso_2022.eml", `{language: [ja]}`, "language ja"},
		{"mikel-mail/multi_charset/japanese_iso_2022.eml", `{language: [zh]}`, ""},
		// Received-SPF: neutral and X-Spam-Status: No.
		{"mikel-mail/error_emails/trademark_character_in_subject.eml", `{spf: neutral}`, "spf neutral"},
		{"mikel-mail/error_emails/trademark_character_in_subject.eml", `{spf: [fail, softfail]}`, ""},
		{"mikel-mail/error_emails/trademark_character_in_subject.eml", `{spam: false}`, "spam verdict ham"},
		{"mikel-mail/error_emails/trademark_character_in_subject.eml", `{from_domain: yahoo-example.com}`, `from_domain "yahoo-example.com"`},
		// A delivery status notification from MAILER-DAEMON.
		{"mikel-mail/multipart_report_emails/report_422.eml", `{all: [{from: mailer-daemon}, {attachment_types: [message/*]}]}`, `from "mailer-daemon" and attachment type "message/*"`},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.file)+" "+tt.when, func(t *testing.T) {
			e := parseCorpusMessage(t, tt.file)
			rule, why := oneRule(t, tt.when).Match(&e)
			if (rule != nil) != (tt.wantWhy != "") || why != tt.wantWhy {
				t.Errorf("when %s on %s: matched %v why %q, want why %q", tt.when, tt.file, rule != nil, why, tt.wantWhy)
			}
		})
	}
}
