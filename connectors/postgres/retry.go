package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// backoff returns the wait before retry number attempt, 1 for the first
// retry. The delay doubles from lo up to hi. The wait is drawn uniformly
// between half the delay and the whole of it, so that sinks that failed
// together do not retry together.
func backoff(attempt int, lo, hi time.Duration) time.Duration {
	delay := lo
	for i := 1; i < attempt && delay < hi; i++ {
		delay *= 2
	}
	delay = min(delay, hi)
	half := delay / 2
	return half + rand.N(delay-half+1)
}

// sleep waits for d or until ctx is done, and reports whether the full
// wait passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// isRecordFault reports whether err is PostgreSQL rejecting the data of a
// statement, so that running the same statement again would fail again.
// These are the SQLSTATE classes 22 (data exception, such as a NUL byte
// in text or an invalid JSON escape), 23 (integrity constraint violation)
// and 54 (program limit exceeded, such as a value too large for an
// index). Every other error is worth retrying, a lost connection or a
// server shutting down among them.
func isRecordFault(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	switch {
	case strings.HasPrefix(pgErr.Code, "22"),
		strings.HasPrefix(pgErr.Code, "23"),
		strings.HasPrefix(pgErr.Code, "54"):
		return true
	}
	return false
}

// redactor removes the PostgreSQL password from error text before it is
// logged. pgx v5 leaves passwords out of its own errors, but a password
// can still show up elsewhere, for example in a server message that
// quotes a connection string.
type redactor struct {
	password string
}

// text returns err's message with the password replaced by "xxxxx".
func (r redactor) text(err error) string {
	if err == nil {
		return ""
	}
	s := err.Error()
	if r.password != "" {
		s = strings.ReplaceAll(s, r.password, "xxxxx")
	}
	return s
}

// describeDSN returns the connection target of config for logs: user,
// host, port and database, never the password.
func describeDSN(config *pgconn.Config) string {
	return fmt.Sprintf("user=%s host=%s port=%d database=%s", config.User, config.Host, config.Port, config.Database)
}

// isServerError reports whether err is PostgreSQL rejecting a statement
// for a reason that waiting will not fix, such as a syntax error in a
// migration. Failed connections and the SQLSTATE classes of a server in
// trouble (08 connection exception, 40 transaction rollback, 53
// insufficient resources, 57 operator intervention, 58 system error) are
// not: they are retried.
func isServerError(err error) bool {
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) {
		return false
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	switch pgErr.Code[:2] {
	case "08", "40", "53", "57", "58":
		return false
	}
	return true
}
