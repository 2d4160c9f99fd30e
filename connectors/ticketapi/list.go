package ticketapi

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"time"

	"mailtriage/processors"
)

// Bounds of the limit parameter of GET /v1/tickets.
const (
	defaultListLimit = 50
	maxListLimit     = 200
)

// Statuses lists the values of a ticket's status.
var Statuses = []string{"open", "pending", "solved", "closed"}

// listParams lists the query parameters of GET /v1/tickets.
var listParams = []string{"queue", "status", "priority", "requester", "since", "until", "limit", "cursor"}

// listQuery is a parsed GET /v1/tickets request.
type listQuery struct {
	queue, status, priority, requester string
	since, until                       time.Time
	limit                              int
	after                              *cursor
}

// cursor is the position after the last ticket of a page: tickets are
// listed newest first, by created_at and then id.
type cursor struct {
	createdAt time.Time
	id        int64
}

// encode returns the cursor as the opaque text of nextCursor.
func (c cursor) encode() string {
	text := strconv.FormatInt(c.createdAt.UnixMicro(), 10) + "." + strconv.FormatInt(c.id, 10)
	return base64.RawURLEncoding.EncodeToString([]byte(text))
}

// decodeCursor reads a cursor that encode wrote.
func decodeCursor(s string) (*cursor, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, false
	}
	micros, id, ok := strings.Cut(string(raw), ".")
	if !ok {
		return nil, false
	}
	m, err1 := strconv.ParseInt(micros, 10, 64)
	i, err2 := strconv.ParseInt(id, 10, 64)
	if err1 != nil || err2 != nil || i <= 0 {
		return nil, false
	}
	return &cursor{createdAt: time.UnixMicro(m).UTC(), id: i}, true
}

// parseListQuery checks every parameter and names the first invalid one.
func parseListQuery(r *http.Request) (listQuery, *Error) {
	q := listQuery{limit: defaultListLimit}
	values := r.URL.Query()
	for name, v := range values {
		if !slices.Contains(listParams, name) {
			return q, invalid(name, listParams, "unknown query parameter %q", name)
		}
		if len(v) > 1 {
			return q, invalid(name, nil, "query parameter %s is given %d times: give it once", name, len(v))
		}
	}

	q.queue = values.Get("queue")
	if q.queue != "" && !validQueue(q.queue) {
		return q, invalid("queue", nil, "invalid queue %q: %s", q.queue, queueRule)
	}
	q.status = values.Get("status")
	if q.status != "" && !slices.Contains(Statuses, q.status) {
		return q, invalid("status", Statuses, "invalid status %q: status must be one of %s", q.status, strings.Join(Statuses, ", "))
	}
	q.priority = values.Get("priority")
	if q.priority != "" && !slices.Contains(processors.Priorities, q.priority) {
		return q, invalid("priority", processors.Priorities, "invalid priority %q: priority must be one of %s", q.priority, strings.Join(processors.Priorities, ", "))
	}
	if requester := values.Get("requester"); requester != "" {
		// The address is not echoed, since error bodies may end up in logs.
		addr, err := mail.ParseAddress(requester)
		if err != nil || addr.Name != "" || addr.Address != requester {
			return q, invalid("requester", nil, "invalid requester: give one bare email address such as user@example.com")
		}
		q.requester = strings.ToLower(requester)
	}

	var apiErr *Error
	if q.since, apiErr = parseTime(values, "since"); apiErr != nil {
		return q, apiErr
	}
	if q.until, apiErr = parseTime(values, "until"); apiErr != nil {
		return q, apiErr
	}
	if !q.since.IsZero() && !q.until.IsZero() && !q.until.After(q.since) {
		return q, invalid("until", nil, "until %s is not after since %s: give a later until", q.until.Format(time.RFC3339Nano), q.since.Format(time.RFC3339Nano))
	}

	if text := values.Get("limit"); text != "" {
		n, err := strconv.Atoi(text)
		if err != nil || n < 1 || n > maxListLimit {
			return q, invalid("limit", nil, "invalid limit %q: use a whole number from 1 to %d", text, maxListLimit)
		}
		q.limit = n
	}
	if text := values.Get("cursor"); text != "" {
		c, ok := decodeCursor(text)
		if !ok {
			return q, invalid("cursor", nil, "invalid cursor %q: pass the nextCursor of the previous page unchanged", text)
		}
		q.after = c
	}
	return q, nil
}

// parseTime reads an RFC 3339 time parameter.
func parseTime(values map[string][]string, name string) (time.Time, *Error) {
	v := values[name]
	if len(v) == 0 || v[0] == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v[0])
	if err != nil {
		return time.Time{}, invalid(name, nil, "invalid %s %q: use an RFC 3339 time such as 2025-03-01T00:00:00Z", name, v[0])
	}
	return t.UTC(), nil
}

// listTickets serves GET /v1/tickets: the token's tenant's tickets that
// match the filters, newest first. since is inclusive and until exclusive,
// both on the creation time.
func (s *Server) listTickets(w http.ResponseWriter, r *http.Request, tok *Token) {
	q, apiErr := parseListQuery(r)
	if apiErr != nil {
		writeError(w, apiErr)
		return
	}

	where := []string{"t.tenant = $1"}
	args := []any{tok.Tenant}
	add := func(cond string, arg any) {
		args = append(args, arg)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if q.queue != "" {
		add("t.queue = $%d", q.queue)
	}
	if q.status != "" {
		add("t.status = $%d", q.status)
	}
	if q.priority != "" {
		add("t.priority = $%d", q.priority)
	}
	if q.requester != "" {
		add("lower(t.requester_address) = $%d", q.requester)
	}
	if !q.since.IsZero() {
		add("t.created_at >= $%d", q.since)
	}
	if !q.until.IsZero() {
		add("t.created_at < $%d", q.until)
	}
	if q.after != nil {
		args = append(args, q.after.createdAt, q.after.id)
		where = append(where, fmt.Sprintf("(t.created_at, t.id) < ($%d, $%d)", len(args)-1, len(args)))
	}
	args = append(args, q.limit+1)
	query := "SELECT " + ticketColumns + ", t.id FROM tickets t WHERE " + strings.Join(where, " AND ") +
		fmt.Sprintf(" ORDER BY t.created_at DESC, t.id DESC LIMIT $%d", len(args))

	rows, err := s.cfg.Pool.Query(r.Context(), query, args...)
	if err != nil {
		s.fail(w, r, tok, fmt.Errorf("listing tickets: %w", err))
		return
	}
	defer rows.Close()
	out := TicketList{Tickets: []Ticket{}}
	var last cursor
	for rows.Next() {
		var id int64
		t, err := scanTicket(rows, &id)
		if err != nil {
			s.fail(w, r, tok, fmt.Errorf("reading the ticket list: %w", err))
			return
		}
		if len(out.Tickets) == q.limit {
			out.NextCursor = last.encode()
			break
		}
		out.Tickets = append(out.Tickets, t)
		last = cursor{createdAt: t.CreatedAt, id: id}
	}
	if err := rows.Err(); err != nil {
		s.fail(w, r, tok, fmt.Errorf("reading the ticket list: %w", err))
		return
	}
	writeJSON(w, http.StatusOK, out)
}
