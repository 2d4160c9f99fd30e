package webhook

import (
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"time"
)

// Values of the status field of a 202 response.
const (
	statusAccepted     = "accepted"
	statusDeadLettered = "dead-lettered"
)

// acceptedBody is the JSON body of a 202 response. Duplicate is true when
// the request repeated an accepted one and no record was produced.
type acceptedBody struct {
	Status    string `json:"status"`
	Key       string `json:"key"`
	Duplicate bool   `json:"duplicate,omitempty"`
}

// errorBody is the JSON body of every error response.
type errorBody struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client may be gone; nothing to do then
}

func writeError(w http.ResponseWriter, status int, message string) {
	writeJSON(w, status, errorBody{Error: message})
}

// reject writes a client error response and records outcome for the
// access log.
func reject(w http.ResponseWriter, r *http.Request, status int, outcome, message string) {
	entryOf(r).outcome = outcome
	writeError(w, status, message)
}

// unavailable responds 503 with Retry-After. message is for the sender;
// cause, when not nil, goes to the access log only.
func (g *Gateway) unavailable(w http.ResponseWriter, r *http.Request, message error, cause error) {
	entry := entryOf(r)
	entry.outcome = "unavailable"
	entry.err = cause
	w.Header().Set("Retry-After", retryAfterSeconds(g.cfg.RetryAfter))
	writeError(w, http.StatusServiceUnavailable, message.Error())
}

// retryAfterSeconds formats d as whole seconds, rounded up, at least 1.
func retryAfterSeconds(d time.Duration) string {
	return strconv.Itoa(int(math.Max(1, math.Ceil(d.Seconds()))))
}
