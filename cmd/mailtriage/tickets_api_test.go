package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailtriage/connectors/ticketapi"
	"mailtriage/schemas"
)

// apiRef is the ticket that ticketAPI adds beside T-1: it has a
// requester and a reference that replies can thread on.
const apiRef = "T-0000000009"

// ticketAPI starts the ticket API on 127.0.0.1 over the store of
// ticketStore, with ticket apiRef added, and returns the API flags of a
// token of tenant acme named cli.
func ticketAPI(t *testing.T) (flags []string, env func(string) int64) {
	t.Helper()
	_, pool := ticketStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const insert = `WITH ticket AS (
		INSERT INTO tickets (tenant, ticket_ref, external_id, queue, priority, requester_address, subject, created_at, updated_at)
		VALUES ('acme', $1, 'q1@example.test', 'sales', 'low', 'ann@example.test', 'Quote', now() + interval '1 second', now())
		RETURNING id)
	INSERT INTO ticket_messages (ticket_id, message_id, event_id, direction, subject, text, received_at)
	SELECT id, 'q1@example.test', 'ev-q1', 'inbound', 'Quote', 'How much?', now() FROM ticket`
	if _, err := pool.Exec(ctx, insert, apiRef); err != nil {
		t.Fatalf("inserting ticket %s: %v", apiRef, err)
	}
	token, err := ticketapi.CreateToken(ctx, pool, "acme", "cli", nil)
	if err != nil {
		t.Fatalf("CreateToken: %v", err)
	}
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatalf("writing the token file: %v", err)
	}
	api, err := ticketapi.New(ticketapi.Config{Pool: pool, MessageIDDomain: "support.acme.test"})
	if err != nil {
		t.Fatalf("ticketapi.New: %v", err)
	}
	server := httptest.NewServer(api)
	t.Cleanup(server.Close)

	count := func(query string) int64 {
		var n int64
		if err := pool.QueryRow(context.Background(), query).Scan(&n); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		return n
	}
	return []string{"--api", server.URL, "--token-file", tokenFile}, count
}

