package processors

import (
	"strings"
	"testing"

	"mailtriage/schemas"
)

// oneRule returns a ruleset whose only rule, "r", has the condition when
// (a YAML flow mapping).
func oneRule(t *testing.T, when string) *Ruleset {
	t.Helper()
	rs, err := ParseRules("rules.yaml", []byte("version: \"1\"\nrules:\n  - id: r\n    when: "+when+"\n    then: {queue: q}\n"))
	if err != nil {
		t.Fatalf("ParseRules(when %s): %v", when, err)
	}
	return rs
}

func TestRuleConditionKinds(t *testing.T) {
	base := func() schemas.InboundEmail {
		return email("support@shop.example", "Question about my account", "Hello, I have a question.")
	}
	with := func(change func(e *schemas.InboundEmail)) schemas.InboundEmail {
		e := base()
		change(&e)
		return e
	}
	withAuth := func(a schemas.Auth) schemas.InboundEmail {
		return with(func(e *schemas.InboundEmail) { e.Auth = a })
	}
	withAttachments := func(types ...string) schemas.InboundEmail {
		return with(func(e *schemas.InboundEmail) {
			for _, ct := range types {
				e.Attachments = append(e.Attachments, schemas.Attachment{ContentType: ct})
			}
		})
	}
	withText := func(subject, body string) schemas.InboundEmail {
		return with(func(e *schemas.InboundEmail) { e.Subject, e.Text = subject, body })
	}

	tests := []struct {
		name    string
		when    string
		email   schemas.InboundEmail
		match   bool
		wantWhy string // exact Reason detail part when match is true
	}{
		// Recipients: To, Cc and the SMTP envelope.
		{"alias in To", `{alias: support}`, base(), true, `alias "support"`},
		{"alias in Cc", `{alias: billing}`, with(func(e *schemas.InboundEmail) {
			e.Cc = []schemas.Address{{Address: "Billing@Shop.example"}}
		}), true, `alias "billing"`},
		{"alias in RCPT TO only", `{alias: billing}`, with(func(e *schemas.InboundEmail) {
			e.Envelope = &schemas.Envelope{RcptTo: []string{"<billing+eu@shop.example>"}}
		}), true, `alias "billing"`},
		{"alias other", `{alias: billing}`, base(), false, ""},
		{"subaddress in To", `{subaddress: [orders, refunds]}`, with(func(e *schemas.InboundEmail) {
			e.To = []schemas.Address{{Address: "support+Refunds@shop.example"}}
		}), true, `subaddress "refunds"`},
		{"subaddress in RCPT TO", `{subaddress: vip}`, with(func(e *schemas.InboundEmail) {
			e.Envelope = &schemas.Envelope{RcptTo: []string{"support+vip@shop.example"}}
		}), true, `subaddress "vip"`},
		{"subaddress absent", `{subaddress: vip}`, base(), false, ""},

		// Sender: local part, whole address and domain of From and MAIL FROM.
		{"from local part", `{from: jane}`, base(), true, `from "jane"`},
		{"from local part other", `{from: john}`, base(), false, ""},
		{"from_address exact", `{from_address: Jane@Customer.example}`, base(), true, `from_address at "customer.example"`},
		{"from_address without subaddress", `{from_address: alerts@vendor.example}`, with(func(e *schemas.InboundEmail) {
			e.From = &schemas.Address{Address: "alerts+eu@vendor.example"}
		}), true, `from_address at "vendor.example"`},
		{"from_address MAIL FROM", `{from_address: bounces@vendor.example}`, with(func(e *schemas.InboundEmail) {
			e.Envelope = &schemas.Envelope{MailFrom: "bounces@vendor.example"}
		}), true, `from_address at "vendor.example"`},
		{"from_address other", `{from_address: john@customer.example}`, base(), false, ""},
		{"from_domain exact", `{from_domain: customer.example}`, base(), true, `from_domain "customer.example"`},
		{"from_domain subdomain", `{from_domain: vendor.example}`, with(func(e *schemas.InboundEmail) {
			e.From = &schemas.Address{Address: "noreply@mail.vendor.example"}
		}), true, `from_domain "vendor.example"`},
		{"from_domain suffix is not subdomain", `{from_domain: customer.example}`, with(func(e *schemas.InboundEmail) {
			e.From = &schemas.Address{Address: "x@badcustomer.example"}
		}), false, ""},
		{"from_domain no sender", `{from_domain: customer.example}`, with(func(e *schemas.InboundEmail) { e.From = nil }), false, ""},

		// Subject and body: keywords and regexes.
		{"subject keyword", `{subject_keywords: [account]}`, base(), true, `subject keyword "account"`},
		{"subject keyword only in body", `{subject_keywords: [question]}`, withText("Hi", "A question"), false, ""},
		{"body keyword", `{body_keywords: [Question]}`, base(), true, `body keyword "question"`},
		{"body keyword whole word", `{body_keywords: [quest]}`, base(), false, ""},
		{"keyword either", `{keywords: [hello]}`, base(), true, `subject or body keyword "hello"`},
		{"subject regex", `{subject_regex: '(?i)^question'}`, base(), true, `subject matches /(?i)^question/`},
		{"subject regex case", `{subject_regex: '^question'}`, base(), false, ""},
		{"body regex", `{body_regex: 'I have \w+'}`, base(), true, `body matches /I have \w+/`},
		{"body regex no match", `{body_regex: 'refund'}`, base(), false, ""},

		// Headers.
		{"header present", `{header: {name: x-priority, present: true}}`, with(func(e *schemas.InboundEmail) {
			e.Headers = []schemas.Header{{Name: "X-Priority", Value: "1"}}
		}), true, `header x-priority present`},
		{"header absent", `{header: {name: X-Priority, present: false}}`, base(), true, `header X-Priority absent`},
		{"header present missing", `{header: {name: X-Priority, present: true}}`, base(), false, ""},
		{"header equals", `{header: {name: Precedence, equals: BULK}}`, email("a@b.example", "s", "b", "Precedence", " bulk "), true, `header Precedence equals "BULK"`},
		{"header equals other", `{header: {name: Precedence, equals: bulk}}`, email("a@b.example", "s", "b", "Precedence", "list"), false, ""},
		{"header matches", `{header: {name: Received, matches: 'from mx\d'}}`, email("a@b.example", "s", "b", "Received", "from mx1"), true, `header Received matches /from mx\d/`},

		// Attachments.
		{"attachment exact type", `{attachment_types: [application/pdf]}`, withAttachments("image/png", "application/pdf"), true, `attachment type "application/pdf"`},
		{"attachment wildcard subtype", `{attachment_types: [image/*]}`, withAttachments("image/png"), true, `attachment type "image/*"`},
		{"attachment wildcard other type", `{attachment_types: [image/*]}`, withAttachments("application/pdf"), false, ""},
		{"attachment type prefix is not a type", `{attachment_types: [image/*]}`, withAttachments("imagex/png"), false, ""},
		{"attachment any", `{attachment_types: ['*/*']}`, withAttachments("text/calendar"), true, `attachment type "*/*"`},
		{"attachment any without attachments", `{attachment_types: ['*/*']}`, base(), false, ""},
		{"attachment type with parameters", `{attachment_types: [text/calendar]}`, withAttachments("Text/Calendar; method=REQUEST"), true, `attachment type "text/calendar"`},

		// Authentication and spam verdicts.
		{"spf fail", `{spf: [fail, softfail]}`, withAuth(schemas.Auth{SPF: "softfail"}), true, `spf softfail`},
		{"spf pass", `{spf: [fail, softfail]}`, withAuth(schemas.Auth{SPF: "pass"}), false, ""},
		{"spf unknown", `{spf: unknown}`, withAuth(schemas.Auth{}), true, `spf unknown`},
		{"dkim fail", `{dkim: fail}`, withAuth(schemas.Auth{DKIM: "fail"}), true, `dkim fail`},
		{"dkim pass", `{dkim: fail}`, withAuth(schemas.Auth{DKIM: "pass"}), false, ""},
		{"dmarc fail", `{dmarc: FAIL}`, withAuth(schemas.Auth{DMARC: "fail"}), true, `dmarc fail`},
		{"dmarc none", `{dmarc: fail}`, withAuth(schemas.Auth{DMARC: "none"}), false, ""},
		{"spam true", `{spam: true}`, withAuth(schemas.Auth{Spam: "spam"}), true, `spam verdict spam`},
		{"spam true on ham", `{spam: true}`, withAuth(schemas.Auth{Spam: "ham"}), false, ""},
		{"spam false on ham", `{spam: false}`, withAuth(schemas.Auth{Spam: "ham"}), true, `spam verdict ham`},
		{"spam false on unknown", `{spam: false}`, withAuth(schemas.Auth{}), false, ""},

		// Language of subject and body.
		{"language de", `{language: [de, fr]}`, withText("Rechnung", "Hallo, ich habe meine Rechnung noch nicht bekommen. Können Sie mir bitte helfen?"), true, `language de`},
		{"language fr", `{language: [de, fr]}`, withText("Facture", "Bonjour, je n'ai pas encore reçu ma facture. Pouvez-vous m'aider s'il vous plaît ?"), true, `language fr`},
		{"language en not listed", `{language: [de, fr]}`, withText("Invoice", "Hello, I have not received my invoice yet. Could you please help me?"), false, ""},
		{"language undetermined", `{language: [en]}`, withText("", "Ok"), false, ""},

		// Combinations.
		{"two keys all hold", `{alias: support, from_domain: customer.example}`, base(), true, `alias "support" and from_domain "customer.example"`},
		{"two keys one fails", `{alias: support, from_domain: vendor.example}`, base(), false, ""},
		{"all", `{all: [{alias: support}, {keywords: [question]}]}`, base(), true, `alias "support" and subject or body keyword "question"`},
		{"all one fails", `{all: [{alias: support}, {spam: true}]}`, base(), false, ""},
		{"any second", `{any: [{alias: billing}, {from: jane}]}`, base(), true, `from "jane"`},
		{"any none", `{any: [{alias: billing}, {from: john}]}`, base(), false, ""},
		{"not", `{not: {spam: true}}`, base(), true, `not (spam true)`},
		{"not holds child", `{not: {alias: support}}`, base(), false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := oneRule(t, tt.when)
			e := tt.email
			rule, why := rs.Match(&e)
			if got := rule != nil; got != tt.match {
				t.Fatalf("when %s: matched = %v, want %v (why %q)", tt.when, got, tt.match, why)
			}
			if why != tt.wantWhy {
				t.Errorf("when %s: why = %q, want %q", tt.when, why, tt.wantWhy)
			}
		})
	}
}

