package ticketapi

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Scopes of a token.
const (
	scopeRead  = "tickets:read"  // the GET endpoints
	scopeWrite = "tickets:write" // the POST endpoints
)

// Scopes lists every scope a token may have.
var Scopes = []string{scopeRead, scopeWrite}

// tokenPrefix starts every token, so that secret scanners and people can
// tell a ticket API token from other secrets.
const tokenPrefix = "mtk_"

// tokenName is the form of a token name. The name becomes the actor
// "api:NAME" of the token's changes, which must never be an address.
var tokenName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// ErrTokenExists means the tenant already has a token of that name.
var ErrTokenExists = errors.New("token name already used")

// Token is an authenticated API token.
type Token struct {
	ID     int64
	Tenant string
	Name   string
	Scopes []string
}

// actor returns the actor of the token's changes.
func (t *Token) actor() string { return "api:" + t.Name }

func (t *Token) hasScope(scope string) bool { return slices.Contains(t.Scopes, scope) }

// HashToken returns the hex SHA-256 of token, the form api_tokens stores.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// CreateToken stores a new token of tenant named name with scopes (nil
// means every scope) and returns the token. Only its hash is stored, so
// the caller must show the token now: it cannot be read back. The name
// is 1 to 64 lower-case letters, digits, '.', '_' and '-'. It returns an
// error wrapping ErrTokenExists when the tenant has a token of that name.
func CreateToken(ctx context.Context, db interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}, tenant, name string, scopes []string) (string, error) {
	if strings.TrimSpace(tenant) == "" {
		return "", errors.New("missing tenant: name the tenant whose tickets the token may read")
	}
	if !tokenName.MatchString(name) {
		return "", fmt.Errorf("invalid token name %q: use 1 to 64 lower-case letters, digits, '.', '_' and '-', starting with a letter or digit", name)
	}
	if scopes == nil {
		scopes = Scopes
	}
	for _, scope := range scopes {
		if !slices.Contains(Scopes, scope) {
			return "", fmt.Errorf("invalid scope %q: use %s", scope, strings.Join(Scopes, " or "))
		}
	}

	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return "", fmt.Errorf("reading random bytes for a token: %w", err)
	}
	token := tokenPrefix + base64.RawURLEncoding.EncodeToString(secret)

	const insert = `INSERT INTO api_tokens (tenant, name, token_sha256, scopes) VALUES ($1, $2, $3, $4)`
	_, err := db.Exec(ctx, insert, tenant, name, HashToken(token), scopes)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.ConstraintName == "api_tokens_tenant_name_key" {
		return "", fmt.Errorf("%w: tenant %s already has a token named %s: choose another name", ErrTokenExists, tenant, name)
	}
	if err != nil {
		return "", fmt.Errorf("storing token %s of tenant %s: %w", name, tenant, err)
	}
	return token, nil
}

// authenticate returns the token of the request's Authorization header,
// or a 401 error when it is missing, malformed, unknown or revoked. Only
// the holder of a token can learn that it was revoked, and when.
func (s *Server) authenticate(r *http.Request) (*Token, *Error) {
	header := r.Header.Get("Authorization")
	if header == "" {
		return nil, &Error{Status: http.StatusUnauthorized, Message: "missing bearer token: send Authorization: Bearer TOKEN", Field: "Authorization"}
	}
	scheme, token, ok := strings.Cut(header, " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return nil, &Error{Status: http.StatusUnauthorized, Message: "invalid Authorization header: send Authorization: Bearer TOKEN", Field: "Authorization"}
	}

	const query = `SELECT id, tenant, name, scopes, revoked_at FROM api_tokens WHERE token_sha256 = $1`
	var tok Token
	var revokedAt *time.Time
	err := s.cfg.Pool.QueryRow(r.Context(), query, HashToken(token)).Scan(&tok.ID, &tok.Tenant, &tok.Name, &tok.Scopes, &revokedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, &Error{Status: http.StatusUnauthorized, Message: "invalid bearer token: the token is unknown; create one with mailtriage tickets token create", Field: "Authorization"}
	}
	if err != nil {
		s.log.Error("reading an API token failed", "error", err)
		return nil, &Error{Status: http.StatusServiceUnavailable, Message: "the ticket store is unavailable: retry later"}
	}
	if revokedAt != nil {
		msg := fmt.Sprintf("invalid bearer token: the token was revoked at %s; create a new one with mailtriage tickets token create", revokedAt.UTC().Format(time.RFC3339))
		return nil, &Error{Status: http.StatusUnauthorized, Message: msg, Field: "Authorization"}
	}
	return &tok, nil
}
