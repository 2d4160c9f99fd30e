package ticketapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestRevokeTokenRejectsRequests(t *testing.T) {
	env := newAPIEnv(t)
	ctx := context.Background()
	helpdesk := env.tokens["helpdesk"]
	expectStatus(t, env.call(t, http.MethodGet, "/v1/tickets", helpdesk, ""), http.StatusOK)

	before := time.Now().Add(-time.Minute)
	info, err := RevokeToken(ctx, env.pool, TokenRef{Tenant: "acme", Name: "helpdesk"})
	if err != nil {
		t.Fatalf("RevokeToken: %v", err)
	}
	if info.Tenant != "acme" || info.Name != "helpdesk" || info.RevokedAt == nil || info.RevokedAt.Before(before) {
		t.Fatalf("RevokeToken returned %+v, expected acme's helpdesk with a revocation time", info)
	}

	for _, req := range []struct{ method, path, body string }{
		{http.MethodGet, "/v1/tickets", ""},
		{http.MethodGet, "/v1/tickets/" + refInvoice, ""},
		{http.MethodPost, "/v1/tickets/" + refInvoice + "/notes", `{"text":"x"}`},
	} {
		r := env.call(t, req.method, req.path, helpdesk, req.body)
		if r.status != http.StatusUnauthorized {
			t.Errorf("%s %s with a revoked token: status %d, expected 401", req.method, req.path, r.status)
		}
		want := `{"error":"invalid bearer token: the token was revoked at ` + info.RevokedAt.UTC().Format(time.RFC3339) +
			`; create a new one with mailtriage tickets token create","field":"Authorization"}`
		if r.body != want {
			t.Errorf("%s %s with a revoked token: body\n%s\nexpected\n%s", req.method, req.path, r.body, want)
		}
	}
	if got := env.queryInt(t, "SELECT count(*) FROM ticket_events"); got != 0 {
		t.Errorf("%d ticket events after requests with a revoked token, expected 0", got)
	}

	// The other tokens of the tenant keep working.
	expectStatus(t, env.call(t, http.MethodGet, "/v1/tickets", env.tokens["reader"], ""), http.StatusOK)
}

func TestRevokeTokenErrors(t *testing.T) {
	env := newAPIEnv(t)
	ctx := context.Background()

	first, err := RevokeToken(ctx, env.pool, TokenRef{Tenant: "globex", Name: "globex-desk"})
	if err != nil {
		t.Fatalf("RevokeToken: %v", err)
	}
	again, err := RevokeToken(ctx, env.pool, TokenRef{ID: first.ID})
	if !errors.Is(err, ErrTokenAlreadyRevoked) {
		t.Errorf("second revocation: %v, expected ErrTokenAlreadyRevoked", err)
	}
	want := "token already revoked: token with ID " + strconv.FormatInt(first.ID, 10) + " was revoked at " + first.RevokedAt.UTC().Format(time.RFC3339)
	if err == nil || err.Error() != want {
		t.Errorf("second revocation: error %v, expected %q", err, want)
	}
	if again.RevokedAt == nil || !again.RevokedAt.Equal(*first.RevokedAt) {
		t.Errorf("second revocation returned %+v, expected the first revocation time %v", again, first.RevokedAt)
	}

	cases := []struct {
		name string
		ref  TokenRef
		want string
		is   error
	}{
		{"unknown name", TokenRef{Tenant: "acme", Name: "nobody"},
			"token not found: no token nobody of tenant acme; list the tokens with mailtriage tickets token list", ErrTokenNotFound},
		{"name of another tenant", TokenRef{Tenant: "globex", Name: "helpdesk"},
			"token not found: no token helpdesk of tenant globex; list the tokens with mailtriage tickets token list", ErrTokenNotFound},
		{"unknown ID", TokenRef{ID: 999999},
			"token not found: no token with ID 999999; list the tokens with mailtriage tickets token list", ErrTokenNotFound},
		{"missing name", TokenRef{Tenant: "acme"}, "missing token: name the tenant and the token name, or the token ID", nil},
		{"ID and name", TokenRef{ID: 1, Tenant: "acme", Name: "helpdesk"}, "select the token either by ID or by tenant and name, not both", nil},
		{"negative ID", TokenRef{ID: -1}, "invalid token ID -1: use the ID that mailtriage tickets token list prints", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := RevokeToken(ctx, env.pool, c.ref)
			if err == nil || err.Error() != c.want {
				t.Errorf("error %v, expected %q", err, c.want)
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("error %v does not wrap %v", err, c.is)
			}
		})
	}
	if got := env.queryInt(t, "SELECT count(*) FROM api_tokens WHERE revoked_at IS NOT NULL"); got != 1 {
		t.Errorf("%d revoked tokens, expected only globex-desk", got)
	}
}

func TestListTokens(t *testing.T) {
	env := newAPIEnv(t)
	ctx := context.Background()
	if _, err := RevokeToken(ctx, env.pool, TokenRef{Tenant: "acme", Name: "reader"}); err != nil {
		t.Fatalf("RevokeToken: %v", err)
	}

	all, err := ListTokens(ctx, env.pool, "")
	if err != nil {
		t.Fatalf("ListTokens: %v", err)
	}
	var names []string
	for _, tok := range all {
		names = append(names, tok.Tenant+"/"+tok.Name)
	}
	if got := strings.Join(names, " "); got != "acme/helpdesk acme/reader globex/globex-desk" {
		t.Errorf("tokens %s, expected acme/helpdesk acme/reader globex/globex-desk", got)
	}

	acme, err := ListTokens(ctx, env.pool, "acme")
	if err != nil {
		t.Fatalf("ListTokens(acme): %v", err)
	}
	if len(acme) != 2 {
		t.Fatalf("%d tokens of acme, expected 2", len(acme))
	}
	if acme[0].RevokedAt != nil || strings.Join(acme[0].Scopes, " ") != "tickets:read tickets:write" {
		t.Errorf("helpdesk %+v, expected valid with both scopes", acme[0])
	}
	if acme[1].RevokedAt == nil || strings.Join(acme[1].Scopes, " ") != "tickets:read" {
		t.Errorf("reader %+v, expected revoked with tickets:read", acme[1])
	}
	if acme[0].CreatedAt.IsZero() {
		t.Error("helpdesk has no creation time")
	}

	none, err := ListTokens(ctx, env.pool, "initech")
	if err != nil || len(none) != 0 {
		t.Errorf("ListTokens(initech) = %v, %v; expected no tokens", none, err)
	}
}
