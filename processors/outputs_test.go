package processors

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"mailtriage/internal/state"
	"mailtriage/schemas"
	"mailtriage/topics"
)

func processedMessage() *Message {
	return &Message{
		Email: schemas.InboundEmail{
			Tenant:     "acme",
			MessageID:  "CAF=x1@mail.customer.example",
			Source:     schemas.SourceSMTP,
			ReceivedAt: t0,
			From:       &schemas.Address{Name: "Jane Doe", Address: "Jane@Customer.Example"},
			To:         []schemas.Address{{Address: "billing@shop.example"}},
			Cc:         []schemas.Address{{Address: "boss@customer.example"}},
			// Unredacted on purpose: Outputs must scrub addresses itself.
			Subject:     "Refund for jane@customer.example",
			Text:        "Please refund me.\n> quoted from billing@shop.example",
			ReplyText:   "Please refund me, reach me at jane.doe@customer.example",
			Attachments: []schemas.Attachment{{Filename: "invoice.pdf"}},
			Warnings:    []string{"charset guessed"},
			PII:         map[string]int32{PIIEmail: 2},
		},
		Position: Position{Topic: topics.Inbound, Partition: 1, Offset: 77},
		Decision: Decision{
			Queue:         "billing",
			Priority:      "high",
			Tags:          []string{"billing"},
			TicketRef:     "T-ABCDEFGHJK",
			SkipAutoReply: true,
			Reason: schemas.Reason{
				Kind: schemas.ReasonRule, RuleID: "billing-address", RulesetVersion: "1",
				Detail: `rule billing-address matched on alias "billing"; sender jane@customer.example`,
			},
		},
	}
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestOutputsRecords(t *testing.T) {
	m := processedMessage()
	decidedAt := t0.Add(time.Second)
	out := Outputs(m, decidedAt)
	if len(out) != 3 {
		t.Fatalf("Outputs returned %d records, want 3", len(out))
	}

	tc, ok := out[0].Value.(schemas.TicketCommand)
	if !ok || out[0].Topic != topics.Tickets || out[0].Key != "acme/T-ABCDEFGHJK" {
		t.Fatalf("record 0 = %s %s %T, want a TicketCommand to %s under acme/T-ABCDEFGHJK", out[0].Topic, out[0].Key, out[0].Value, topics.Tickets)
	}
	if want := sha256Hex("acme/CAF=x1@mail.customer.example/ticket"); tc.EventID != want {
		t.Errorf("TicketCommand.EventID = %s, want %s", tc.EventID, want)
	}
	if tc.Action != "create" || tc.Queue != "billing" || tc.Priority != "high" || !tc.SkipAutoReply {
		t.Errorf("TicketCommand = %+v, want create in billing at high with SkipAutoReply", tc)
	}
	if tc.Requester.Address != "Jane@Customer.Example" || len(tc.Recipients) != 2 {
		t.Errorf("TicketCommand requester %+v, recipients %+v; want the From and both To and Cc", tc.Requester, tc.Recipients)
	}

	n, ok := out[1].Value.(schemas.Notification)
	if !ok || out[1].Topic != topics.Notifications || out[1].Key != "acme/T-ABCDEFGHJK" {
		t.Fatalf("record 1 = %s %s %T, want a Notification to %s under acme/T-ABCDEFGHJK", out[1].Topic, out[1].Key, out[1].Value, topics.Notifications)
	}
	if n.SenderDomain != "customer.example" {
		t.Errorf("Notification.SenderDomain = %q, want customer.example", n.SenderDomain)
	}
	if n.Excerpt != "Please refund me, reach me at [EMAIL]" {
		t.Errorf("Notification.Excerpt = %q, want the scrubbed reply text", n.Excerpt)
	}
	if n.Channel != "slack" || n.TicketRef != "T-ABCDEFGHJK" {
		t.Errorf("Notification = %+v, want channel slack and the ticket reference", n)
	}

	de, ok := out[2].Value.(schemas.DecisionEvent)
	if !ok || out[2].Topic != topics.Analytics || out[2].Key != "acme/CAF=x1@mail.customer.example" {
		t.Fatalf("record 2 = %s %s %T, want a DecisionEvent to %s under the inbound key", out[2].Topic, out[2].Key, out[2].Value, topics.Analytics)
	}
	if want := sha256Hex("acme/CAF=x1@mail.customer.example/decision"); de.EventID != want {
		t.Errorf("DecisionEvent.EventID = %s, want %s", de.EventID, want)
	}
	if de.Duplicate || de.Attachments != 1 || de.Warnings != 1 || de.PII[PIIEmail] != 2 || !de.DecidedAt.Equal(decidedAt) {
		t.Errorf("DecisionEvent = %+v, want not duplicate, 1 attachment, 1 warning, 2 emails, decided at %v", de, decidedAt)
	}
	if de.Reason.RuleID != "billing-address" || de.Source != schemas.SourceSMTP {
		t.Errorf("DecisionEvent reason %+v, source %q", de.Reason, de.Source)
	}

	assertNoAddress(t, "Notification", n)
	assertNoAddress(t, "DecisionEvent", withoutMessageID(de))
}

func TestOutputsDuplicate(t *testing.T) {
	m := processedMessage()
	m.Duplicate = true
	m.Email.Subject = "Call +44 20 7946 0018 about jane@customer.example" // Redact did not run
	m.Decision = Decision{Reason: schemas.Reason{Detail: "duplicate of the record at x partition 0 offset 1"}}

	out := Outputs(m, t0)
	if len(out) != 1 {
		t.Fatalf("Outputs for a duplicate returned %d records, want only the DecisionEvent", len(out))
	}
	de, ok := out[0].Value.(schemas.DecisionEvent)
	if !ok || out[0].Topic != topics.Analytics {
		t.Fatalf("duplicate record = %s %T, want a DecisionEvent to %s", out[0].Topic, out[0].Value, topics.Analytics)
	}
	if !de.Duplicate {
		t.Error("DecisionEvent.Duplicate = false, want true")
	}
	if want := "Call [PHONE] about [EMAIL]"; de.Subject != want {
		t.Errorf("DecisionEvent.Subject = %q, want %q", de.Subject, want)
	}
	original := sha256Hex("acme/CAF=x1@mail.customer.example/decision")
	if de.EventID == original {
		t.Error("duplicate's EventID equals the original's, so it would overwrite the original decision")
	}

	// The same duplicate replayed keeps its ID; another copy gets its own.
	if again := Outputs(m, t0.Add(time.Hour))[0].Value.(schemas.DecisionEvent); again.EventID != de.EventID {
		t.Errorf("replayed duplicate EventID = %s, want %s", again.EventID, de.EventID)
	}
	m.Position.Offset++
	if other := Outputs(m, t0)[0].Value.(schemas.DecisionEvent); other.EventID == de.EventID {
		t.Error("two duplicates at different offsets share an EventID")
	}
	assertNoAddress(t, "duplicate DecisionEvent", withoutMessageID(de))
}

func TestOutputsDeterministicIDs(t *testing.T) {
	a := Outputs(processedMessage(), t0)
	b := Outputs(processedMessage(), t0.Add(24*time.Hour))
	for i := range a {
		if eventIDOf(t, a[i].Value) != eventIDOf(t, b[i].Value) || a[i].Key != b[i].Key {
			t.Errorf("record %d: ID or key changed between runs: %s %s vs %s %s",
				i, a[i].Key, eventIDOf(t, a[i].Value), b[i].Key, eventIDOf(t, b[i].Value))
		}
	}
	seen := map[string]bool{}
	for _, o := range a {
		id := eventIDOf(t, o.Value)
		if seen[id] {
			t.Errorf("EventID %s used by two records of one message", id)
		}
		seen[id] = true
	}
}

func TestExcerpt(t *testing.T) {
	long := strings.Repeat("word ", 100)
	got := excerpt(long, ExcerptMaxRunes)
	if n := utf8.RuneCountInString(got); n > ExcerptMaxRunes {
		t.Errorf("excerpt has %d runes, want at most %d", n, ExcerptMaxRunes)
	}
	if !strings.HasSuffix(got, "word…") {
		t.Errorf("excerpt = %q, want it to end at a word with an ellipsis", got)
	}

	multibyte := strings.Repeat("ü", 300)
	if n := utf8.RuneCountInString(excerpt(multibyte, ExcerptMaxRunes)); n != ExcerptMaxRunes {
		t.Errorf("excerpt of 300 ü has %d runes, want %d", n, ExcerptMaxRunes)
	}
	if got := excerpt(" short\n\ntext ", ExcerptMaxRunes); got != "short text" {
		t.Errorf("excerpt = %q, want %q", got, "short text")
	}
}

// TestExcerptMatchesJoinedFields checks that excerpt, which stops
// collapsing white space after maxRunes runes, returns what cutting the
// fully collapsed text returns, around the limit and past it.
func TestExcerptMatchesJoinedFields(t *testing.T) {
	whole := func(s string, maxRunes int) string {
		s = strings.Join(strings.Fields(s), " ")
		if utf8.RuneCountInString(s) <= maxRunes {
			return s
		}
		short := string([]rune(s)[:maxRunes-1])
		if i := strings.LastIndexByte(short, ' '); i > len(short)*4/5 {
			short = short[:i]
		}
		return strings.TrimRight(short, " ") + "…"
	}
	const maxRunes = 12
	cases := []string{
		"", "  ", "abc", "abcdefghijkl", "abcdefghijklm", "abcde fghijk", "abcde fghijkl",
		"ab  cd\tef\ngh  ij kl", "üüüüü üüüüüü", "üüüüü üüüüüüü ü", "one two three four five six",
		"\u00a0lead and trail\u2003", strings.Repeat("x ", 40),
	}
	for _, in := range cases {
		if got, want := excerpt(in, maxRunes), whole(in, maxRunes); got != want {
			t.Errorf("excerpt(%q, %d) = %q, expected %q as from the whole collapsed text", in, maxRunes, got, want)
		}
	}
}

func eventIDOf(t *testing.T, v any) string {
	t.Helper()
	switch r := v.(type) {
	case schemas.TicketCommand:
		return r.EventID
	case schemas.Notification:
		return r.EventID
	case schemas.DecisionEvent:
		return r.EventID
	}
	t.Fatalf("unexpected record type %T", v)
	return ""
}

// withoutMessageID blanks the message ID, which contains "@" by its RFC 5322
// syntax but is no mailbox address.
func withoutMessageID(de schemas.DecisionEvent) schemas.DecisionEvent {
	de.MessageID = ""
	return de
}

// assertNoAddress fails when any string in the JSON form of v contains
// "@".
func assertNoAddress(t *testing.T, what string, v any) {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "@") {
		t.Errorf("%s carries an address: %s", what, data)
	}
}

