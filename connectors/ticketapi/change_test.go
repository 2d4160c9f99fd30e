package ticketapi

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"mailtriage/processors"
	"mailtriage/schemas"
)

// outboxRecord reads the only api_outbox row of topic, failing unless
// there is exactly one.
func (e *apiEnv) outboxRecord(t *testing.T, topic string) (eventID, key string, value []byte) {
	t.Helper()
	if n := e.queryInt(t, "SELECT count(*) FROM api_outbox WHERE topic = $1", topic); n != 1 {
		t.Fatalf("%d outbox rows for %s, expected 1", n, topic)
	}
	var rawKey []byte
	err := e.pool.QueryRow(context.Background(), "SELECT event_id, record_key, record_value FROM api_outbox WHERE topic = $1", topic).
		Scan(&eventID, &rawKey, &value)
	if err != nil {
		t.Fatalf("reading the outbox: %v", err)
	}
	return eventID, string(rawKey), value
}

func TestReassignWritesFeedback(t *testing.T) {
	env := newAPIEnv(t)
	r := env.call(t, http.MethodPost, "/v1/tickets/"+refInvoice+"/reassign", env.tokens["helpdesk"], `{"queue":"sales","priority":"high"}`)
	expectStatus(t, r, http.StatusOK)
	var res ChangeResult
	decode(t, r, &res)
	if res.Ticket.Queue != "sales" || res.Ticket.Priority != "high" {
		t.Errorf("ticket in %s/%s, expected sales/high", res.Ticket.Queue, res.Ticket.Priority)
	}
	if res.Event.Kind != "reassigned" {
		t.Errorf("event kind %s, expected reassigned", res.Event.Kind)
	}

	var queue, priority string
	if err := env.pool.QueryRow(context.Background(), "SELECT queue, priority FROM tickets WHERE ticket_ref = $1", refInvoice).Scan(&queue, &priority); err != nil {
		t.Fatalf("reading the ticket: %v", err)
	}
	if queue != "sales" || priority != "high" {
		t.Errorf("stored %s/%s, expected sales/high", queue, priority)
	}

	var value []byte
	if err := env.pool.QueryRow(context.Background(), "SELECT record_value FROM feedback_outbox").Scan(&value); err != nil {
		t.Fatalf("reading the feedback outbox: %v", err)
	}
	var fb schemas.FeedbackEvent
	if err := schemas.Unmarshal(value, &fb); err != nil {
		t.Fatalf("decoding the feedback event: %v", err)
	}
	if fb.Source != schemas.FeedbackSourceAPI || fb.Actor != "api:helpdesk" || fb.Tenant != "acme" || fb.TicketRef != refInvoice {
		t.Errorf("feedback event source %q actor %q tenant %q ticket %q, expected api, api:helpdesk, acme, %s",
			fb.Source, fb.Actor, fb.Tenant, fb.TicketRef, refInvoice)
	}
	if fb.From != (schemas.Assignment{Queue: "billing", Priority: "normal"}) || fb.To != (schemas.Assignment{Queue: "sales", Priority: "high"}) {
		t.Errorf("feedback from %+v to %+v, expected billing/normal to sales/high", fb.From, fb.To)
	}
	if fb.EventID != res.Event.EventID {
		t.Errorf("feedback event ID %s, expected the ticket event's %s", fb.EventID, res.Event.EventID)
	}

	again := env.call(t, http.MethodPost, "/v1/tickets/"+refInvoice+"/reassign", env.tokens["helpdesk"], `{"queue":"sales"}`)
	expectStatus(t, again, http.StatusConflict)
	if want := `{"error":"ticket ` + refInvoice + ` is already in queue sales with priority high: nothing changed","field":"queue"}`; again.body != want {
		t.Errorf("body %s, expected %s", again.body, want)
	}
	if n := env.queryInt(t, "SELECT count(*) FROM feedback_outbox"); n != 1 {
		t.Errorf("%d feedback events after a no-op reassignment, expected 1", n)
	}
}

