package mime

import (
	"strings"
	"testing"

	"mailtriage/schemas"
)

func mustParse(t *testing.T, raw string) *schemas.InboundEmail {
	t.Helper()
	parsed, err := Parse([]byte(raw), Options{Tenant: "acme", Source: schemas.SourceSMTP})
	if err != nil {
		t.Fatalf("Parse error: %v", err)
	}
	return &parsed.Email
}

func expectWarning(t *testing.T, email *schemas.InboundEmail, want string) {
	t.Helper()
	if !containsSubstring(email.Warnings, want) {
		t.Errorf("Warnings %q contain no %q", email.Warnings, want)
	}
}

func expectAttachmentNames(t *testing.T, email *schemas.InboundEmail, names ...string) {
	t.Helper()
	if len(email.Attachments) != len(names) {
		t.Fatalf("got %d attachments %+v, expected %q", len(email.Attachments), email.Attachments, names)
	}
	for i, name := range names {
		if email.Attachments[i].Filename != name {
			t.Errorf("attachment %d filename = %q, expected %q", i, email.Attachments[i].Filename, name)
		}
	}
}

func TestRecoverMboxFromLine(t *testing.T) {
	email := mustParse(t, "From someone@example.com Mon Jan  1 00:00:00 2024\r\n"+
		"From: Ann <ann@example.com>\r\nSubject: hello\r\nMessage-ID: <m1@example.com>\r\n\r\nbody\r\n")

	if email.Subject != "hello" {
		t.Errorf("Subject = %q, expected hello", email.Subject)
	}
	if email.From == nil || email.From.Address != "ann@example.com" {
		t.Errorf("From = %+v, expected ann@example.com", email.From)
	}
	if email.Headers[0].Name != "From" {
		t.Errorf("first header = %q, expected From (the mbox line is not a header)", email.Headers[0].Name)
	}
	expectWarning(t, email, `leading mbox "From " line`)
}

func TestRecoverMultipartWithoutBoundaryParameter(t *testing.T) {
	email := mustParse(t, "Subject: x\nContent-Type: multipart/mixed\n\n"+
		"--XYZ\nContent-Type: text/plain\n\nfirst\n"+
		"--XYZ\nContent-Type: application/pdf; name=a.pdf\n\n%PDF\n--XYZ--\n")

	if strings.TrimSpace(email.Text) != "first" {
		t.Errorf("Text = %q, expected first", email.Text)
	}
	expectAttachmentNames(t, email, "a.pdf")
	expectWarning(t, email, `no boundary parameter; boundary "XYZ" found`)
}

func TestRecoverMultipartWithoutAnyDelimiter(t *testing.T) {
	email := mustParse(t, "Subject: x\nContent-Type: multipart/report\n\njust text\n")

	if strings.TrimSpace(email.Text) != "just text" {
		t.Errorf("Text = %q, expected the body as plain text", email.Text)
	}
	expectWarning(t, email, "has no delimiter line")
}

func TestRecoverIllegalUnquotedBoundary(t *testing.T) {
	email := mustParse(t, "Content-Type: multipart/alternative; boundary=----=_Next/Part:1\n\n"+
		"------=_Next/Part:1\nContent-Type: text/plain\n\nplain\n"+
		"------=_Next/Part:1\nContent-Type: text/html\n\n<p>html</p>\n------=_Next/Part:1--\n")

	if strings.TrimSpace(email.Text) != "plain" {
		t.Errorf("Text = %q, expected plain", email.Text)
	}
	if strings.TrimSpace(email.HTML) != "<p>html</p>" {
		t.Errorf("HTML = %q, expected <p>html</p>", email.HTML)
	}
}

func TestRecoverDoublyQuotedBoundary(t *testing.T) {
	email := mustParse(t, "Content-Type: multipart/mixed; boundary=\"'abc'\"\n\n"+
		"--abc\nContent-Type: text/plain\n\none\n--abc\nContent-Type: image/png; name=i.png\n\nPNG\n--abc--\n")

	if strings.TrimSpace(email.Text) != "one" {
		t.Errorf("Text = %q, expected one", email.Text)
	}
	expectAttachmentNames(t, email, "i.png")
}

