package processors

import (
	"context"
	"strings"
	"testing"
	"time"

	"mailtriage/internal/state"
	"mailtriage/schemas"
	"mailtriage/topics"
)

var threadNow = time.Date(2025, 5, 1, 10, 0, 0, 0, time.UTC)

func newTestThread(t *testing.T, cfg ThreadConfig) *Thread {
	t.Helper()
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return threadNow }
	}
	if cfg.AddressSalt == "" {
		cfg.AddressSalt = "test-salt"
	}
	th, err := NewThread(cfg)
	if err != nil {
		t.Fatalf("NewThread: %v", err)
	}
	return th
}

// threadEmail returns a message of tenant acme from sender to
// support@acme.test.
func threadEmail(id, from, subject string) schemas.InboundEmail {
	return schemas.InboundEmail{
		Tenant:    "acme",
		MessageID: id,
		From:      &schemas.Address{Name: "Sender", Address: from},
		To:        []schemas.Address{{Name: "Support", Address: "support@acme.test"}},
		Subject:   subject,
		Text:      "text of " + id,
	}
}

// runThread runs th on e with the global store, as the runner would after
// Route decided queue billing and priority normal.
func runThread(t *testing.T, th *Thread, global state.Store, e schemas.InboundEmail) Decision {
	t.Helper()
	m := &Message{Email: e, State: state.NewMemory(), Decision: Decision{Queue: "billing", Priority: "normal", Reason: schemas.Reason{Kind: schemas.ReasonRule, Detail: "queue billing"}}}
	if global != nil {
		m.Global = global
	}
	res, err := th.Process(context.Background(), m)
	if err != nil {
		t.Fatalf("Process(%s): %v", e.MessageID, err)
	}
	if res != Continue {
		t.Fatalf("Process(%s) returned %v, expected Continue", e.MessageID, res)
	}
	return m.Decision
}

