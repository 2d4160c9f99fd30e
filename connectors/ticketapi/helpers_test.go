package ticketapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"mailtriage/connectors/postgres"
	"mailtriage/internal/testenv"
)

// Ticket references of the seeded store; the reply needs real ones.
const (
	refInvoice = "T-0000000001" // acme, billing/normal/open, two inbound messages
	refOrder   = "T-0000000002" // acme, sales/high/pending
	refRefund  = "T-0000000003" // acme, billing/urgent/closed
	refGlobex  = "T-0000000004" // globex
)

// seedTime is the creation time of refInvoice; the others follow an hour
// apart.
var seedTime = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)

// apiEnv is a migrated store in a schema of its own, with the API
// serving it on 127.0.0.1.
type apiEnv struct {
	pool   *pgxpool.Pool
	server *httptest.Server
	api    *Server
	tokens map[string]string // name: token
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("reading random bytes: %v", err)
	}
	return hex.EncodeToString(b)
}

// newAPIEnv creates the schema, seeds four tickets and three tokens
// (acme "helpdesk" with both scopes, acme "reader" with tickets:read,
// globex "globex-desk") and starts the API.
func newAPIEnv(t *testing.T) *apiEnv {
	t.Helper()
	base := testenv.PostgresDSN(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	schema := "ticketapi_" + randomHex(t, 4)
	admin, err := pgxpool.New(ctx, base)
	if err != nil {
		t.Fatalf("opening a pool: %v", err)
	}
	t.Cleanup(admin.Close)
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("creating schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parsing the test DSN: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	pool, err := pgxpool.New(ctx, u.String())
	if err != nil {
		t.Fatalf("opening a pool: %v", err)
	}
	t.Cleanup(pool.Close)
	if _, err := postgres.Migrate(ctx, pool); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	seedTickets(ctx, t, pool)

	env := &apiEnv{pool: pool, tokens: map[string]string{}}
	for _, tok := range []struct {
		tenant, name string
		scopes       []string
	}{
		{"acme", "helpdesk", nil},
		{"acme", "reader", []string{scopeRead}},
		{"globex", "globex-desk", nil},
	} {
		secret, err := CreateToken(ctx, pool, tok.tenant, tok.name, tok.scopes)
		if err != nil {
			t.Fatalf("CreateToken(%s, %s): %v", tok.tenant, tok.name, err)
		}
		env.tokens[tok.name] = secret
	}

	env.api, err = New(Config{Pool: pool, MessageIDDomain: "support.acme.test",
		OutboundTopic: "test.outbound", TicketEventsTopic: "test.ticket-events"})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	env.server = httptest.NewServer(env.api)
	t.Cleanup(env.server.Close)
	return env
}

// seedTickets inserts the four tickets of the reference constants.
func seedTickets(ctx context.Context, t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	const ticket = `INSERT INTO tickets (tenant, ticket_ref, external_id, status, queue, priority, tags,
			requester_name, requester_address, subject, created_at, updated_at, reason_kind, reason_rule_id, ruleset_version)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, 'rule', 'billing-1', 'rs-7') RETURNING id`
	const message = `INSERT INTO ticket_messages (ticket_id, message_id, event_id, direction, subject, text, received_at)
		VALUES ($1, $2, $3, 'inbound', $4, $5, $6)`
	seeds := []struct {
		tenant, ref, status, queue, priority, name, address, subject string
		offset                                                       time.Duration
	}{
		{"acme", refInvoice, "open", "billing", "normal", "Zoë Müller", "Zoe@Example.test", "Invoice missing", 0},
		{"acme", refOrder, "pending", "sales", "high", "Bob", "bob@example.test", "Order 42", time.Hour},
		{"acme", refRefund, "closed", "billing", "urgent", "", "", "Refund", 2 * time.Hour},
		{"globex", refGlobex, "open", "billing", "normal", "Gail", "gail@example.test", "Globex invoice", 3 * time.Hour},
	}
	for _, s := range seeds {
		var id int64
		at := seedTime.Add(s.offset)
		err := pool.QueryRow(ctx, ticket, s.tenant, s.ref, s.ref+"-m1@mail.example.test", s.status, s.queue, s.priority,
			[]string{"seed"}, s.name, s.address, s.subject, at).Scan(&id)
		if err != nil {
			t.Fatalf("inserting ticket %s: %v", s.ref, err)
		}
		if _, err := pool.Exec(ctx, message, id, s.ref+"-m1@mail.example.test", s.ref+"-ev1", s.subject, "first message", at); err != nil {
			t.Fatalf("inserting the first message of %s: %v", s.ref, err)
		}
		if s.ref == refInvoice {
			if _, err := pool.Exec(ctx, message, id, s.ref+"-m2@mail.example.test", s.ref+"-ev2", "Re: "+s.subject, "any news?", at.Add(30*time.Minute)); err != nil {
				t.Fatalf("inserting the second message of %s: %v", s.ref, err)
			}
		}
	}
}

// response is an HTTP response of the test server.
type response struct {
	status int
	header http.Header
	body   string
}

// call sends one request with token (none when empty) and extra headers.
func (e *apiEnv) call(t *testing.T, method, path, token, body string, headers ...string) response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var reader io.Reader
	if body != "" {
		reader = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, e.server.URL+path, reader)
	if err != nil {
		t.Fatalf("building %s %s: %v", method, path, err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the response of %s %s: %v", method, path, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: strings.TrimSpace(string(data))}
}

// decode parses the body of r into v.
func decode(t *testing.T, r response, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.body), v); err != nil {
		t.Fatalf("decoding %q: %v", r.body, err)
	}
}

// expectStatus fails the test unless r has status.
func expectStatus(t *testing.T, r response, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, expected %d; body %s", r.status, status, r.body)
	}
}

// queryInt returns the single integer of query.
func (e *apiEnv) queryInt(t *testing.T, query string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := e.pool.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// refs returns the references of tickets, in order.
func refs(tickets []Ticket) []string {
	out := make([]string, len(tickets))
	for i, t := range tickets {
		out[i] = t.Ref
	}
	return out
}
