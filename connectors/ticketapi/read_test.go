package ticketapi

import (
	"net/http"
	"reflect"
	"slices"
	"testing"
	"time"
)

func TestListFilters(t *testing.T) {
	env := newAPIEnv(t)
	token := env.tokens["reader"]

	cases := []struct {
		name  string
		query string
		want  []string
	}{
		{"all newest first", "", []string{refRefund, refOrder, refInvoice}},
		{"queue", "?queue=billing", []string{refRefund, refInvoice}},
		{"status", "?status=pending", []string{refOrder}},
		{"priority", "?priority=urgent", []string{refRefund}},
		{"requester any case", "?requester=ZOE@example.TEST", []string{refInvoice}},
		{"requester unknown", "?requester=nobody@example.test", []string{}},
		{"since inclusive", "?since=2025-03-01T10:00:00Z", []string{refRefund, refOrder}},
		{"until exclusive", "?until=2025-03-01T10:00:00Z", []string{refInvoice}},
		{"combined", "?queue=billing&status=open&since=2025-03-01T08:00:00Z&until=2025-03-01T12:00:00Z", []string{refInvoice}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := env.call(t, http.MethodGet, "/v1/tickets"+c.query, token, "")
			expectStatus(t, r, http.StatusOK)
			var list TicketList
			decode(t, r, &list)
			if got := refs(list.Tickets); !slices.Equal(got, c.want) {
				t.Errorf("tickets %v, expected %v", got, c.want)
			}
			if list.NextCursor != "" {
				t.Errorf("nextCursor %q on the only page, expected none", list.NextCursor)
			}
		})
	}
}

func TestListPagesWithCursor(t *testing.T) {
	env := newAPIEnv(t)
	token := env.tokens["reader"]

	r := env.call(t, http.MethodGet, "/v1/tickets?limit=2", token, "")
	expectStatus(t, r, http.StatusOK)
	var first TicketList
	decode(t, r, &first)
	if got, want := refs(first.Tickets), []string{refRefund, refOrder}; !slices.Equal(got, want) {
		t.Fatalf("first page %v, expected %v", got, want)
	}
	if first.NextCursor == "" {
		t.Fatal("first page has no nextCursor, expected one")
	}

	r = env.call(t, http.MethodGet, "/v1/tickets?limit=2&cursor="+first.NextCursor, token, "")
	expectStatus(t, r, http.StatusOK)
	var second TicketList
	decode(t, r, &second)
	if got, want := refs(second.Tickets), []string{refInvoice}; !slices.Equal(got, want) {
		t.Errorf("second page %v, expected %v", got, want)
	}
	if second.NextCursor != "" {
		t.Errorf("last page has nextCursor %q, expected none", second.NextCursor)
	}
}

func TestListTicketFields(t *testing.T) {
	env := newAPIEnv(t)
	r := env.call(t, http.MethodGet, "/v1/tickets?status=open", env.tokens["reader"], "")
	expectStatus(t, r, http.StatusOK)
	var list TicketList
	decode(t, r, &list)
	if len(list.Tickets) != 1 {
		t.Fatalf("%d tickets, expected 1", len(list.Tickets))
	}
	got := list.Tickets[0]
	want := Ticket{Ref: refInvoice, Status: "open", Queue: "billing", Priority: "normal", Tags: []string{"seed"},
		Requester: Requester{Name: "Zoë Müller", Address: "Zoe@Example.test"}, Subject: "Invoice missing",
		CreatedAt: seedTime, UpdatedAt: seedTime}
	if !slices.Equal(got.Tags, want.Tags) {
		t.Errorf("tags %v, expected %v", got.Tags, want.Tags)
	}
	got.Tags, want.Tags = nil, nil
	if got.FirstResponseAt != nil {
		t.Errorf("firstResponseAt %v, expected null before any reply", got.FirstResponseAt)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ticket\n%+v\nexpected\n%+v", got, want)
	}
}

func TestShowMessagesAndEvents(t *testing.T) {
	env := newAPIEnv(t)
	note := env.call(t, http.MethodPost, "/v1/tickets/"+refInvoice+"/notes", env.tokens["helpdesk"], `{"text":"customer called"}`)
	expectStatus(t, note, http.StatusCreated)

	r := env.call(t, http.MethodGet, "/v1/tickets/"+refInvoice, env.tokens["reader"], "")
	expectStatus(t, r, http.StatusOK)
	var d TicketDetail
	decode(t, r, &d)
	if d.Ref != refInvoice || d.Queue != "billing" {
		t.Errorf("ticket %s in %s, expected %s in billing", d.Ref, d.Queue, refInvoice)
	}
	if len(d.Messages) != 2 {
		t.Fatalf("%d messages, expected 2", len(d.Messages))
	}
	m := d.Messages[1]
	if m.MessageID != refInvoice+"-m2@mail.example.test" || m.Direction != "inbound" || m.Text != "any news?" ||
		!m.ReceivedAt.Equal(seedTime.Add(30*time.Minute)) || string(m.Attachments) != "[]" {
		t.Errorf("second message %+v, expected the seeded follow-up", m)
	}
	if len(d.Events) != 1 || d.Events[0].Kind != "note" {
		t.Fatalf("events %+v, expected one note", d.Events)
	}
}