func TestStatusChangeEvent(t *testing.T) {
	env := newAPIEnv(t)
	r := env.call(t, http.MethodPost, "/v1/tickets/"+refInvoice+"/status", env.tokens["helpdesk"], `{"status":"closed"}`)
	expectStatus(t, r, http.StatusOK)
	var res ChangeResult
	decode(t, r, &res)
	if res.Ticket.Status != "closed" {
		t.Errorf("status %s, expected closed", res.Ticket.Status)
	}

	wantID := schemas.TicketEventID("acme", refInvoice, 1)
	var payload map[string]string
	var kind string
	if err := env.pool.QueryRow(context.Background(), "SELECT kind, payload FROM ticket_events WHERE event_id = $1", wantID).Scan(&kind, &payload); err != nil {
		t.Fatalf("reading event %s: %v", wantID, err)
	}
	wantPayload := map[string]string{"from": "open", "to": "closed", "actor": "api:helpdesk", "ticketEventId": wantID}
	if kind != "status_changed" || len(payload) != len(wantPayload) {
		t.Fatalf("event %s %v, expected status_changed %v", kind, payload, wantPayload)
	}
	for k, v := range wantPayload {
		if payload[k] != v {
			t.Errorf("payload %s = %q, expected %q", k, payload[k], v)
		}
	}
	if n := env.queryInt(t, "SELECT count(*) FROM tickets WHERE ticket_ref = $1 AND status = 'closed'", refInvoice); n != 1 {
		t.Errorf("ticket %s is not closed in the store", refInvoice)
	}

	eventID, key, value := env.outboxRecord(t, "test.ticket-events")
	var ev schemas.TicketEvent
	if err := schemas.Unmarshal(value, &ev); err != nil {
		t.Fatalf("decoding the ticket event: %v", err)
	}
	want := schemas.TicketEvent{EventID: wantID, Tenant: "acme", TicketRef: refInvoice, Kind: "status_changed",
		Status: "closed", ActorKind: schemas.ActorAPI, At: res.Event.At}
	if ev != want || eventID != wantID || key != "acme/"+refInvoice {
		t.Errorf("outbox %s key %s: %+v, expected %+v", eventID, key, ev, want)
	}

	same := env.call(t, http.MethodPost, "/v1/tickets/"+refInvoice+"/status", env.tokens["helpdesk"], `{"status":"closed"}`)
	expectStatus(t, same, http.StatusConflict)
	if want := `{"error":"ticket ` + refInvoice + ` is already closed: nothing changed","field":"status"}`; same.body != want {
		t.Errorf("body %s, expected %s", same.body, want)
	}
}

func TestNoteIsNeverSent(t *testing.T) {
	env := newAPIEnv(t)
	r := env.call(t, http.MethodPost, "/v1/tickets/"+refOrder+"/notes", env.tokens["helpdesk"], `{"text":"  VIP customer  "}`)
	expectStatus(t, r, http.StatusCreated)
	var res ChangeResult
	decode(t, r, &res)
	var payload map[string]string
	if err := json.Unmarshal(res.Event.Payload, &payload); err != nil {
		t.Fatalf("decoding the payload: %v", err)
	}
	if res.Event.Kind != "note" || payload["text"] != "VIP customer" || payload["actor"] != "api:helpdesk" {
		t.Errorf("event %s %v, expected a note with the trimmed text by api:helpdesk", res.Event.Kind, payload)
	}
	if n := env.queryInt(t, "SELECT count(*) FROM api_outbox WHERE topic = 'test.outbound'"); n != 0 {
		t.Errorf("%d outbound commands after a note, expected 0", n)
	}
	if n := env.queryInt(t, "SELECT count(*) FROM ticket_messages WHERE direction = 'outbound'"); n != 0 {
		t.Errorf("%d outbound messages after a note, expected 0", n)
	}
	_, _, value := env.outboxRecord(t, "test.ticket-events")
	var ev schemas.TicketEvent
	if err := schemas.Unmarshal(value, &ev); err != nil {
		t.Fatalf("decoding the ticket event: %v", err)
	}
	if ev.Kind != "note" || ev.Status != "" || ev.TicketRef != refOrder {
		t.Errorf("ticket event %+v, expected a note of %s without status", ev, refOrder)
	}
}