func TestThreadFollowUpPaths(t *testing.T) {
	// The original message opens ticket origRef; Alice wrote it to support
	// with Bob in Cc.
	const origID = "orig-1@customer.test"
	origRef := TicketRef("acme", origID)
	ourID, err := NewMessageID(origRef, "support.acme.test")
	if err != nil {
		t.Fatalf("NewMessageID: %v", err)
	}
	unindexedRef := TicketRef("acme", "never-seen@customer.test")
	ourIDUnindexed, err := NewMessageID(unindexedRef, "support.acme.test")
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name       string
		reply      schemas.InboundEmail
		followUp   bool
		ticketRef  string // expected Decision.TicketRef; "" means the reply's own reference
		linkedRef  string
		detailPart string
	}{
		{
			name:       "subject reference",
			reply:      threadEmail("r1@customer.test", "alice@customer.test", "Re: Invoice "+FormatSubjectRef("", origRef)),
			followUp:   true,
			ticketRef:  origRef,
			detailPart: "found by the subject reference",
		},
		{
			name:       "subject reference in lower case with O for zero",
			reply:      threadEmail("r1b@customer.test", "alice@customer.test", "Re: [#"+strings.ToLower(strings.ReplaceAll(origRef, "0", "O"))+"]"),
			followUp:   true,
			ticketRef:  origRef,
			detailPart: "found by the subject reference",
		},
		{
			name:       "In-Reply-To in the index",
			reply:      withThreading(threadEmail("r2@customer.test", "alice@customer.test", "Re: Invoice"), []string{origID}, nil),
			followUp:   true,
			ticketRef:  origRef,
			detailPart: "In-Reply-To in the thread index",
		},
		{
			name:       "References in the index",
			reply:      withThreading(threadEmail("r3@customer.test", "alice@customer.test", "Re: Invoice"), []string{"unknown@elsewhere.test"}, []string{origID, "other@elsewhere.test"}),
			followUp:   true,
			ticketRef:  origRef,
			detailPart: "References in the thread index",
		},
		{
			name:       "our Message-ID in In-Reply-To",
			reply:      withThreading(threadEmail("r4@customer.test", "alice@customer.test", "Re: We received your request"), []string{ourID}, nil),
			followUp:   true,
			ticketRef:  origRef,
			detailPart: "found by our Message-ID in In-Reply-To; queue and priority of the ticket",
		},
		{
			name:       "our Message-ID of a ticket the index does not know",
			reply:      withThreading(threadEmail("r5@customer.test", "stranger@other.test", "Re: ack"), nil, []string{"x@y.test", ourIDUnindexed}),
			followUp:   true,
			ticketRef:  unindexedRef,
			detailPart: "our Message-ID in References; the index does not know the ticket, so the sender was not checked",
		},
		{
			name:      "unknown reference opens a new ticket",
			reply:     withThreading(threadEmail("r6@customer.test", "alice@customer.test", "Re: something"), []string{"unknown@elsewhere.test"}, []string{"older@elsewhere.test"}),
			followUp:  false,
			ticketRef: "",
		},
		{
			name:       "sender not on the ticket opens a linked ticket",
			reply:      withThreading(threadEmail("r7@attacker.test", "mallory@attacker.test", "Re: Invoice"), []string{origID}, nil),
			followUp:   false,
			ticketRef:  "",
			linkedRef:  origRef,
			detailPart: "new ticket linked to " + origRef + " (found by In-Reply-To in the thread index): the sender is neither its requester nor one of its recipients",
		},
		{
			name:       "sender not on the ticket with a subject reference",
			reply:      threadEmail("r8@attacker.test", "mallory@attacker.test", "Re: "+FormatSubjectRef("", origRef)),
			followUp:   false,
			ticketRef:  "",
			linkedRef:  origRef,
			detailPart: "found by the subject reference",
		},
		{
			name:      "cc'd recipient appends",
			reply:     withThreading(threadEmail("r9@customer.test", "BOB@customer.test", "Re: Invoice"), []string{origID}, nil),
			followUp:  true,
			ticketRef: origRef,
		},
		{
			name:      "Reply-To address of the original appends",
			reply:     withThreading(threadEmail("r10@customer.test", "billing-team@customer.test", "Re: Invoice"), []string{origID}, nil),
			followUp:  true,
			ticketRef: origRef,
		},
		{
			name: "automatic reply of the requester stays apart",
			reply: func() schemas.InboundEmail {
				e := withThreading(threadEmail("r12@customer.test", "alice@customer.test", "Out of office: Re: Invoice"), []string{origID}, nil)
				e.Headers = []schemas.Header{{Name: "Auto-Submitted", Value: "auto-replied"}}
				return e
			}(),
			followUp:   false,
			ticketRef:  "",
			detailPart: "automatic reply (Auto-Submitted), so not joined to a ticket",
		},
		{
			name: "same message ID in another tenant is unknown",
			reply: func() schemas.InboundEmail {
				e := withThreading(threadEmail("r11@customer.test", "alice@customer.test", "Re: Invoice"), []string{origID}, nil)
				e.Tenant = "globex"
				return e
			}(),
			followUp:  false,
			ticketRef: "",
		},
	}

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			th := newTestThread(t, ThreadConfig{})
			global := state.NewMemory()
			orig := threadEmail(origID, "alice@customer.test", "Invoice")
			orig.Cc = []schemas.Address{{Address: "bob@customer.test"}}
			orig.ReplyTo = []schemas.Address{{Address: "billing-team@customer.test"}}
			first := runThread(t, th, global, orig)
			if first.FollowUp || first.TicketRef != origRef {
				t.Fatalf("original: FollowUp %v, TicketRef %s; expected a new ticket %s", first.FollowUp, first.TicketRef, origRef)
			}

			got := runThread(t, th, global, c.reply)
			wantRef := c.ticketRef
			if wantRef == "" {
				wantRef = TicketRef(c.reply.Tenant, c.reply.MessageID)
			}
			if got.FollowUp != c.followUp {
				t.Errorf("FollowUp = %v, expected %v (detail %q)", got.FollowUp, c.followUp, got.Reason.Detail)
			}
			if got.TicketRef != wantRef {
				t.Errorf("TicketRef = %s, expected %s", got.TicketRef, wantRef)
			}
			if got.LinkedTicketRef != c.linkedRef {
				t.Errorf("LinkedTicketRef = %q, expected %q", got.LinkedTicketRef, c.linkedRef)
			}
			if c.detailPart != "" && !strings.Contains(got.Reason.Detail, c.detailPart) {
				t.Errorf("Reason.Detail = %q, expected it to contain %q", got.Reason.Detail, c.detailPart)
			}
			if !strings.HasPrefix(got.Reason.Detail, "queue billing") {
				t.Errorf("Reason.Detail = %q, expected the earlier detail kept in front", got.Reason.Detail)
			}
		})
	}
}

