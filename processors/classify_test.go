package processors

import (
	"context"
	"errors"
	"slices"
	"testing"

	"mailtriage/schemas"
)

// classifyRules has one rule per condition kind, each with its own queue,
// so the queue tells which rule matched.
const classifyRules = `version: "test-3"
rules:
  - id: alias
    when: {alias: [billing, invoices]}
    then: {queue: q-alias, priority: high, tags: [a, b], skip_auto_reply: true}
  - id: subaddress
    when: {subaddress: refunds}
    then: {queue: q-subaddress}
  - id: from
    when: {from: mailer-daemon}
    then: {queue: q-from}
  - id: subject-keywords
    when: {subject_keywords: [invoice, "can't log in"]}
    then: {queue: q-subject-keywords}
  - id: body-keywords
    when: {body_keywords: [tracking number]}
    then: {queue: q-body-keywords}
  - id: keywords
    when: {keywords: [2FA]}
    then: {queue: q-keywords}
  - id: subject-regex
    when: {subject_regex: '^\[ticket-\d+\]'}
    then: {queue: q-subject-regex}
  - id: body-regex
    when: {body_regex: '(?i)order\s+#?\d{5,}'}
    then: {queue: q-body-regex}
  - id: header-present
    when: {header: {name: X-Autoreply, present: true}}
    then: {queue: q-header-present}
  - id: header-equals
    when: {header: {name: precedence, equals: BULK}}
    then: {queue: q-header-equals}
  - id: header-matches
    when: {header: {name: Content-Type, matches: '(?i)^multipart/report'}}
    then: {queue: q-header-matches}
  - id: all
    when:
      all:
        - alias: sales
        - keywords: [quote]
    then: {queue: q-all}
  - id: any
    when:
      any:
        - alias: press
        - keywords: [journalist]
    then: {queue: q-any}
  - id: not
    when:
      alias: partners
      not: {keywords: [spam]}
    then: {queue: q-not}
`

// email builds a message to rcpt with subject and body and optional
// headers given as name, value pairs.
func email(rcpt, subject, body string, headers ...string) schemas.InboundEmail {
	e := schemas.InboundEmail{
		Tenant:    "default",
		MessageID: "id-1@example.net",
		From:      &schemas.Address{Name: "Jane", Address: "jane@customer.example"},
		To:        []schemas.Address{{Address: rcpt}},
		Subject:   subject,
		Text:      body,
	}
	for i := 0; i+1 < len(headers); i += 2 {
		e.Headers = append(e.Headers, schemas.Header{Name: headers[i], Value: headers[i+1]})
	}
	return e
}