func TestReplyBecomesOneOutboundCommand(t *testing.T) {
	env := newAPIEnv(t)
	r := env.call(t, http.MethodPost, "/v1/tickets/"+refInvoice+"/replies", env.tokens["helpdesk"],
		`{"text":"Your invoice is attached.","html":"<p>Your invoice is attached.</p>"}`)
	expectStatus(t, r, http.StatusCreated)
	var res ChangeResult
	decode(t, r, &res)
	if res.Message == nil {
		t.Fatal("response has no message")
	}
	at := res.Event.At
	if res.Ticket.FirstResponseAt == nil || !res.Ticket.FirstResponseAt.Equal(at) {
		t.Errorf("firstResponseAt %v, expected the reply time %v", res.Ticket.FirstResponseAt, at)
	}

	_, key, value := env.outboxRecord(t, "test.outbound")
	var cmd schemas.OutboundMessage
	if err := schemas.Unmarshal(value, &cmd); err != nil {
		t.Fatalf("decoding the outbound command: %v", err)
	}
	want := schemas.OutboundMessage{
		EventID:    schemas.TicketEventID("acme", refInvoice, 1),
		Tenant:     "acme",
		Kind:       schemas.OutboundKindAgentReply,
		TicketRef:  refInvoice,
		MessageID:  res.Message.MessageID,
		To:         schemas.Address{Name: "Zoë Müller", Address: "Zoe@Example.test"},
		Subject:    "Re: [#" + refInvoice + "] Invoice missing",
		Text:       "Your invoice is attached.",
		HTML:       "<p>Your invoice is attached.</p>",
		InReplyTo:  refInvoice + "-m2@mail.example.test",
		References: []string{refInvoice + "-m1@mail.example.test", refInvoice + "-m2@mail.example.test"},
		Actor:      "api:helpdesk",
		CreatedAt:  at,
	}
	if key != "acme/"+refInvoice {
		t.Errorf("record key %s, expected acme/%s", key, refInvoice)
	}
	checkOutbound(t, cmd, want)
	if ref, _ := processorsRef(cmd.MessageID); ref != refInvoice {
		t.Errorf("Message-ID %s does not carry %s", cmd.MessageID, refInvoice)
	}

	var subject, text, html, author string
	err := env.pool.QueryRow(context.Background(), `SELECT subject, text, html, author FROM ticket_messages
		WHERE direction = 'outbound' AND message_id = $1`, cmd.MessageID).Scan(&subject, &text, &html, &author)
	if err != nil {
		t.Fatalf("reading the outbound message row: %v", err)
	}
	if subject != want.Subject || text != want.Text || html != want.HTML || author != "api:helpdesk" {
		t.Errorf("stored %q %q %q %q, expected the reply", subject, text, html, author)
	}
	var kind, direction string
	if err := env.pool.QueryRow(context.Background(), "SELECT kind, payload->>'direction' FROM ticket_events WHERE event_id = $1", want.EventID).Scan(&kind, &direction); err != nil {
		t.Fatalf("reading the replied event: %v", err)
	}
	if kind != "replied" || direction != "outbound" {
		t.Errorf("event %s direction %s, expected replied outbound", kind, direction)
	}

	time.Sleep(5 * time.Millisecond)
	second := env.call(t, http.MethodPost, "/v1/tickets/"+refInvoice+"/replies", env.tokens["helpdesk"], `{"text":"Anything else?"}`)
	expectStatus(t, second, http.StatusCreated)
	var res2 ChangeResult
	decode(t, second, &res2)
	if res2.Ticket.FirstResponseAt == nil || !res2.Ticket.FirstResponseAt.Equal(at) {
		t.Errorf("firstResponseAt after a second reply %v, expected the first reply's %v", res2.Ticket.FirstResponseAt, at)
	}
	if n := env.queryInt(t, "SELECT count(*) FROM api_outbox WHERE topic = 'test.outbound'"); n != 2 {
		t.Errorf("%d outbound commands after two replies, expected 2", n)
	}
}

// checkOutbound compares two commands field by field.
func checkOutbound(t *testing.T, got, want schemas.OutboundMessage) {
	t.Helper()
	if got.EventID != want.EventID || got.Tenant != want.Tenant || got.Kind != want.Kind || got.TicketRef != want.TicketRef ||
		got.MessageID != want.MessageID || got.To != want.To || got.Actor != want.Actor {
		t.Errorf("command identity %+v, expected %+v", got, want)
	}
	if got.Subject != want.Subject {
		t.Errorf("subject %q, expected %q", got.Subject, want.Subject)
	}
	if got.Text != want.Text || got.HTML != want.HTML {
		t.Errorf("body %q / %q, expected %q / %q", got.Text, got.HTML, want.Text, want.HTML)
	}
	if got.InReplyTo != want.InReplyTo {
		t.Errorf("inReplyTo %q, expected %q", got.InReplyTo, want.InReplyTo)
	}
	if len(got.References) != len(want.References) {
		t.Fatalf("references %v, expected %v", got.References, want.References)
	}
	for i := range want.References {
		if got.References[i] != want.References[i] {
			t.Errorf("references %v, expected %v", got.References, want.References)
		}
	}
	if !got.CreatedAt.Equal(want.CreatedAt) {
		t.Errorf("createdAt %v, expected %v", got.CreatedAt, want.CreatedAt)
	}
}

func TestReplyWithoutRequester(t *testing.T) {
	env := newAPIEnv(t)
	r := env.call(t, http.MethodPost, "/v1/tickets/"+refRefund+"/replies", env.tokens["helpdesk"], `{"text":"hi"}`)
	expectStatus(t, r, http.StatusConflict)
	if want := `{"error":"ticket ` + refRefund + ` has no requester address, so a reply cannot be sent","field":"ref"}`; r.body != want {
		t.Errorf("body %s, expected %s", r.body, want)
	}
	if n := env.queryInt(t, "SELECT count(*) FROM api_outbox"); n != 0 {
		t.Errorf("%d outbox rows after a rejected reply, expected 0", n)
	}
}

func TestReplySubject(t *testing.T) {
	cases := []struct{ original, want string }{
		{"Invoice missing", "Re: [#T-0000000001] Invoice missing"},
		{"RE: re:  Invoice   missing", "Re: [#T-0000000001] Invoice missing"},
		{"Re: [#T-0000000001] Invoice", "Re: [#T-0000000001] Invoice"},
		{"", "Re: [#T-0000000001]"},
	}
	for _, c := range cases {
		if got := ReplySubject("", "T-0000000001", c.original); got != c.want {
			t.Errorf("ReplySubject(%q) = %q, expected %q", c.original, got, c.want)
		}
	}
}

// processorsRef returns the ticket reference inside a Message-ID that
// processors.NewMessageID minted.
func processorsRef(id string) (string, bool) { return processors.TicketRefFromMessageID(id) }
