package processors

import (
	"testing"

	"mailtriage/schemas"
)

func TestSampleRulesAcmeConditions(t *testing.T) {
	rs, err := LoadRules(sampleRulesFile)
	if err != nil {
		t.Fatal(err)
	}
	acme := func(change func(e *schemas.InboundEmail)) schemas.InboundEmail {
		e := email("support@acme.example", "Question", "Hello, I have a question about my account.")
		e.Tenant = "acme"
		change(&e)
		return e
	}
	tests := []struct {
		name     string
		email    schemas.InboundEmail
		wantRule string
	}{
		{"spam", acme(func(e *schemas.InboundEmail) { e.Auth.Spam = "spam" }), "acme-unauthenticated"},
		{"dmarc fail", acme(func(e *schemas.InboundEmail) { e.Auth.DMARC = "fail" }), "acme-unauthenticated"},
		{"spf fail without dkim", acme(func(e *schemas.InboundEmail) { e.Auth.SPF = "softfail" }), "acme-unauthenticated"},
		{"spf fail with dkim pass", acme(func(e *schemas.InboundEmail) { e.Auth.SPF, e.Auth.DKIM = "fail", "pass" }), ""},
		{"supplier pdf", acme(func(e *schemas.InboundEmail) {
			e.From = &schemas.Address{Address: "billing@eu.supplier.example"}
			e.Attachments = []schemas.Attachment{{ContentType: "application/pdf"}}
		}), "acme-supplier-invoices"},
		{"supplier without pdf", acme(func(e *schemas.InboundEmail) {
			e.From = &schemas.Address{Address: "billing@supplier.example"}
			e.Attachments = []schemas.Attachment{{ContentType: "image/png"}}
		}), ""},
		{"pdf from a customer", acme(func(e *schemas.InboundEmail) {
			e.Attachments = []schemas.Attachment{{ContentType: "application/pdf"}}
		}), ""},
		{"german", acme(func(e *schemas.InboundEmail) {
			e.Subject, e.Text = "Frage", "Guten Tag, ich habe eine Frage zu meinem Konto. Können Sie mir bitte helfen?"
		}), "acme-german"},
		{"english question", acme(func(e *schemas.InboundEmail) {}), ""},
		{"german mail to the default tenant", func() schemas.InboundEmail {
			e := email("support@shop.example", "Frage", "Guten Tag, ich habe eine Frage zu meinem Konto. Können Sie mir bitte helfen?")
			return e
		}(), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rule, why := rs.Match(&tt.email)
			got := ""
			if rule != nil {
				got = rule.ID
			}
			if got != tt.wantRule {
				t.Errorf("rule %q (on %s), want %q", got, why, tt.wantRule)
			}
		})
	}
}