func TestClassifyConditions(t *testing.T) {
	rs, err := ParseRules("rules.yaml", []byte(classifyRules))
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewClassify(ClassifyConfig{Rules: rs})
	if err != nil {
		t.Fatal(err)
	}

	support := "support@shop.example"
	tests := []struct {
		name      string
		email     schemas.InboundEmail
		wantQueue string
		wantRule  string // "" for fallback
	}{
		{"alias", email("Billing@shop.example", "hi", "hi"), "q-alias", "alias"},
		{"alias with subaddress", email("invoices+2024@shop.example", "hi", "hi"), "q-alias", "alias"},
		{"subaddress", email("support+Refunds@shop.example", "hi", "hi"), "q-subaddress", "subaddress"},
		{"from", func() schemas.InboundEmail {
			e := email(support, "failure", "x")
			e.From = &schemas.Address{Address: "MAILER-DAEMON@mx.example"}
			return e
		}(), "q-from", "from"},
		{"subject keyword", email(support, "Your INVOICE is wrong", "x"), "q-subject-keywords", "subject-keywords"},
		{"subject keyword curly apostrophe", email(support, "I can’t  log in", "x"), "q-subject-keywords", "subject-keywords"},
		{"subject keyword not inside word", email(support, "invoicesplease", "x"), "", ""},
		{"body keyword", email(support, "help", "Where is my Tracking\nNumber?"), "q-body-keywords", "body-keywords"},
		{"keyword in body", email(support, "help", "my 2fa code fails"), "q-keywords", "keywords"},
		{"keyword in subject", email(support, "2FA broken", "x"), "q-keywords", "keywords"},
		{"subject regex", email(support, "[ticket-123] follow up", "x"), "q-subject-regex", "subject-regex"},
		{"subject regex case-sensitive", email(support, "[TICKET-123] follow up", "x"), "", ""},
		{"body regex", email(support, "help", "About ORDER #123456 please"), "q-body-regex", "body-regex"},
		{"header present", email(support, "away", "x", "X-Autoreply", "yes"), "q-header-present", "header-present"},
		{"header equals ignores case", email(support, "news", "x", "Precedence", " bulk "), "q-header-equals", "header-equals"},
		{"header equals differs", email(support, "news", "x", "Precedence", "list"), "", ""},
		{"header matches", email(support, "dsn", "x", "content-type", "multipart/report; report-type=delivery-status"), "q-header-matches", "header-matches"},
		{"all holds", email("sales@shop.example", "Quote please", "x"), "q-all", "all"},
		{"all half", email("sales@shop.example", "hello", "x"), "", ""},
		{"any first", email("press@shop.example", "hello", "x"), "q-any", "any"},
		{"any second", email(support, "hello", "I am a journalist"), "q-any", "any"},
		{"not holds", email("partners@shop.example", "hello", "x"), "q-not", "not"},
		{"not blocked", email("partners@shop.example", "spam offer", "x"), "", ""},
		{"first match wins", email("billing@shop.example", "2FA invoice", "tracking number"), "q-alias", "alias"},
		{"fallback", email(support, "hello", "just saying hi"), "general", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &Message{Email: tt.email}
			res, err := c.Process(context.Background(), m)
			if err != nil || res != Continue {
				t.Fatalf("Process = %v, %v; want Continue, nil", res, err)
			}
			want := tt.wantQueue
			if want == "" {
				want = "general"
			}
			if m.Decision.Queue != want {
				t.Errorf("Queue = %q, want %q (reason %+v)", m.Decision.Queue, want, m.Decision.Reason)
			}
			r := m.Decision.Reason
			if r.RulesetVersion != "test-3" {
				t.Errorf("RulesetVersion = %q, want test-3", r.RulesetVersion)
			}
			if tt.wantRule == "" {
				if r.Kind != schemas.ReasonFallback || r.RuleID != "" {
					t.Errorf("Reason = %+v, want fallback without rule ID", r)
				}
				return
			}
			if r.Kind != schemas.ReasonRule || r.RuleID != tt.wantRule {
				t.Errorf("Reason = %+v, want rule %s", r, tt.wantRule)
			}
			if r.Detail == "" {
				t.Error("Reason.Detail is empty")
			}
		})
	}
}