func withThreading(e schemas.InboundEmail, inReplyTo, references []string) schemas.InboundEmail {
	e.InReplyTo = inReplyTo
	e.References = references
	return e
}

func TestThreadFollowUpTakesTicketQueue(t *testing.T) {
	th := newTestThread(t, ThreadConfig{})
	global := state.NewMemory()
	orig := threadEmail("o@c.test", "alice@c.test", "Help")
	m := &Message{Email: orig, Global: global, Decision: Decision{Queue: "billing", Priority: "high"}}
	if _, err := th.Process(context.Background(), m); err != nil {
		t.Fatal(err)
	}

	reply := withThreading(threadEmail("r@c.test", "alice@c.test", "Re: Help"), []string{"o@c.test"}, nil)
	rm := &Message{Email: reply, Global: global, Decision: Decision{Queue: "sales", Priority: "urgent"}}
	if _, err := th.Process(context.Background(), rm); err != nil {
		t.Fatal(err)
	}
	if rm.Decision.Queue != "billing" || rm.Decision.Priority != "high" {
		t.Errorf("follow-up queue %s priority %s, expected the ticket's billing and high", rm.Decision.Queue, rm.Decision.Priority)
	}
}

// A reply to a follow-up finds the ticket through the follow-up's own
// index entry, and a recipient that the follow-up added may write too.
func TestThreadChainsThroughFollowUps(t *testing.T) {
	th := newTestThread(t, ThreadConfig{})
	global := state.NewMemory()
	ref := runThread(t, th, global, threadEmail("a@c.test", "alice@c.test", "Help")).TicketRef

	second := withThreading(threadEmail("b@c.test", "alice@c.test", "Re: Help"), []string{"a@c.test"}, nil)
	second.Cc = []schemas.Address{{Address: "carol@c.test"}}
	if d := runThread(t, th, global, second); !d.FollowUp || d.TicketRef != ref {
		t.Fatalf("second message: FollowUp %v ref %s, expected a follow-up of %s", d.FollowUp, d.TicketRef, ref)
	}

	third := withThreading(threadEmail("c@c.test", "carol@c.test", "Re: Help"), []string{"b@c.test"}, []string{"a@c.test", "b@c.test"})
	d := runThread(t, th, global, third)
	if !d.FollowUp || d.TicketRef != ref {
		t.Errorf("reply of the newly cc'd recipient: FollowUp %v ref %s (%s), expected a follow-up of %s", d.FollowUp, d.TicketRef, d.Reason.Detail, ref)
	}
}

func TestThreadEntriesExpire(t *testing.T) {
	now := threadNow
	th := newTestThread(t, ThreadConfig{TTL: 24 * time.Hour, Now: func() time.Time { return now }})
	global := state.NewMemory()
	runThread(t, th, global, threadEmail("a@c.test", "alice@c.test", "Help"))

	now = threadNow.Add(25 * time.Hour)
	reply := withThreading(threadEmail("b@c.test", "alice@c.test", "Re: Help"), []string{"a@c.test"}, nil)
	if d := runThread(t, th, global, reply); d.FollowUp {
		t.Errorf("reply after the TTL joined %s, expected a new ticket", d.TicketRef)
	}
}

func TestThreadWithoutGlobalStore(t *testing.T) {
	th := newTestThread(t, ThreadConfig{})
	ref := TicketRef("acme", "a@c.test")
	d := runThread(t, th, nil, threadEmail("b@c.test", "alice@c.test", "Re: "+FormatSubjectRef("", ref)))
	if !d.FollowUp || d.TicketRef != ref {
		t.Errorf("FollowUp %v, TicketRef %s; expected the subject reference %s to work without an index", d.FollowUp, d.TicketRef, ref)
	}
	d = runThread(t, th, nil, withThreading(threadEmail("c@c.test", "alice@c.test", "Re: Help"), []string{"a@c.test"}, nil))
	if d.FollowUp {
		t.Error("In-Reply-To without an index made a follow-up, expected a new ticket")
	}
}