func TestRecoverFoldedBoundaryParameter(t *testing.T) {
	email := mustParse(t, "Content-Type: multipart/mixed; boundary=\"----=_Part_1\r\n _2\"\r\n\r\n"+
		"------=_Part_1_2\r\nContent-Type: text/plain\r\n\r\nfolded\r\n"+
		"------=_Part_1_2\r\nContent-Type: application/zip; name=z.zip\r\n\r\nPK\r\n------=_Part_1_2--\r\n")

	if strings.TrimSpace(email.Text) != "folded" {
		t.Errorf("Text = %q, expected folded", email.Text)
	}
	expectAttachmentNames(t, email, "z.zip")
	expectWarning(t, email, "does not match the body")
}

func TestRecoverBinaryTransferEncoding(t *testing.T) {
	binary := "\x00\x01\xff\xfe\r\n\x80"
	raw := "Content-Type: multipart/mixed; boundary=b\n\n" +
		"--b\nContent-Type: text/plain\n\nhi\n" +
		"--b\nContent-Type: application/octet-stream; name=blob.bin\nContent-Transfer-Encoding: binary\n\n" + binary + "\n--b--\n"
	parsed, err := Parse([]byte(raw), Options{})
	if err != nil {
		t.Fatalf("Parse error: %v", err)
	}

	expectAttachmentNames(t, &parsed.Email, "blob.bin")
	if string(parsed.Parts[0]) != binary {
		t.Errorf("attachment bytes = %q, expected %q", parsed.Parts[0], binary)
	}
}

func TestRecoverHeaderLineWithoutColon(t *testing.T) {
	email := mustParse(t, "Subject: one\nReferences: <a@x>\n<b@y>\nTo: bob@example.com\n\nbody\n")

	if len(email.References) != 2 || email.References[1] != "b@y" {
		t.Errorf("References = %q, expected [a@x b@y]", email.References)
	}
	if len(email.To) != 1 || email.To[0].Address != "bob@example.com" {
		t.Errorf("To = %+v, expected bob@example.com", email.To)
	}
	expectWarning(t, email, "header line without a colon")
}

func TestRecoverMissingBlankLineAfterHeader(t *testing.T) {
	email := mustParse(t, "Subject: s\nContent-Type: multipart/mixed; boundary=q\n"+
		"This is a multi-part message.\n--q\nContent-Type: text/plain\n\nkept\n--q--\n")

	if strings.TrimSpace(email.Text) != "kept" {
		t.Errorf("Text = %q, expected kept", email.Text)
	}
	expectWarning(t, email, "no blank line between header and body")
}

func TestRecoverPartWithoutHeaders(t *testing.T) {
	email := mustParse(t, "Content-Type: multipart/mixed; boundary=b\n\n"+
		"--b\nContent-Type: text/plain\n\none\n--b\nno header here\n--b--\n")

	if email.Text != "one\n\nno header here" {
		t.Errorf("Text = %q, expected both parts joined by a blank line", email.Text)
	}
}

func TestRecoverNestedMultipartWithoutBoundary(t *testing.T) {
	email := mustParse(t, "Content-Type: multipart/mixed; boundary=outer\n\n"+
		"--outer\nContent-Type: multipart/alternative\n\n"+
		"--inner\nContent-Type: text/plain\n\ninner text\n--inner\nContent-Type: text/html\n\n<b>inner</b>\n--inner--\n"+
		"--outer--\n")

	if strings.TrimSpace(email.Text) != "inner text" {
		t.Errorf("Text = %q, expected inner text", email.Text)
	}
	if strings.TrimSpace(email.HTML) != "<b>inner</b>" {
		t.Errorf("HTML = %q, expected <b>inner</b>", email.HTML)
	}
	expectWarning(t, email, `boundary "inner" found in the content`)
}

