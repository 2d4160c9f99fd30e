package ticketapi

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrTokenNotFound means that no token has the requested ID, or that the
// tenant has no token of the requested name.
var ErrTokenNotFound = errors.New("token not found")

// ErrTokenAlreadyRevoked means that RevokeToken found the token revoked
// before, so it changed nothing.
var ErrTokenAlreadyRevoked = errors.New("token already revoked")

// TokenInfo describes a stored token. The token itself cannot be shown:
// the store keeps only its SHA-256.
type TokenInfo struct {
	ID        int64      `json:"id"`
	Tenant    string     `json:"tenant"`
	Name      string     `json:"name"`
	Scopes    []string   `json:"scopes"`
	CreatedAt time.Time  `json:"createdAt"`
	RevokedAt *time.Time `json:"revokedAt"` // nil while the token is valid
}

// TokenRef selects one token: by ID when ID is not 0, and otherwise by
// tenant and name, the pair that is unique in the store.
type TokenRef struct {
	ID     int64
	Tenant string
	Name   string
}

// String names the token in messages.
func (r TokenRef) String() string {
	if r.ID != 0 {
		return fmt.Sprintf("with ID %d", r.ID)
	}
	return fmt.Sprintf("%s of tenant %s", r.Name, r.Tenant)
}

// tokenQuerier is the part of a pgx pool, connection or transaction that
// the token functions use.
type tokenQuerier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

const tokenColumns = `id, tenant, name, scopes, created_at, revoked_at`

// ListTokens returns the tokens of tenant, or of every tenant when tenant
// is empty, revoked ones included, ordered by tenant and name.
func ListTokens(ctx context.Context, db tokenQuerier, tenant string) ([]TokenInfo, error) {
	query := `SELECT ` + tokenColumns + ` FROM api_tokens WHERE $1 = '' OR tenant = $1 ORDER BY tenant, name`
	rows, err := db.Query(ctx, query, tenant)
	if err != nil {
		return nil, fmt.Errorf("listing API tokens: %w", err)
	}
	tokens, err := pgx.CollectRows(rows, scanTokenInfo)
	if err != nil {
		return nil, fmt.Errorf("listing API tokens: %w", err)
	}
	return tokens, nil
}

// RevokeToken revokes the token that ref selects and returns it with the
// time of revocation. From then on the API rejects the token's requests
// with 401. The row stays, so the token's name stays taken and its
// changes keep their actor. A token revoked before is returned unchanged
// with an error wrapping ErrTokenAlreadyRevoked, and an unknown one gives
// an error wrapping ErrTokenNotFound.
func RevokeToken(ctx context.Context, db tokenQuerier, ref TokenRef) (TokenInfo, error) {
	where, args, err := ref.condition()
	if err != nil {
		return TokenInfo{}, err
	}

	update := `UPDATE api_tokens SET revoked_at = now() WHERE revoked_at IS NULL AND ` + where + ` RETURNING ` + tokenColumns
	// pgx also returns the error of Query from rows.Err, which
	// CollectExactlyOneRow checks.
	rows, _ := db.Query(ctx, update, args...)
	info, err := pgx.CollectExactlyOneRow(rows, scanTokenInfo)
	if err == nil {
		return info, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return TokenInfo{}, fmt.Errorf("revoking token %s: %w", ref, err)
	}

	// Nothing was updated: the token is unknown or already revoked.
	rows, _ = db.Query(ctx, `SELECT `+tokenColumns+` FROM api_tokens WHERE `+where, args...)
	info, err = pgx.CollectExactlyOneRow(rows, scanTokenInfo)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return TokenInfo{}, fmt.Errorf("%w: no token %s; list the tokens with mailtriage tickets token list", ErrTokenNotFound, ref)
	case err != nil:
		return TokenInfo{}, fmt.Errorf("reading token %s: %w", ref, err)
	}
	return info, fmt.Errorf("%w: token %s was revoked at %s", ErrTokenAlreadyRevoked, ref, info.RevokedAt.UTC().Format(time.RFC3339))
}

// condition returns the SQL condition that selects r, with its arguments.
func (r TokenRef) condition() (string, []any, error) {
	switch {
	case r.ID < 0:
		return "", nil, fmt.Errorf("invalid token ID %d: use the ID that mailtriage tickets token list prints", r.ID)
	case r.ID != 0 && (r.Tenant != "" || r.Name != ""):
		return "", nil, errors.New("select the token either by ID or by tenant and name, not both")
	case r.ID != 0:
		return "id = $1", []any{r.ID}, nil
	case r.Tenant == "" || r.Name == "":
		return "", nil, errors.New("missing token: name the tenant and the token name, or the token ID")
	}
	return "tenant = $1 AND name = $2", []any{r.Tenant, r.Name}, nil
}

func scanTokenInfo(row pgx.CollectableRow) (TokenInfo, error) {
	var t TokenInfo
	err := row.Scan(&t.ID, &t.Tenant, &t.Name, &t.Scopes, &t.CreatedAt, &t.RevokedAt)
	return t, err
}