func TestThreadIndexKeepsNoAddress(t *testing.T) {
	th := newTestThread(t, ThreadConfig{})
	global := state.NewMemory()
	e := threadEmail("a@c.test", "alice@customer.test", "Help")
	e.Cc = []schemas.Address{{Address: "bob@customer.test"}}
	m := &Message{Email: e, Global: global, Decision: Decision{Queue: "billing"}}
	if _, err := th.Process(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	raw, ok := global.Get(threadTicketKey("acme", TicketRef("acme", "a@c.test")))
	if !ok {
		t.Fatal("no ticket entry written")
	}
	for _, addr := range []string{"alice", "bob", "customer.test", "support@acme.test"} {
		if strings.Contains(string(raw), addr) {
			t.Errorf("ticket entry contains %q, expected only digests of addresses", addr)
		}
	}
	entry, err := decodeTicketEntry(raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(entry.Participants) != 3 {
		t.Errorf("ticket entry lists %d participants, expected 3 (sender, To and Cc)", len(entry.Participants))
	}
}

func TestThreadCustomSubjectFormats(t *testing.T) {
	ref := TicketRef("acme", "a@c.test")
	body := ref[2:]
	cases := []struct {
		name    string
		cfg     ThreadConfig
		subject string
	}{
		{"format", ThreadConfig{SubjectFormat: "(Ticket {ref})"}, "Re: question (Ticket " + ref + ")"},
		{"pattern with T-", ThreadConfig{SubjectPattern: `Case #(T-[0-9A-Z]{10})`}, "Re: Case #" + ref},
		{"pattern without T-", ThreadConfig{SubjectPattern: `\{([0-9A-Z]{10})\}`}, "Re: {" + body + "} thanks"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			th := newTestThread(t, c.cfg)
			d := runThread(t, th, nil, threadEmail("b@c.test", "alice@c.test", c.subject))
			if !d.FollowUp || d.TicketRef != ref {
				t.Errorf("subject %q: FollowUp %v, TicketRef %s; expected a follow-up of %s", c.subject, d.FollowUp, d.TicketRef, ref)
			}
			// The default format no longer counts.
			d = runThread(t, th, nil, threadEmail("c@c.test", "alice@c.test", "Re: "+FormatSubjectRef("", ref)))
			if d.FollowUp {
				t.Errorf("default-format subject joined %s under a custom format, expected a new ticket", d.TicketRef)
			}
		})
	}
}

func TestNewThreadRejectsBadConfig(t *testing.T) {
	cases := map[string]ThreadConfig{
		"format without {ref}":   {SubjectFormat: "[#]"},
		"format with two {ref}":  {SubjectFormat: "{ref} {ref}"},
		"pattern without group":  {SubjectPattern: `T-[0-9A-Z]{10}`},
		"pattern with two group": {SubjectPattern: `(T)-([0-9A-Z]{10})`},
		"invalid pattern":        {SubjectPattern: `([`},
		"negative TTL":           {TTL: -time.Hour},
	}
	for name, cfg := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := NewThread(cfg); err == nil {
				t.Error("NewThread succeeded, expected an error")
			}
		})
	}
}

func TestMessageIDCarriesTicketRef(t *testing.T) {
	ref := TicketRef("acme", "m@c.test")
	id, err := NewMessageID(ref, "support.acme.test")
	if err != nil {
		t.Fatalf("NewMessageID: %v", err)
	}
	if !strings.HasPrefix(id, "mt."+ref+".") || !strings.HasSuffix(id, "@support.acme.test") {
		t.Errorf("NewMessageID = %q, expected mt.%s.RANDOM@support.acme.test", id, ref)
	}
	other, _ := NewMessageID(ref, "support.acme.test")
	if other == id {
		t.Errorf("two minted IDs are both %q, expected a random part", id)
	}
	for _, in := range []string{id, "<" + id + ">"} {
		if got, ok := TicketRefFromMessageID(in); !ok || got != ref {
			t.Errorf("TicketRefFromMessageID(%q) = %q, %v; expected %s", in, got, ok, ref)
		}
	}
	for _, in := range []string{"mt.T-123.x@y", "abc@example.test", "mt." + ref + "@y", "mt." + ref + ".x"} {
		if got, ok := TicketRefFromMessageID(in); ok {
			t.Errorf("TicketRefFromMessageID(%q) = %q, expected no reference", in, got)
		}
	}
	if _, err := NewMessageID("T-1", "x.test"); err == nil {
		t.Error("NewMessageID accepted the invalid reference T-1")
	}
	if _, err := NewMessageID(ref, "bad domain"); err == nil {
		t.Error("NewMessageID accepted a domain with a space")
	}
}

