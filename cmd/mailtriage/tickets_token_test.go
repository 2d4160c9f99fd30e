package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"mailtriage/connectors/ticketapi"
)

// tokenTimes returns the ID and the creation and revocation times of a
// token as the CLI prints them, with "-" for a token not revoked.
func tokenTimes(t *testing.T, pool *pgxpool.Pool, tenant, name string) (id int64, created, revoked string) {
	t.Helper()
	var createdAt time.Time
	var revokedAt *time.Time
	err := pool.QueryRow(context.Background(), `SELECT id, created_at, revoked_at FROM api_tokens WHERE tenant = $1 AND name = $2`,
		tenant, name).Scan(&id, &createdAt, &revokedAt)
	if err != nil {
		t.Fatalf("reading token %s of %s: %v", name, tenant, err)
	}
	revoked = "-"
	if revokedAt != nil {
		revoked = revokedAt.UTC().Format(time.RFC3339)
	}
	return id, createdAt.UTC().Format(time.RFC3339), revoked
}

func TestTicketsTokenRevoke(t *testing.T) {
	dsn, pool := ticketStore(t)
	ctx := context.Background()
	var out, errOut bytes.Buffer

	// Create a token and call the API with it.
	if err := ticketsToken(ctx, []string{"create", "--postgres", dsn, "--tenant", "acme", "--name", "desk"}, &out, &errOut); err != nil {
		t.Fatalf("tickets token create: %v (stderr %s)", err, errOut.String())
	}
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ticketapi.CreateToken(ctx, pool, "globex", "ops", []string{"tickets:read"}); err != nil {
		t.Fatalf("CreateToken: %v", err)
	}
	api, err := ticketapi.New(ticketapi.Config{Pool: pool, MessageIDDomain: "support.acme.test"})
	if err != nil {
		t.Fatalf("ticketapi.New: %v", err)
	}
	server := httptest.NewServer(api)
	t.Cleanup(server.Close)
	apiFlags := []string{"--api", server.URL, "--token-file", tokenFile}
	out.Reset()
	if err := ticketsList(ctx, apiFlags, &out, &errOut); err != nil {
		t.Fatalf("tickets list with a new token: %v", err)
	}

	// The list shows both tokens, neither revoked, and no token.
	deskID, deskCreated, _ := tokenTimes(t, pool, "acme", "desk")
	opsID, opsCreated, _ := tokenTimes(t, pool, "globex", "ops")
	out.Reset()
	if err := ticketsToken(ctx, []string{"list", "--postgres", dsn}, &out, &errOut); err != nil {
		t.Fatalf("tickets token list: %v", err)
	}
	want := "ID  TENANT  NAME  SCOPES                      CREATED               REVOKED\n" +
		padID(deskID) + "acme    desk  tickets:read,tickets:write  " + deskCreated + "  -\n" +
		padID(opsID) + "globex  ops   tickets:read                " + opsCreated + "  -\n"
	if out.String() != want {
		t.Errorf("token list\n%s\nexpected\n%s", out.String(), want)
	}

	// Revoke by tenant and name. The API then rejects the token with 401
	// and the time of revocation.
	errOut.Reset()
	if err := ticketsToken(ctx, []string{"revoke", "--postgres", dsn, "--tenant", "acme", "--name", "desk"}, &out, &errOut); err != nil {
		t.Fatalf("tickets token revoke: %v", err)
	}
	_, _, revoked := tokenTimes(t, pool, "acme", "desk")
	if revoked == "-" {
		t.Fatal("token desk is not revoked in the store")
	}
	wantMsg := "token desk (ID " + strconv.FormatInt(deskID, 10) + ") of tenant acme revoked at " + revoked +
		"; the ticket API now rejects its requests with 401\n"
	if errOut.String() != wantMsg {
		t.Errorf("revoke printed %q, expected %q", errOut.String(), wantMsg)
	}
	err = ticketsList(ctx, apiFlags, &out, &errOut)
	wantErr := "invalid bearer token: the token was revoked at " + revoked +
		"; create a new one with mailtriage tickets token create (HTTP 401, field Authorization)"
	if err == nil || err.Error() != wantErr {
		t.Errorf("tickets list with a revoked token: %v, expected %q", err, wantErr)
	}

	// The JSON list of acme shows the revocation time.
	out.Reset()
	if err := ticketsToken(ctx, []string{"list", "--postgres", dsn, "--tenant", "acme", "--json"}, &out, &errOut); err != nil {
		t.Fatalf("tickets token list --json: %v", err)
	}
	var listed []ticketapi.TokenInfo
	if err := json.Unmarshal(out.Bytes(), &listed); err != nil {
		t.Fatalf("decoding %q: %v", out.String(), err)
	}
	if len(listed) != 1 || listed[0].Name != "desk" || listed[0].RevokedAt == nil || listed[0].RevokedAt.UTC().Format(time.RFC3339) != revoked {
		t.Errorf("token list --json %s, expected desk revoked at %s", out.String(), revoked)
	}
	if strings.Contains(out.String(), "mtk_") || strings.Contains(out.String(), "sha256") {
		t.Errorf("token list --json shows a token or its hash: %s", out.String())
	}

	// Revoking again by ID changes nothing and prints that.
	errOut.Reset()
	if err := ticketsToken(ctx, []string{"revoke", "--postgres", dsn, "--id", strconv.FormatInt(deskID, 10)}, &out, &errOut); err != nil {
		t.Fatalf("second revoke: %v", err)
	}
	wantMsg = "token desk (ID " + strconv.FormatInt(deskID, 10) + ") of tenant acme was already revoked at " + revoked + "; nothing changed\n"
	if errOut.String() != wantMsg {
		t.Errorf("second revoke printed %q, expected %q", errOut.String(), wantMsg)
	}
}

func TestTicketsTokenRevokeErrors(t *testing.T) {
	dsn, _ := ticketStore(t)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"unknown name", []string{"--tenant", "acme", "--name", "nobody"},
			"token not found: no token nobody of tenant acme; list the tokens with mailtriage tickets token list"},
		{"missing name", []string{"--tenant", "acme"},
			"missing token: pass --tenant and --name, or --id (tickets token list prints them)"},
		{"ID and name", []string{"--id", "1", "--tenant", "acme", "--name", "desk"},
			"pass either --id or --tenant and --name, not both"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := ticketsToken(context.Background(), append([]string{"revoke", "--postgres", dsn}, c.args...), &out, &errOut)
			if err == nil || err.Error() != c.want {
				t.Errorf("error %v, expected %q", err, c.want)
			}
		})
	}

	var out, errOut bytes.Buffer
	err := ticketsToken(context.Background(), []string{"rotate"}, &out, &errOut)
	var usageErr *usageError
	if !errors.As(err, &usageErr) || err.Error() != `unknown subcommand "rotate" of tickets token: use create, list or revoke` {
		t.Errorf("tickets token rotate: %v, expected a usage error naming create, list and revoke", err)
	}
}

// padID returns id followed by the spaces that align the ID column of
// the token table, whose header is "ID".
func padID(id int64) string {
	s := strconv.FormatInt(id, 10)
	return s + strings.Repeat(" ", max(2, len(s))+2-len(s))
}
