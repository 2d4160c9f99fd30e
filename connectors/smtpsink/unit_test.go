package smtpsink

import (
	"bytes"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jhillyerd/enmime/v2"

	"mailtriage/schemas"
)

func TestParseLimits(t *testing.T) {
	got, err := ParseLimits("1/24h, 3/1h")
	if err != nil {
		t.Fatalf("ParseLimits: %v", err)
	}
	if len(got) != 2 || got[0] != (Limit{1, 24 * time.Hour}) || got[1] != (Limit{3, time.Hour}) {
		t.Errorf("ParseLimits = %v, expected [1/24h 3/1h]", got)
	}
	if off, err := ParseLimits("none"); err != nil || off == nil || len(off) != 0 {
		t.Errorf("ParseLimits(none) = %v, %v; expected an empty non-nil list", off, err)
	}
	for _, bad := range []string{"0/1h", "1", "x/1h", "1/-1h", "1/day"} {
		if _, err := ParseLimits(bad); err == nil {
			t.Errorf("ParseLimits(%q): expected an error", bad)
		}
	}
}

func TestTemplatesFallback(t *testing.T) {
	templates, err := LoadTemplates(testTemplatesDir)
	if err != nil {
		t.Fatalf("LoadTemplates: %v", err)
	}
	tests := []struct {
		tenant, queue string
		subject       string
		text          string
	}{
		{"acme", "billing", "[#T-0000000001] Billing request received: Invoice", "Acme billing team"},
		{"acme", "general", "[#T-0000000001] Re: Invoice", "Thank you for writing to us"},
		{"other", "billing", "[#T-0000000001] Re: Invoice", "Thank you for writing to us"},
	}
	for _, tt := range tests {
		got, err := templates.Render(TemplateData{Tenant: tt.tenant, Queue: tt.queue, TicketRef: "T-0000000001", Subject: "Invoice", RequesterName: "Ana"})
		if err != nil {
			t.Fatalf("Render(%s/%s): %v", tt.tenant, tt.queue, err)
		}
		if got.Subject != tt.subject {
			t.Errorf("%s/%s subject = %q, expected %q", tt.tenant, tt.queue, got.Subject, tt.subject)
		}
		if !strings.Contains(got.Text, tt.text) || !strings.Contains(got.Text, "Hello Ana") {
			t.Errorf("%s/%s text lacks %q or the greeting:\n%s", tt.tenant, tt.queue, tt.text, got.Text)
		}
	}
}

func TestTemplatesEscapeHTML(t *testing.T) {
	templates, err := LoadTemplates(testTemplatesDir)
	if err != nil {
		t.Fatalf("LoadTemplates: %v", err)
	}
	got, err := templates.Render(TemplateData{Tenant: "acme", Queue: "billing", TicketRef: "T-0000000001", Subject: "<script>x</script>", RequesterName: "A&B"})
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	if strings.Contains(got.HTML, "<script>") || !strings.Contains(got.HTML, "A&amp;B") {
		t.Errorf("HTML not escaped:\n%s", got.HTML)
	}
}

func TestTemplatesRejectBadFolder(t *testing.T) {
	write := func(dir, name, text string) {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	missingDefault := t.TempDir()
	write(missingDefault, "acme/default.text.tmpl", "x")
	write(missingDefault, "acme/default.html.tmpl", "x")
	if _, err := LoadTemplates(missingDefault); err == nil || !strings.Contains(err.Error(), "default.text.tmpl") {
		t.Errorf("without default/default: err = %v, expected one naming default.text.tmpl", err)
	}

	badField := t.TempDir()
	write(badField, "default/default.text.tmpl", "{{.Body}}")
	write(badField, "default/default.html.tmpl", "x")
	if _, err := LoadTemplates(badField); err == nil || !strings.Contains(err.Error(), "Body") {
		t.Errorf("with a missing field: err = %v, expected one naming Body", err)
	}

	halfPair := t.TempDir()
	write(halfPair, "default/default.text.tmpl", "x")
	write(halfPair, "default/default.html.tmpl", "x")
	write(halfPair, "acme/billing.text.tmpl", "x")
	if _, err := LoadTemplates(halfPair); err == nil || !strings.Contains(err.Error(), "billing.html.tmpl") {
		t.Errorf("with a text part alone: err = %v, expected one naming billing.html.tmpl", err)
	}
}

func TestBuildAcknowledgementHeaders(t *testing.T) {
	templates, err := LoadTemplates(testTemplatesDir)
	if err != nil {
		t.Fatalf("LoadTemplates: %v", err)
	}
	cmd := testCommand(1, "ana@customer.test")
	cmd.Subject = "Line one\r\nBcc: victim@evil.test"
	cmd.References = []string{"good@x.test", "bad id@x.test"}
	out, err := BuildAcknowledgement(&cmd, templates, mail.Address{Name: "Acme", Address: "support@acme.test"}, "mt.T-1000000001.ABCDEFGHJKMNPQRS@acme.test", time.Unix(0, 0))
	if err != nil {
		t.Fatalf("BuildAcknowledgement: %v", err)
	}
	env, err := enmime.ReadEnvelope(bytes.NewReader(out.Data))
	if err != nil {
		t.Fatalf("parsing: %v", err)
	}
	if got := env.GetHeader("Bcc"); got != "" {
		t.Errorf("subject injected a Bcc header %q", got)
	}
	if got := env.GetHeader("References"); got != "<good@x.test>" {
		t.Errorf("References = %q, expected only the valid ID", got)
	}
	if got := env.GetHeader("Message-ID"); got != "<mt.T-1000000001.ABCDEFGHJKMNPQRS@acme.test>" {
		t.Errorf("Message-ID = %q", got)
	}
	if out.To != "ana@customer.test" {
		t.Errorf("To = %q, expected ana@customer.test", out.To)
	}

	bad := cmd
	bad.To = schemas.Address{Address: "not an address"}
	if _, err := BuildAcknowledgement(&bad, templates, mail.Address{Address: "support@acme.test"}, "id@acme.test", time.Unix(0, 0)); err == nil {
		t.Error("BuildAcknowledgement with an invalid recipient: expected an error")
	}
}