// The default subject tag survives redaction, which runs before Thread,
// even for a reference of digits only.
func TestSubjectRefSurvivesRedaction(t *testing.T) {
	re, err := subjectPattern("", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"T-0123456789", "T-5550123456", TicketRef("acme", "x@y")} {
		subject, _ := RedactText("Re: call me at +1 555 0100 " + FormatSubjectRef("", ref))
		if got, ok := findSubjectRef(re, subject); !ok || got != ref {
			t.Errorf("redacted subject %q gave %q, %v; expected %s", subject, got, ok, ref)
		}
	}
}

func TestOutputsForFollowUpAndLinkedTicket(t *testing.T) {
	e := threadEmail("r@c.test", "alice@c.test", "Re: Help")
	e.Tenant = "acme"
	follow := &Message{Email: e, Decision: Decision{Queue: "billing", Priority: "normal", TicketRef: "T-0000000001", FollowUp: true}}
	outs := Outputs(follow, threadNow)
	cmd := findTicketCommand(t, outs)
	if cmd.Action != "append" || cmd.TicketRef != "T-0000000001" || cmd.LinkedTicketRef != "" {
		t.Errorf("follow-up command: action %q ref %q linked %q; expected append to T-0000000001 without a link", cmd.Action, cmd.TicketRef, cmd.LinkedTicketRef)
	}
	if key := ticketOutputKey(outs); key != "acme/T-0000000001" {
		t.Errorf("ticket command key %q, expected acme/T-0000000001", key)
	}

	linked := &Message{Email: e, Decision: Decision{Queue: "billing", Priority: "normal", TicketRef: "T-0000000002", LinkedTicketRef: "T-0000000001"}}
	cmd = findTicketCommand(t, Outputs(linked, threadNow))
	if cmd.Action != "create" || cmd.TicketRef != "T-0000000002" || cmd.LinkedTicketRef != "T-0000000001" {
		t.Errorf("linked command: action %q ref %q linked %q; expected create of T-0000000002 linked to T-0000000001", cmd.Action, cmd.TicketRef, cmd.LinkedTicketRef)
	}
}

func findTicketCommand(t *testing.T, outs []Output) schemas.TicketCommand {
	t.Helper()
	for _, o := range outs {
		if cmd, ok := o.Value.(schemas.TicketCommand); ok {
			return cmd
		}
	}
	t.Fatal("no TicketCommand among the outputs")
	return schemas.TicketCommand{}
}

func ticketOutputKey(outs []Output) string {
	for _, o := range outs {
		if o.Topic == topics.Tickets {
			return o.Key
		}
	}
	return ""
}

func TestThreadEntriesRoundTrip(t *testing.T) {
	d1, _ := participantDigest([]byte("s"), "A@x.test")
	d2, _ := participantDigest([]byte("s"), "a@x.test ")
	if d1 != d2 {
		t.Error("digests of one address in two letter cases differ, expected equal")
	}
	d3, _ := participantDigest([]byte("other"), "a@x.test")
	if d1 == d3 {
		t.Error("digests under two salts are equal, expected the salt to change them")
	}

	in := ticketEntry{WrittenAt: threadNow, Queue: "billing", Priority: "high", Participants: [][participantHashBytes]byte{d1, d3}}
	out, err := decodeTicketEntry(encodeTicketEntry(in))
	if err != nil {
		t.Fatalf("decodeTicketEntry: %v", err)
	}
	if !out.WrittenAt.Equal(in.WrittenAt) || out.Queue != "billing" || out.Priority != "high" || len(out.Participants) != 2 || out.Participants[1] != d3 {
		t.Errorf("round trip gave %+v, expected %+v", out, in)
	}
	if _, err := decodeTicketEntry([]byte{threadEntryVersion, 0}); err == nil {
		t.Error("decodeTicketEntry of 2 bytes succeeded, expected an error")
	}
	msg, err := decodeMessageEntry(encodeMessageEntry(messageEntry{WrittenAt: threadNow, TicketRef: "T-0000000001"}))
	if err != nil || msg.TicketRef != "T-0000000001" {
		t.Errorf("message entry round trip gave %+v, %v", msg, err)
	}
}