func TestParseTextPartWithoutContentType(t *testing.T) {
	email := mustParse(t, "Content-Type: multipart/mixed; boundary=b\n\n"+
		"--b\n\nno content type\n--b\nContent-Type: text/plain\n\nsecond\n--b--\n")

	if email.Text != "no content type\n\nsecond" {
		t.Errorf("Text = %q, expected both text parts in order", email.Text)
	}
	if len(email.Attachments) != 0 {
		t.Errorf("got %d attachments, expected none", len(email.Attachments))
	}
}

func TestParseHTMLOnlyDerivesText(t *testing.T) {
	email := mustParse(t, "Content-Type: text/html; charset=utf-8\n\n<p>Hello <b>world</b></p>\n")

	if !strings.Contains(email.Text, "Hello") || !strings.Contains(email.Text, "world") {
		t.Errorf("Text = %q, expected text derived from the HTML", email.Text)
	}
	expectWarning(t, email, "text derived from the HTML")
}

func TestParseSynthesizesStableMessageID(t *testing.T) {
	raw := "Subject: no id\n\nbody\n"
	first := mustParse(t, raw)
	second := mustParse(t, raw)

	if !strings.HasPrefix(first.MessageID, "sha256-") || !strings.HasSuffix(first.MessageID, "@mailtriage.invalid") {
		t.Errorf("MessageID = %q, expected sha256-<hex>@mailtriage.invalid", first.MessageID)
	}
	if first.MessageID != second.MessageID {
		t.Errorf("MessageID differs between parses: %q and %q", first.MessageID, second.MessageID)
	}
	expectWarning(t, first, "Message-ID header missing")
}

func TestParseRejectsInputThatIsNotMail(t *testing.T) {
	for name, raw := range map[string]string{"empty": "", "whitespace": " \r\n\t\n", "blank header and body": "\n\n\n"} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(raw), Options{})
			if err == nil {
				t.Fatal("Parse returned no error, expected ErrNotMail")
			}
			if !strings.Contains(err.Error(), "not an email message") {
				t.Errorf("error = %q, expected it to name the problem", err)
			}
		})
	}
}

func TestParseHeaderlessTextIsKept(t *testing.T) {
	email := mustParse(t, "just a line of text\nand another\n")

	if !strings.Contains(email.Text, "just a line of text") {
		t.Errorf("Text = %q, expected the input kept as body", email.Text)
	}
	expectWarning(t, email, "no blank line between header and body")
}

func TestParseOptionsFillContract(t *testing.T) {
	email := mustParse(t, "Message-ID: <id@x>\nSubject: s\n\nb\n")

	if email.Tenant != "acme" || email.Source != schemas.SourceSMTP {
		t.Errorf("Tenant, Source = %q, %q, expected acme, smtp", email.Tenant, email.Source)
	}
	if email.ReceivedAt.IsZero() {
		t.Error("ReceivedAt is zero, expected the parse time")
	}
	if email.MessageID != "id@x" {
		t.Errorf("MessageID = %q, expected id@x", email.MessageID)
	}
}

func TestParseSkipsLeadingWhitespace(t *testing.T) {
	tests := []struct {
		name string
		raw  string
	}{
		{"spaces before first field", "   From: Ana <ana@example.com>\nSubject: Hi\n\nBody\n"},
		{"blank lines before first field", "\n\n  \nFrom: Ana <ana@example.com>\nSubject: Hi\n\nBody\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse([]byte(tt.raw), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if p.Email.Subject != "Hi" {
				t.Errorf("subject = %q, want %q", p.Email.Subject, "Hi")
			}
			if p.Email.Text != "Body\n" && p.Email.Text != "Body" {
				t.Errorf("text = %q, want the body line", p.Email.Text)
			}
			if !containsWarning(p.Email.Warnings, "before the first header field skipped") {
				t.Errorf("warnings = %q, want one about the skipped whitespace", p.Email.Warnings)
			}
		})
	}
}

func TestParseKeepsHeaderlessText(t *testing.T) {
	p, err := Parse([]byte("\n  just some notes\nno header here\n"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Email.Headers) != 0 {
		t.Errorf("headers = %v, want none", p.Email.Headers)
	}
}

func containsWarning(warnings []string, part string) bool {
	for _, w := range warnings {
		if strings.Contains(w, part) {
			return true
		}
	}
	return false
}