func TestRulePriorityOrder(t *testing.T) {
	rs, err := ParseRules("rules.yaml", []byte(`version: "3"
rules:
  - id: first
    when: {keywords: [refund]}
    then: {queue: billing}
  - id: second
    when: {keywords: [refund, order]}
    then: {queue: orders}
tenants:
  acme:
    rules:
      - id: acme-own
        when: {keywords: [order]}
        then: {queue: acme-orders}
  beta:
    include_default: true
    rules:
      - id: beta-own
        when: {keywords: [order]}
        then: {queue: beta-orders}
`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		tenant, body, wantRule string
	}{
		{"default", "A refund for my order", "first"},     // both match, the first listed wins
		{"default", "Where is my order", "second"},        // only the second matches
		{"acme", "A refund for my order", "acme-own"},     // acme has its own list
		{"acme", "A refund please", ""},                   // and does not fall back to the default list
		{"beta", "A refund for my order", "beta-own"},     // beta's own rules come first
		{"beta", "A refund please", "first"},              // then the default list
		{"unknown-tenant", "Where is my order", "second"}, // other tenants use the default list
	}
	for _, tt := range tests {
		e := email("support@shop.example", "Hello", tt.body)
		e.Tenant = tt.tenant
		rule, _ := rs.Match(&e)
		got := ""
		if rule != nil {
			got = rule.ID
		}
		if got != tt.wantRule {
			t.Errorf("tenant %s, body %q: rule %q, want %q", tt.tenant, tt.body, got, tt.wantRule)
		}
	}
}

func TestRuleLanguageDetectedOnce(t *testing.T) {
	rs := oneRule(t, `{any: [{language: fr}, {language: de}, {language: en}]}`)
	e := email("support@shop.example", "Question", "Hello, I have not received my invoice yet. Could you please help me?")
	in := newMatchInput(&e)
	in.keywords = rs.keywordSet()
	if ok, why := rs.defaultRules[0].when.match(in); !ok || why != "language en" {
		t.Fatalf("match = %v, %q; want true, language en", ok, why)
	}
	if !in.languageDetected || in.language != "en" {
		t.Errorf("after matching: languageDetected %v, language %q; want true, en", in.languageDetected, in.language)
	}

	noLanguage := oneRule(t, `{alias: support}`)
	in = newMatchInput(&e)
	in.keywords = noLanguage.keywordSet()
	noLanguage.defaultRules[0].when.match(in)
	if in.languageDetected {
		t.Error("a ruleset without a language condition detected the language")
	}
}

func TestRuleConditionStrings(t *testing.T) {
	// String describes a condition in "rules test" output and errors; it
	// names the rule's values, never a whole sender address.
	rs := oneRule(t, `{all: [{from_address: [a@x.example, b@y.example]}, {attachment_types: [image/*]}, {spf: fail}, {language: de}]}`)
	got := rs.defaultRules[0].when.String()
	want := `all (from_address in 2 addresses; attachment_types in ["image/*"]; spf in ["fail"]; language in ["de"])`
	if got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if strings.Contains(got, "@") {
		t.Errorf("String() %q contains an address", got)
	}
}