// TestSharedExcerptAfterRedact runs the default chain over the benchmark
// mix and checks that the excerpt, which redacts only its own runes when
// Redact ran, equals the excerpt of the whole body redacted again.
func TestSharedExcerptAfterRedact(t *testing.T) {
	chain, err := DefaultChain(ChainConfig{RulesFile: sampleRulesFile})
	if err != nil {
		t.Fatal(err)
	}
	store := state.NewMemory()
	checked := 0
	for _, e := range benchMail(60) {
		m := freshMessage(e, 0, store)
		if _, err := chain.Run(t.Context(), m); err != nil {
			t.Fatalf("chain on %s: %v", e.MessageID, err)
		}
		if m.Duplicate {
			continue
		}
		if !m.Redacted {
			t.Fatalf("message %s went through Redact, but Redacted is false", e.MessageID)
		}
		body := m.Email.ReplyText
		if strings.TrimSpace(body) == "" {
			body = m.Email.Text
		}
		got, want := sharedExcerpt(m, body), excerpt(redactForSharing(body), ExcerptMaxRunes)
		if got != want {
			t.Errorf("excerpt of %s:\n got  %q\n want %q", e.MessageID, got, want)
		}
		checked++
	}
	if checked != 60 {
		t.Errorf("checked %d messages, expected all 60 of the mix", checked)
	}
}
