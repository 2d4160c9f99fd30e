package ticketapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// IdempotencyWindow is how long a stored response is returned for a retry with
// the same Idempotency-Key. A key older than that starts a new request.
const IdempotencyWindow = 24 * time.Hour

// maxIdempotencyKey bounds the length of an Idempotency-Key, in bytes.
const maxIdempotencyKey = 255

// changeFunc makes one change inside tx and returns the status and body
// of its response. body holds the request body.
type changeFunc func(ctx context.Context, tx pgx.Tx, r *http.Request, tok *Token, body []byte) (int, any, error)

// change wraps a POST endpoint: it reads the body, runs fn in one
// transaction and, when the request has an Idempotency-Key, stores the
// response in that transaction or returns the stored one.
//
// The key row is inserted before fn runs. A second request with the same
// key waits on that insert until the first commits or rolls back, so two
// concurrent retries never both make the change. An error response is
// not stored: its transaction rolls back, nothing changed, and a retry
// runs again.
func (s *Server) change(fn changeFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, tok *Token) {
		key := r.Header.Get("Idempotency-Key")
		if len(key) > maxIdempotencyKey || !printableASCII(key) {
			writeError(w, invalid("Idempotency-Key", nil, "invalid Idempotency-Key: use 1 to %d printable ASCII characters, such as a UUID", maxIdempotencyKey))
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeError(w, &Error{Status: http.StatusRequestEntityTooLarge, Message: fmt.Sprintf("request body is larger than %d bytes: shorten it", s.cfg.MaxBodyBytes), Field: "body"})
			return
		}
		if err != nil {
			writeError(w, invalid("body", nil, "reading the request body failed: %v", err))
			return
		}

		status, response, err := s.runChange(r.Context(), r, tok, key, body, fn)
		if err != nil {
			s.fail(w, r, tok, err)
			return
		}
		if response.replayed {
			w.Header().Set("Idempotent-Replayed", "true")
		}
		writeBody(w, status, response.body)
	}
}

// storedResponse is the encoded body of a response, and whether it was
// read back for a retried request.
type storedResponse struct {
	body     []byte
	replayed bool
}

// runChange runs fn in a transaction with the idempotency protocol of
// change.
func (s *Server) runChange(ctx context.Context, r *http.Request, tok *Token, key string, body []byte, fn changeFunc) (int, storedResponse, error) {
	tx, err := s.cfg.Pool.Begin(ctx)
	if err != nil {
		return 0, storedResponse{}, fmt.Errorf("beginning a transaction: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()

	requestHash := hashRequest(r, body)
	if key != "" {
		status, stored, found, err := claimKey(ctx, tx, tok, key, requestHash)
		if err != nil || found {
			return status, storedResponse{body: stored, replayed: true}, err
		}
	}

	status, value, err := fn(ctx, tx, r, tok, body)
	if err != nil {
		return 0, storedResponse{}, err
	}
	encoded, err := json.Marshal(value)
	if err != nil {
		return 0, storedResponse{}, fmt.Errorf("encoding the response: %w", err)
	}
	if key != "" {
		const store = `UPDATE api_idempotency_keys SET status = $3, body = $4 WHERE token_id = $1 AND key = $2`
		if _, err := tx.Exec(ctx, store, tok.ID, key, status, encoded); err != nil {
			return 0, storedResponse{}, fmt.Errorf("storing the response of Idempotency-Key: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, storedResponse{}, fmt.Errorf("committing the change: %w", err)
	}
	return status, storedResponse{body: encoded}, nil
}

// claimKey inserts the row of key, after deleting an expired one. When a
// row within IdempotencyWindow exists, it returns its response with found
// set, or a 422 error when that row belongs to a different request.
func claimKey(ctx context.Context, tx pgx.Tx, tok *Token, key, requestHash string) (status int, body []byte, found bool, err error) {
	const expire = `DELETE FROM api_idempotency_keys WHERE token_id = $1 AND key = $2 AND created_at < now() - $3::interval`
	window := fmt.Sprintf("%d seconds", int64(IdempotencyWindow/time.Second))
	if _, err := tx.Exec(ctx, expire, tok.ID, key, window); err != nil {
		return 0, nil, false, fmt.Errorf("deleting an expired Idempotency-Key: %w", err)
	}
	const claim = `INSERT INTO api_idempotency_keys (token_id, key, request_hash, status, body)
		VALUES ($1, $2, $3, 0, '') ON CONFLICT (token_id, key) DO NOTHING`
	tag, err := tx.Exec(ctx, claim, tok.ID, key, requestHash)
	if err != nil {
		return 0, nil, false, fmt.Errorf("storing an Idempotency-Key: %w", err)
	}
	if tag.RowsAffected() == 1 {
		return 0, nil, false, nil
	}

	var storedHash string
	const read = `SELECT request_hash, status, body FROM api_idempotency_keys WHERE token_id = $1 AND key = $2`
	if err := tx.QueryRow(ctx, read, tok.ID, key).Scan(&storedHash, &status, &body); err != nil {
		return 0, nil, false, fmt.Errorf("reading the response of an Idempotency-Key: %w", err)
	}
	if storedHash != requestHash {
		return 0, nil, false, &Error{Status: http.StatusUnprocessableEntity, Field: "Idempotency-Key",
			Message: "Idempotency-Key was already used for a different request in the last 24 hours: use a new key for a new request"}
	}
	return status, body, true, nil
}

// PurgeIdempotencyKeys deletes the stored responses older than
// IdempotencyWindow and returns how many it deleted.
func PurgeIdempotencyKeys(ctx context.Context, pool *pgxpool.Pool) (int64, error) {
	const purge = `DELETE FROM api_idempotency_keys WHERE created_at < now() - $1::interval`
	tag, err := pool.Exec(ctx, purge, fmt.Sprintf("%d seconds", int64(IdempotencyWindow/time.Second)))
	if err != nil {
		return 0, fmt.Errorf("purging expired Idempotency-Keys: %w", err)
	}
	return tag.RowsAffected(), nil
}

// hashRequest returns the hex SHA-256 of the method, path and body, which
// a retry must repeat exactly.
func hashRequest(r *http.Request, body []byte) string {
	h := sha256.New()
	h.Write([]byte(r.Method + " " + r.URL.Path + "\n"))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
