package ticketapi

import (
	"context"
	"errors"
	"net/http"
	"testing"
)

func TestAuthErrors(t *testing.T) {
	env := newAPIEnv(t)
	if _, err := env.pool.Exec(context.Background(), `INSERT INTO api_tokens (tenant, name, token_sha256, revoked_at)
		VALUES ('acme', 'old', $1, '2025-03-01 10:00:00+00')`, HashToken("mtk_revoked")); err != nil {
		t.Fatalf("inserting a revoked token: %v", err)
	}

	cases := []struct {
		name, method, path, header string
		status                     int
		body                       string
	}{
		{"missing token", "GET", "/v1/tickets", "", 401,
			`{"error":"missing bearer token: send Authorization: Bearer TOKEN","field":"Authorization"}`},
		{"basic scheme", "GET", "/v1/tickets", "Basic YWxhZGRpbjpvcGVu", 401,
			`{"error":"invalid Authorization header: send Authorization: Bearer TOKEN","field":"Authorization"}`},
		{"unknown token", "GET", "/v1/tickets", "Bearer mtk_wrong", 401,
			`{"error":"invalid bearer token: the token is unknown; create one with mailtriage tickets token create","field":"Authorization"}`},
		{"revoked token", "GET", "/v1/tickets", "Bearer mtk_revoked", 401,
			`{"error":"invalid bearer token: the token was revoked at 2025-03-01T10:00:00Z; create a new one with mailtriage tickets token create","field":"Authorization"}`},
		{"read-only token posts", "POST", "/v1/tickets/" + refInvoice + "/notes", "Bearer " + env.tokens["reader"], 403,
			`{"error":"token reader lacks the scope tickets:write: create a token with it","field":"scope","allowed":["tickets:write"]}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var headers []string
			if c.header != "" {
				headers = []string{"Authorization", c.header}
			}
			r := env.call(t, c.method, c.path, "", `{"text":"x"}`, headers...)
			if r.status != c.status {
				t.Errorf("status %d, expected %d", r.status, c.status)
			}
			if r.body != c.body {
				t.Errorf("body\n%s\nexpected\n%s", r.body, c.body)
			}
			if c.status == 401 && r.header.Get("WWW-Authenticate") != `Bearer realm="mailtriage"` {
				t.Errorf("WWW-Authenticate %q, expected the Bearer challenge", r.header.Get("WWW-Authenticate"))
			}
		})
	}
	if got := env.queryInt(t, "SELECT count(*) FROM ticket_events"); got != 0 {
		t.Errorf("%d ticket events after rejected requests, expected 0", got)
	}
}

func TestCreateTokenStoresOnlyHash(t *testing.T) {
	env := newAPIEnv(t)
	ctx := context.Background()
	token, err := CreateToken(ctx, env.pool, "acme", "bot-1", []string{scopeRead})
	if err != nil {
		t.Fatalf("CreateToken: %v", err)
	}
	var stored string
	var scopes []string
	if err := env.pool.QueryRow(ctx, "SELECT token_sha256, scopes FROM api_tokens WHERE name = 'bot-1'").Scan(&stored, &scopes); err != nil {
		t.Fatalf("reading the token row: %v", err)
	}
	if stored != HashToken(token) {
		t.Errorf("stored %s, expected the SHA-256 of the token %s", stored, HashToken(token))
	}
	if len(scopes) != 1 || scopes[0] != scopeRead {
		t.Errorf("scopes %v, expected [tickets:read]", scopes)
	}
	if _, err := CreateToken(ctx, env.pool, "acme", "bot-1", nil); !errors.Is(err, ErrTokenExists) {
		t.Errorf("second token of the same name: %v, expected ErrTokenExists", err)
	}
	if _, err := CreateToken(ctx, env.pool, "acme", "Bob@example.test", nil); err == nil {
		t.Error("a token named like an address was created, expected an error")
	}
	if _, err := CreateToken(ctx, env.pool, "acme", "bot-2", []string{"admin"}); err == nil {
		t.Error("a token with scope admin was created, expected an error")
	}
}

func TestTenantIsolation(t *testing.T) {
	env := newAPIEnv(t)
	globex := env.tokens["globex-desk"]

	r := env.call(t, http.MethodGet, "/v1/tickets", globex, "")
	expectStatus(t, r, http.StatusOK)
	var list TicketList
	decode(t, r, &list)
	if got := refs(list.Tickets); len(got) != 1 || got[0] != refGlobex {
		t.Errorf("globex lists %v, expected only %s", got, refGlobex)
	}
	r = env.call(t, http.MethodGet, "/v1/tickets?queue=sales", globex, "")
	expectStatus(t, r, http.StatusOK)
	if r.body != `{"tickets":[]}` {
		t.Errorf("globex list of sales %s, expected an empty list", r.body)
	}

	other := env.call(t, http.MethodGet, "/v1/tickets/"+refInvoice, globex, "")
	missing := env.call(t, http.MethodGet, "/v1/tickets/T-ZZZZZZZZZZ", globex, "")
	expectStatus(t, other, http.StatusNotFound)
	if want := `{"error":"ticket ` + refInvoice + ` not found","field":"ref"}`; other.body != want {
		t.Errorf("body %s, expected %s", other.body, want)
	}
	if want := `{"error":"ticket T-ZZZZZZZZZZ not found","field":"ref"}`; missing.body != want {
		t.Errorf("body of a missing ticket %s, expected %s", missing.body, want)
	}

	for _, post := range []struct{ action, body string }{
		{"reassign", `{"queue":"sales"}`},
		{"status", `{"status":"closed"}`},
		{"notes", `{"text":"peek"}`},
		{"replies", `{"text":"hello"}`},
	} {
		r := env.call(t, http.MethodPost, "/v1/tickets/"+refInvoice+"/"+post.action, globex, post.body)
		expectStatus(t, r, http.StatusNotFound)
	}
	if got := env.queryInt(t, "SELECT count(*) FROM ticket_events"); got != 0 {
		t.Errorf("%d ticket events after another tenant's requests, expected 0", got)
	}
	if got := env.queryInt(t, "SELECT count(*) FROM tickets WHERE ticket_ref = $1 AND queue = 'billing' AND status = 'open'", refInvoice); got != 1 {
		t.Errorf("ticket %s changed by another tenant", refInvoice)
	}
}
