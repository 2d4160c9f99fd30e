package processors

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"mailtriage/schemas"
)

func TestTicketRef(t *testing.T) {
	ref := TicketRef("acme", "abc@mail.example")
	if !regexp.MustCompile(`^T-[0-9A-HJKMNP-TV-Z]{10}$`).MatchString(ref) {
		t.Errorf("TicketRef = %q, want T- and 10 Crockford base32 characters", ref)
	}
	if again := TicketRef("acme", "abc@mail.example"); again != ref {
		t.Errorf("TicketRef is not deterministic: %q then %q", ref, again)
	}
	if other := TicketRef("globex", "abc@mail.example"); other == ref {
		t.Errorf("TicketRef is %q for two tenants, want different references", ref)
	}
	if other := TicketRef("acme", "abd@mail.example"); other == ref {
		t.Errorf("TicketRef is %q for two message IDs, want different references", ref)
	}
	// The tenant and ID are separated, so shifting a character between
	// them changes the reference.
	if TicketRef("ab", "c") == TicketRef("a", "bc") {
		t.Error(`TicketRef("ab", "c") == TicketRef("a", "bc"), want different references`)
	}
}

func TestTicketRefFixedValue(t *testing.T) {
	// SHA-256("t\x00m") starts with 66 fb 9f f5 40 87 ae (sha256sum). Its
	// first 50 bits in groups of five are 12 27 29 25 31 29 10 0 16 30,
	// which Crockford's alphabet spells CVXSZXA0GY.
	const want = "T-CVXSZXA0GY"
	if got := TicketRef("t", "m"); got != want {
		t.Errorf(`TicketRef("t", "m") = %q, want %q`, got, want)
	}
}

func TestRoutePriority(t *testing.T) {
	tests := []struct {
		name         string
		rulePriority string
		subject      string
		text         string
		replyText    string
		cfg          RouteConfig
		want         string
		wantDetail   string
	}{
		{"rule wins", "low", "URGENT!!!", "", "", RouteConfig{}, "low", "priority low set by the rule"},
		{"urgent in subject", "", "Urgent: checkout broken", "", "", RouteConfig{}, "urgent", `priority urgent from keyword "urgent"`},
		{"outage in body", "", "help", "We have an outage since 9am", "", RouteConfig{}, "urgent", `priority urgent from keyword "outage"`},
		{"site is down", "", "help", "the site is down", "", RouteConfig{}, "urgent", `priority urgent from keyword "is down"`},
		{"bare down stays normal", "", "help", "please scroll down to the form", "", RouteConfig{}, "normal", "priority normal by default"},
		{"asap is high", "", "Need a refund ASAP", "", "", RouteConfig{}, "high", `priority high from keyword "asap"`},
		{"cannot log in is high", "", "help", "I cannot log in since Monday", "", RouteConfig{}, "high", `priority high from keyword "cannot log in"`},
		{"curly apostrophe", "", "help", "I can’t log in", "", RouteConfig{}, "high", `priority high from keyword "can't log in"`},
		{"urgent beats high", "", "ASAP", "outage", "", RouteConfig{}, "urgent", `priority urgent from keyword "outage"`},
		{"quoted text ignored", "", "re: thanks", "thanks!\n> URGENT: outage", "thanks!", RouteConfig{}, "normal", "priority normal by default"},
		{"default normal", "", "question", "how do I export?", "", RouteConfig{}, "normal", "priority normal by default"},
		{"custom keywords", "", "P1 incident", "", "", RouteConfig{UrgentKeywords: []string{"p1"}}, "urgent", `priority urgent from keyword "p1"`},
		{"keywords disabled", "", "urgent", "", "", RouteConfig{UrgentKeywords: []string{}, HighKeywords: []string{}}, "normal", "priority normal by default"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &Message{
				Email: schemas.InboundEmail{Tenant: "t", MessageID: "m", Subject: tt.subject, Text: tt.text, ReplyText: tt.replyText},
				Decision: Decision{
					Queue:    "general",
					Priority: tt.rulePriority,
					Reason:   schemas.Reason{Kind: schemas.ReasonFallback, Detail: "no rule matched"},
				},
			}
			res, err := NewRoute(tt.cfg).Process(context.Background(), m)
			if err != nil || res != Continue {
				t.Fatalf("Process = %v, %v; want Continue, nil", res, err)
			}
			if m.Decision.Priority != tt.want {
				t.Errorf("Priority = %q, want %q", m.Decision.Priority, tt.want)
			}
			if want := "no rule matched; " + tt.wantDetail; m.Decision.Reason.Detail != want {
				t.Errorf("Detail = %q, want %q", m.Decision.Reason.Detail, want)
			}
			if m.Decision.TicketRef != TicketRef("t", "m") {
				t.Errorf("TicketRef = %q, want %q", m.Decision.TicketRef, TicketRef("t", "m"))
			}
		})
	}
}

func TestRouteFillsEmptyDetail(t *testing.T) {
	m := &Message{Decision: Decision{Queue: "orders"}}
	if _, err := NewRoute(RouteConfig{}).Process(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(m.Decision.Reason.Detail, "queue orders; priority normal") {
		t.Errorf("Detail = %q, want it to start with the queue and priority", m.Decision.Reason.Detail)
	}
}
