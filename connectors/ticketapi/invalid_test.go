package ticketapi

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

func TestInvalidInputErrors(t *testing.T) {
	env := newAPIEnv(t)
	ticket := "/v1/tickets/" + refInvoice
	cases := []struct {
		name, method, path, body string
		headers                  []string
		status                   int
		want                     string
	}{
		{"unknown parameter", "GET", "/v1/tickets?owner=me", "", nil, 400,
			`{"error":"unknown query parameter \"owner\"","field":"owner","allowed":["queue","status","priority","requester","since","until","limit","cursor"]}`},
		{"list status", "GET", "/v1/tickets?status=done", "", nil, 400,
			`{"error":"invalid status \"done\": status must be one of open, pending, solved, closed","field":"status","allowed":["open","pending","solved","closed"]}`},
		{"list priority", "GET", "/v1/tickets?priority=asap", "", nil, 400,
			`{"error":"invalid priority \"asap\": priority must be one of low, normal, high, urgent","field":"priority","allowed":["low","normal","high","urgent"]}`},
		{"list queue", "GET", "/v1/tickets?queue=Billing", "", nil, 400,
			`{"error":"invalid queue \"Billing\": use 1 to 100 lower-case letters, digits, '.', '_' and '-', starting with a letter or digit","field":"queue"}`},
		{"list requester", "GET", "/v1/tickets?requester=Zoe%20%3Czoe@example.test%3E", "", nil, 400,
			`{"error":"invalid requester: give one bare email address such as user@example.com","field":"requester"}`},
		{"list since", "GET", "/v1/tickets?since=yesterday", "", nil, 400,
			`{"error":"invalid since \"yesterday\": use an RFC 3339 time such as 2025-03-01T00:00:00Z","field":"since"}`},
		{"list until before since", "GET", "/v1/tickets?since=2025-03-02T00:00:00Z&until=2025-03-01T00:00:00Z", "", nil, 400,
			`{"error":"until 2025-03-01T00:00:00Z is not after since 2025-03-02T00:00:00Z: give a later until","field":"until"}`},
		{"list limit", "GET", "/v1/tickets?limit=500", "", nil, 400,
			`{"error":"invalid limit \"500\": use a whole number from 1 to 200","field":"limit"}`},
		{"list cursor", "GET", "/v1/tickets?cursor=abc", "", nil, 400,
			`{"error":"invalid cursor \"abc\": pass the nextCursor of the previous page unchanged","field":"cursor"}`},
		{"status value", "POST", ticket + "/status", `{"status":"done"}`, nil, 400,
			`{"error":"invalid status \"done\": status must be one of open, pending, solved, closed","field":"status","allowed":["open","pending","solved","closed"]}`},
		{"status missing", "POST", ticket + "/status", `{}`, nil, 400,
			`{"error":"missing field status: status must be one of open, pending, solved, closed","field":"status","allowed":["open","pending","solved","closed"]}`},
		{"status not a string", "POST", ticket + "/status", `{"status":3}`, nil, 400,
			`{"error":"field status must be a string","field":"status","allowed":["open","pending","solved","closed"]}`},
		{"reassign queue", "POST", ticket + "/reassign", `{"queue":"Sales Team"}`, nil, 400,
			`{"error":"invalid queue \"Sales Team\": use 1 to 100 lower-case letters, digits, '.', '_' and '-', starting with a letter or digit","field":"queue"}`},
		{"reassign missing queue", "POST", ticket + "/reassign", `{"priority":"high"}`, nil, 400,
			`{"error":"missing field queue: it is required and must not be blank","field":"queue"}`},
		{"reassign priority", "POST", ticket + "/reassign", `{"queue":"sales","priority":"asap"}`, nil, 400,
			`{"error":"invalid priority \"asap\": priority must be one of low, normal, high, urgent","field":"priority","allowed":["low","normal","high","urgent"]}`},
		{"reassign unknown field", "POST", ticket + "/reassign", `{"queue":"sales","owner":"me"}`, nil, 400,
			`{"error":"unknown field \"owner\"","field":"owner","allowed":["queue","priority"]}`},
		{"note blank", "POST", ticket + "/notes", `{"text":"   "}`, nil, 400,
			`{"error":"missing field text: it is required and must not be blank","field":"text"}`},
		{"reply missing text", "POST", ticket + "/replies", `{"html":"<p>hi</p>"}`, nil, 400,
			`{"error":"missing field text: it is required and must not be blank","field":"text"}`},
		{"body not JSON", "POST", ticket + "/notes", `text=hi`, nil, 400,
			`{"error":"invalid JSON body: send one object with text","field":"body"}`},
		{"body empty", "POST", ticket + "/replies", ``, nil, 400,
			`{"error":"missing JSON body: send an object with text, html","field":"body"}`},
		{"body too large", "POST", ticket + "/notes", `{"text":"` + strings.Repeat("a", DefaultMaxBodyBytes) + `"}`, nil, 413,
			`{"error":"request body is larger than 1048576 bytes: shorten it","field":"body"}`},
		{"idempotency key", "POST", ticket + "/notes", `{"text":"hi"}`, []string{"Idempotency-Key", "caf\u00e9"}, 400,
			`{"error":"invalid Idempotency-Key: use 1 to 255 printable ASCII characters, such as a UUID","field":"Idempotency-Key"}`},
		{"method", "DELETE", ticket, "", nil, 405,
			`{"error":"method DELETE is not allowed on /v1/tickets/` + refInvoice + `","field":"method","allowed":["GET"]}`},
		{"unknown path", "GET", "/v2/tickets", "", nil, 404,
			`{"error":"no endpoint /v2/tickets: the API serves /v1/tickets and /v1/tickets/{ref}[/reassign|/status|/notes|/replies]","field":"path"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := env.call(t, c.method, c.path, env.tokens["helpdesk"], c.body, c.headers...)
			if r.status != c.status {
				t.Errorf("status %d, expected %d", r.status, c.status)
			}
			if r.body != c.want {
				t.Errorf("body\n%s\nexpected\n%s", r.body, c.want)
			}
		})
	}
	if n := env.queryInt(t, "SELECT count(*) FROM ticket_events"); n != 0 {
		t.Errorf("%d ticket events after invalid requests, expected 0", n)
	}
}

func TestIdempotencyKey(t *testing.T) {
	env := newAPIEnv(t)
	path := "/v1/tickets/" + refInvoice + "/notes"
	token := env.tokens["helpdesk"]

	first := env.call(t, http.MethodPost, path, token, `{"text":"called back"}`, "Idempotency-Key", "key-1")
	expectStatus(t, first, http.StatusCreated)
	retry := env.call(t, http.MethodPost, path, token, `{"text":"called back"}`, "Idempotency-Key", "key-1")
	expectStatus(t, retry, http.StatusCreated)
	if retry.body != first.body {
		t.Errorf("retry body\n%s\nexpected the first\n%s", retry.body, first.body)
	}
	if retry.header.Get("Idempotent-Replayed") != "true" || first.header.Get("Idempotent-Replayed") != "" {
		t.Errorf("Idempotent-Replayed %q then %q, expected empty then true", first.header.Get("Idempotent-Replayed"), retry.header.Get("Idempotent-Replayed"))
	}
	if n := env.queryInt(t, "SELECT count(*) FROM ticket_events WHERE kind = 'note'"); n != 1 {
		t.Errorf("%d notes after a retry, expected 1", n)
	}
	if n := env.queryInt(t, "SELECT count(*) FROM api_outbox"); n != 1 {
		t.Errorf("%d outbox rows after a retry, expected 1", n)
	}

	other := env.call(t, http.MethodPost, path, token, `{"text":"something else"}`, "Idempotency-Key", "key-1")
	expectStatus(t, other, http.StatusUnprocessableEntity)
	if want := `{"error":"Idempotency-Key was already used for a different request in the last 24 hours: use a new key for a new request","field":"Idempotency-Key"}`; other.body != want {
		t.Errorf("body %s, expected %s", other.body, want)
	}

	// Keys are per token: another token's key-1 is a new request.
	secondToken, err := CreateToken(context.Background(), env.pool, "acme", "third", nil)
	if err != nil {
		t.Fatalf("CreateToken: %v", err)
	}
	expectStatus(t, env.call(t, http.MethodPost, path, secondToken, `{"text":"called back"}`, "Idempotency-Key", "key-1"), http.StatusCreated)
	if n := env.queryInt(t, "SELECT count(*) FROM ticket_events WHERE kind = 'note'"); n != 2 {
		t.Errorf("%d notes after another token's key-1, expected 2", n)
	}

	// After 24 hours the key starts a new request.
	if _, err := env.pool.Exec(context.Background(), "UPDATE api_idempotency_keys SET created_at = now() - interval '25 hours'"); err != nil {
		t.Fatalf("ageing the keys: %v", err)
	}
	expired := env.call(t, http.MethodPost, path, token, `{"text":"called back"}`, "Idempotency-Key", "key-1")
	expectStatus(t, expired, http.StatusCreated)
	if expired.body == first.body {
		t.Error("an expired key returned the stored response, expected a new change")
	}
	if n := env.queryInt(t, "SELECT count(*) FROM ticket_events WHERE kind = 'note'"); n != 3 {
		t.Errorf("%d notes after an expired key, expected 3", n)
	}
	purged, err := PurgeIdempotencyKeys(context.Background(), env.pool)
	if err != nil || purged != 1 {
		t.Errorf("PurgeIdempotencyKeys = %d, %v; expected 1 (the other token's aged key)", purged, err)
	}
}

func TestErrorNotStoredForKey(t *testing.T) {
	env := newAPIEnv(t)
	path := "/v1/tickets/" + refInvoice + "/status"
	token := env.tokens["helpdesk"]
	expectStatus(t, env.call(t, http.MethodPost, path, token, `{"status":"open"}`, "Idempotency-Key", "k"), http.StatusConflict)
	if n := env.queryInt(t, "SELECT count(*) FROM api_idempotency_keys"); n != 0 {
		t.Errorf("%d stored keys after a rejected change, expected 0", n)
	}
}