func TestClassifyAppliesActions(t *testing.T) {
	rs, err := ParseRules("rules.yaml", []byte(classifyRules))
	if err != nil {
		t.Fatal(err)
	}
	c, _ := NewClassify(ClassifyConfig{Rules: rs, DefaultQueue: "triage"})

	m := &Message{Email: email("billing@shop.example", "hi", "hi")}
	if _, err := c.Process(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	d := m.Decision
	if d.Priority != "high" || !slices.Equal(d.Tags, []string{"a", "b"}) || !d.SkipAutoReply {
		t.Errorf("Decision = %+v, want priority high, tags [a b], SkipAutoReply", d)
	}
	if want := `rule alias matched on alias "billing"`; d.Reason.Detail != want {
		t.Errorf("Detail = %q, want %q", d.Reason.Detail, want)
	}

	m = &Message{Email: email("nobody@shop.example", "hi", "hi")}
	if _, err := c.Process(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if m.Decision.Queue != "triage" || m.Decision.Priority != "" || m.Decision.SkipAutoReply {
		t.Errorf("fallback Decision = %+v, want queue triage, no priority, no SkipAutoReply", m.Decision)
	}
}

func TestClassifyEnvelopeRecipient(t *testing.T) {
	rs, err := ParseRules("rules.yaml", []byte(classifyRules))
	if err != nil {
		t.Fatal(err)
	}
	c, _ := NewClassify(ClassifyConfig{Rules: rs})

	// Bcc'd to billing: only the envelope names the alias.
	e := email("someone@elsewhere.example", "hi", "hi")
	e.Envelope = &schemas.Envelope{RcptTo: []string{"<billing@shop.example>"}}
	m := &Message{Email: e}
	if _, err := c.Process(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if m.Decision.Queue != "q-alias" {
		t.Errorf("Queue = %q, want q-alias from the envelope recipient", m.Decision.Queue)
	}
}

func TestClassifyTenantRules(t *testing.T) {
	rs, err := ParseRules("rules.yaml", []byte(`version: "1"
rules:
  - id: default-billing
    when: {alias: billing}
    then: {queue: billing}
tenants:
  acme:
    rules:
      - id: acme-billing
        when: {alias: billing}
        then: {queue: acme-finance}
`))
	if err != nil {
		t.Fatal(err)
	}
	c, _ := NewClassify(ClassifyConfig{Rules: rs})
	for tenant, want := range map[string]string{"acme": "acme-finance", "globex": "billing"} {
		e := email("billing@shop.example", "hi", "hi")
		e.Tenant = tenant
		m := &Message{Email: e}
		if _, err := c.Process(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		if m.Decision.Queue != want {
			t.Errorf("tenant %s: Queue = %q, want %q", tenant, m.Decision.Queue, want)
		}
	}
}

// fixedModel is a test double of the Model seam.
type fixedModel struct {
	queue string
	ok    bool
	err   error
}

func (f fixedModel) Predict(ctx context.Context, e *schemas.InboundEmail) (ModelPrediction, bool, error) {
	return ModelPrediction{
		Queue:  f.queue,
		Reason: schemas.Reason{Kind: schemas.ReasonModel, ModelVersion: "m1", Threshold: 0.7},
	}, f.ok, f.err
}

func TestClassifyModelSeam(t *testing.T) {
	rs, err := ParseRules("rules.yaml", []byte(classifyRules))
	if err != nil {
		t.Fatal(err)
	}
	unmatched := email("nobody@shop.example", "hi", "hi")

	tests := []struct {
		name      string
		model     Model
		wantQueue string
		wantKind  string
		wantErr   bool
	}{
		{"confident", fixedModel{queue: "orders", ok: true}, "orders", schemas.ReasonModel, false},
		{"not confident", fixedModel{queue: "orders", ok: false}, "general", schemas.ReasonFallback, false},
		{"failing", fixedModel{err: errors.New("model server timed out")}, "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := NewClassify(ClassifyConfig{Rules: rs, Model: tt.model})
			m := &Message{Email: unmatched}
			_, err := c.Process(context.Background(), m)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if m.Decision.Queue != tt.wantQueue || m.Decision.Reason.Kind != tt.wantKind {
				t.Errorf("Decision = %+v, want queue %s kind %s", m.Decision, tt.wantQueue, tt.wantKind)
			}
			if m.Decision.Reason.RulesetVersion != "test-3" {
				t.Errorf("RulesetVersion = %q, want test-3", m.Decision.Reason.RulesetVersion)
			}
		})
	}

	// A rule match never reaches the model.
	c, _ := NewClassify(ClassifyConfig{Rules: rs, Model: fixedModel{err: errors.New("must not be called")}})
	m := &Message{Email: email("billing@shop.example", "hi", "hi")}
	if _, err := c.Process(context.Background(), m); err != nil {
		t.Errorf("rule match consulted the model: %v", err)
	}
}

func TestNewClassifyErrors(t *testing.T) {
	if _, err := NewClassify(ClassifyConfig{}); err == nil {
		t.Error("NewClassify without rules: err = nil, want an error")
	}
	rs, _ := ParseRules("rules.yaml", []byte(classifyRules))
	if _, err := NewClassify(ClassifyConfig{Rules: rs, DefaultQueue: "Not Valid"}); err == nil {
		t.Error(`NewClassify with default queue "Not Valid": err = nil, want an error`)
	}
}
