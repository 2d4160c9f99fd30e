package webhook

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net/http"
	"time"
)

// accessEntry collects what a handler learns about a request for its
// access log line. Only the handler's goroutine writes it.
type accessEntry struct {
	tenant  string
	outcome string // such as "accepted", "duplicate", "bad-signature"
	keyHash string // keyHash of the record key, when there is one
	err     error  // the cause of a 5xx response
}

type accessEntryKey struct{}

// entryOf returns the access entry of r, or a throwaway one when r did not
// pass through accessLog.
func entryOf(r *http.Request) *accessEntry {
	if e, ok := r.Context().Value(accessEntryKey{}).(*accessEntry); ok {
		return e
	}
	return &accessEntry{}
}

// keyHash returns the first 12 hex digits of the SHA-256 of a record key,
// which identifies a message in the logs without showing its ID.
func keyHash(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:6])
}

// statusWriter records the status code that a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// accessLog writes one JSON line per request: method, path without the
// query, status, duration, remote address, tenant, outcome and key hash.
// It never logs a body, a header value or a signature. A 5xx line is at
// level ERROR and carries the cause.
func (g *Gateway) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		entry := &accessEntry{}
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), accessEntryKey{}, entry)))

		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		attrs := []slog.Attr{
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", status),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
			slog.String("remote_addr", r.RemoteAddr),
		}
		if entry.tenant != "" {
			attrs = append(attrs, slog.String("tenant", entry.tenant))
		}
		if entry.outcome != "" {
			attrs = append(attrs, slog.String("outcome", entry.outcome))
		}
		if entry.keyHash != "" {
			attrs = append(attrs, slog.String("key_hash", entry.keyHash))
		}
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
			if entry.err != nil {
				attrs = append(attrs, slog.String("error", entry.err.Error()))
			}
		}
		g.log.LogAttrs(r.Context(), level, "request", attrs...)
	})
}
