package ticketapi

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// Error is the JSON body of every error response. Field names the
// request field, query parameter or header that failed, and Allowed
// lists the values it accepts, when it accepts a fixed set.
type Error struct {
	Status  int      `json:"-"`
	Message string   `json:"error"`
	Field   string   `json:"field,omitempty"`
	Allowed []string `json:"allowed,omitempty"`
}

// Error returns the message, the HTTP status and the field.
func (e *Error) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%s (HTTP %d)", e.Message, e.Status)
	}
	return fmt.Sprintf("%s (HTTP %d, field %s)", e.Message, e.Status, e.Field)
}

// invalid returns a 400 error on field.
func invalid(field string, allowed []string, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Message: fmt.Sprintf(format, args...), Field: field, Allowed: allowed}
}

// errTicketNotFound is the 404 of a ticket that does not exist or belongs
// to another tenant; the two cases must read the same.
func errTicketNotFound(ref string) *Error {
	return &Error{Status: http.StatusNotFound, Message: fmt.Sprintf("ticket %s not found", ref), Field: "ref"}
}

// errInternal is the 500 of a failure the client cannot fix. The cause is
// logged, never sent.
var errInternal = &Error{Status: http.StatusInternalServerError, Message: "internal error: the ticket store failed; retry later, with the same Idempotency-Key for a POST"}

// writeJSON sends v as the JSON body of a response with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body, _ = json.Marshal(errInternal)
	}
	writeBody(w, status, body)
}

// writeBody sends a JSON body that is already encoded.
func writeBody(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// writeError sends e.
func writeError(w http.ResponseWriter, e *Error) {
	writeJSON(w, e.Status, e)
}