func TestTicketsCLIListAndShow(t *testing.T) {
	flags, _ := ticketAPI(t)
	ctx := context.Background()

	var out, errOut bytes.Buffer
	if err := ticketsList(ctx, append(flags, "--queue", "billing"), &out, &errOut); err != nil {
		t.Fatalf("tickets list: %v (stderr %s)", err, errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "REF") {
		t.Fatalf("list output %q, expected a header and one ticket", out.String())
	}
	if fields := strings.Fields(lines[1]); len(fields) < 4 || fields[0] != "T-1" || fields[1] != "open" || fields[2] != "billing" || fields[3] != "normal" {
		t.Errorf("list row %q, expected T-1 open billing normal", lines[1])
	}

	out.Reset()
	errOut.Reset()
	if err := ticketsList(ctx, append(flags, "--limit", "1"), &out, &errOut); err != nil {
		t.Fatalf("tickets list --limit 1: %v", err)
	}
	if !strings.Contains(out.String(), apiRef) || !strings.HasPrefix(errOut.String(), "more tickets: add --cursor ") {
		t.Errorf("first page %q with stderr %q, expected %s and a cursor", out.String(), errOut.String(), apiRef)
	}

	out.Reset()
	if err := ticketsShow(ctx, append(flags, "--ticket", "T-1"), &out, &errOut); err != nil {
		t.Fatalf("tickets show: %v", err)
	}
	var detail ticketapi.TicketDetail
	if err := json.Unmarshal(out.Bytes(), &detail); err != nil {
		t.Fatalf("decoding the show output: %v", err)
	}
	if detail.Ref != "T-1" || len(detail.Messages) != 1 || detail.Messages[0].Text != "Where is my invoice?" {
		t.Errorf("show returned %+v, expected T-1 with its one message", detail)
	}

	err := ticketsShow(ctx, append(flags, "--ticket", "T-404"), &out, &errOut)
	if err == nil || err.Error() != "ticket T-404 not found (HTTP 404, field ref)" {
		t.Errorf("show of a missing ticket: %v, expected the API's 404", err)
	}
}

func TestTicketsCLIReassignCloseReply(t *testing.T) {
	flags, count := ticketAPI(t)
	ctx := context.Background()
	var out, errOut bytes.Buffer

	if !hasFlag(append([]string{"--ticket", "T-1"}, flags...), "api") || hasFlag([]string{"--postgres", "x"}, "api") {
		t.Error("hasFlag does not tell the API form from the PostgreSQL form")
	}
	if err := ticketsReassignAPI(ctx, append(flags, "--ticket", "T-1", "--queue", "sales", "--priority", "high"), &out, &errOut); err != nil {
		t.Fatalf("tickets reassign --api: %v", err)
	}
	if got := count(`SELECT count(*) FROM tickets WHERE ticket_ref = 'T-1' AND queue = 'sales' AND priority = 'high'`); got != 1 {
		t.Error("T-1 is not in sales/high after the reassignment")
	}
	if got := count(`SELECT count(*) FROM feedback_outbox`); got != 1 {
		t.Errorf("%d feedback events, expected 1", got)
	}
	var fbEventID string
	if got := count(`SELECT count(*) FROM ticket_events WHERE kind = 'reassigned' AND payload->>'actor' = 'api:cli' AND payload->>'source' = 'api'`); got != 1 {
		t.Errorf("%d reassigned events by api:cli, expected 1", got)
	}
	fbEventID = strings.TrimSpace(out.String())
	if fbEventID != schemas.FeedbackEventID("acme", "T-1", 1) {
		t.Errorf("printed %q, expected the feedback event ID %s", fbEventID, schemas.FeedbackEventID("acme", "T-1", 1))
	}

	out.Reset()
	if err := ticketsClose(ctx, append(flags, "--ticket", "T-1"), &out, &errOut); err != nil {
		t.Fatalf("tickets close: %v", err)
	}
	if got := count(`SELECT count(*) FROM tickets WHERE ticket_ref = 'T-1' AND status = 'closed'`); got != 1 {
		t.Error("T-1 is not closed")
	}
	if strings.TrimSpace(out.String()) != schemas.TicketEventID("acme", "T-1", 1) {
		t.Errorf("close printed %q, expected the ticket event ID", out.String())
	}

	out.Reset()
	errOut.Reset()
	stdin := strings.NewReader("Thanks, the quote is attached.\n")
	if err := ticketsReply(ctx, append(flags, "--ticket", apiRef, "--text-file", "-"), stdin, &out, &errOut); err != nil {
		t.Fatalf("tickets reply: %v", err)
	}
	messageID := strings.TrimSpace(out.String())
	if !strings.HasPrefix(messageID, "mt."+apiRef+".") || !strings.HasSuffix(messageID, "@support.acme.test") {
		t.Errorf("reply printed %q, expected a Message-ID minted for %s", messageID, apiRef)
	}
	if got := count(`SELECT count(*) FROM ticket_messages WHERE direction = 'outbound' AND text = E'Thanks, the quote is attached.\n' AND subject = 'Re: [#` + apiRef + `] Quote'`); got != 1 {
		t.Errorf("%d stored replies, expected 1", got)
	}
	if got := count(`SELECT count(*) FROM api_outbox WHERE topic = 'mailtriage.outbound.v1'`); got != 1 {
		t.Errorf("%d outbound commands, expected 1", got)
	}

	if err := ticketsReply(ctx, append(flags, "--ticket", apiRef), strings.NewReader(""), &out, &errOut); err == nil {
		t.Error("reply without a body succeeded, expected an error")
	}
}

func TestTicketsCLIMissingToken(t *testing.T) {
	t.Setenv(envAPIToken, "")
	var out, errOut bytes.Buffer
	err := ticketsList(context.Background(), []string{"--api", "http://127.0.0.1:1"}, &out, &errOut)
	want := "missing API token: pass --token-file or set MAILTRIAGE_API_TOKEN (create one with mailtriage tickets token create)"
	if err == nil || err.Error() != want {
		t.Errorf("error %v, expected %q", err, want)
	}
}

func TestTicketsTokenPrintsUsage(t *testing.T) {
	const usage = "usage: mailtriage tickets token create"
	for _, tc := range []struct {
		args      []string
		wantError bool
	}{
		{nil, true},
		{[]string{"rotate"}, true},
		{[]string{"-h"}, false},
	} {
		var stdout, stderr bytes.Buffer
		err := ticketsToken(context.Background(), tc.args, &stdout, &stderr)
		if tc.wantError {
			var usageErr *usageError
			if !errors.As(err, &usageErr) {
				t.Errorf("tickets token %v: error = %v, expected a usage error", tc.args, err)
			}
			if !strings.Contains(stderr.String(), usage) {
				t.Errorf("tickets token %v: stderr = %q, expected the usage line", tc.args, stderr.String())
			}
			continue
		}
		if err != nil || !strings.Contains(stdout.String(), usage) {
			t.Errorf("tickets token %v: error = %v, stdout = %q; expected the usage line and no error", tc.args, err, stdout.String())
		}
	}
}
