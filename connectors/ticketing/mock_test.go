package ticketing

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// testToken is the API token the mocks require.
const testToken = "test-token-123"

// mockTicket is one ticket a mock system holds.
type mockTicket struct {
	id       string
	key      string // idempotency key as the system stored it
	subject  string
	body     string
	fields   map[string]any // the request body, for the REST mock
	comments []string
}

// mockSystem is an external ticketing API on 127.0.0.1 that records every
// request and keeps tickets and comments in memory.
type mockSystem struct {
	srv *httptest.Server

	mu       sync.Mutex // guards the fields below
	tickets  []*mockTicket
	requests []string // "METHOD path"
	// delayFirstCreate makes the first create store the ticket, then wait
	// this long before it responds, longer than the client's timeout.
	delayFirstCreate time.Duration
	creates          int
	badAuth          int
}

func (m *mockSystem) record(r *http.Request) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests = append(m.requests, r.Method+" "+r.URL.Path)
	if r.Header.Get("Authorization") != "Bearer "+testToken {
		m.badAuth++
		return false
	}
	return true
}

// addTicket stores t and returns the delay to apply before responding.
func (m *mockSystem) addTicket(t *mockTicket, idPrefix string) time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.creates++
	t.id = idPrefix + strconv.Itoa(len(m.tickets)+1)
	m.tickets = append(m.tickets, t)
	if m.creates == 1 {
		return m.delayFirstCreate
	}
	return 0
}

func (m *mockSystem) find(id string) *mockTicket {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, t := range m.tickets {
		if t.id == id {
			return t
		}
	}
	return nil
}

func (m *mockSystem) addComment(id, body string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, t := range m.tickets {
		if t.id == id {
			t.comments = append(t.comments, body)
			return true
		}
	}
	return false
}

func (m *mockSystem) byKey(key string) []*mockTicket {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*mockTicket
	for _, t := range m.tickets {
		if t.key == key {
			out = append(out, t)
		}
	}
	return out
}

// snapshot returns copies of the tickets and the request log.
func (m *mockSystem) snapshot() ([]mockTicket, []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	tickets := make([]mockTicket, len(m.tickets))
	for i, t := range m.tickets {
		tickets[i] = *t
		tickets[i].comments = append([]string(nil), t.comments...)
	}
	return tickets, append([]string(nil), m.requests...)
}

func (m *mockSystem) count(prefix string) int {
	_, reqs := m.snapshot()
	n := 0
	for _, r := range reqs {
		if strings.HasPrefix(r, prefix) {
			n++
		}
	}
	return n
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func sleepOrDone(r *http.Request, d time.Duration) {
	if d == 0 {
		return
	}
	select {
	case <-time.After(d):
	case <-r.Context().Done():
		// The client gave up; the ticket stays created, as on a real
		// server that committed before the connection broke.
	}
}

func startMock(t *testing.T, routes func(m *mockSystem, mux *http.ServeMux)) *mockSystem {
	t.Helper()
	m := &mockSystem{}
	mux := http.NewServeMux()
	routes(m, mux)
	m.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !m.record(r) {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid token"})
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(m.srv.Close)
	return m
}

// zendeskRoutes mimics the Zendesk ticket and comment endpoints.
func zendeskRoutes(m *mockSystem, mux *http.ServeMux) {
	mux.HandleFunc("POST /api/v2/tickets.json", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Ticket struct {
				Subject string `json:"subject"`
				Comment struct {
					Body string `json:"body"`
				} `json:"comment"`
				Requester  map[string]string `json:"requester"`
				Priority   string            `json:"priority"`
				Tags       []string          `json:"tags"`
				ExternalID string            `json:"external_id"`
			} `json:"ticket"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Ticket.Requester["email"] == "" {
			writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"error": "RecordInvalid"})
			return
		}
		tk := &mockTicket{key: req.Ticket.ExternalID, subject: req.Ticket.Subject, body: req.Ticket.Comment.Body,
			fields: map[string]any{"priority": req.Ticket.Priority, "tags": req.Ticket.Tags, "requester": req.Ticket.Requester}}
		delay := m.addTicket(tk, "")
		sleepOrDone(r, delay)
		id, _ := strconv.Atoi(tk.id)
		writeJSON(w, http.StatusCreated, map[string]any{"ticket": map[string]any{"id": id, "external_id": tk.key}})
	})
	mux.HandleFunc("GET /api/v2/tickets.json", func(w http.ResponseWriter, r *http.Request) {
		list := []map[string]any{}
		for _, tk := range m.byKey(r.URL.Query().Get("external_id")) {
			id, _ := strconv.Atoi(tk.id)
			list = append(list, map[string]any{"id": id, "external_id": tk.key})
		}
		writeJSON(w, http.StatusOK, map[string]any{"tickets": list, "next_page": nil})
	})
	mux.HandleFunc("PUT /api/v2/tickets/{file}", func(w http.ResponseWriter, r *http.Request) {
		id := strings.TrimSuffix(r.PathValue("file"), ".json")
		var req struct {
			Ticket struct {
				Comment struct {
					Body string `json:"body"`
				} `json:"comment"`
			} `json:"ticket"`
		}
		_ = json.NewDecoder(r.Body).Decode(&req)
		if !m.addComment(id, req.Ticket.Comment.Body) {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "RecordNotFound"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"ticket": map[string]any{"id": id}})
	})
	mux.HandleFunc("GET /api/v2/tickets/{id}/comments.json", func(w http.ResponseWriter, r *http.Request) {
		tk := m.find(r.PathValue("id"))
		if tk == nil {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "RecordNotFound"})
			return
		}
		list := []map[string]any{{"body": tk.body}}
		for _, c := range tk.comments {
			list = append(list, map[string]any{"body": c, "plain_body": c})
		}
		writeJSON(w, http.StatusOK, map[string]any{"comments": list, "next_page": nil})
	})
}

// jiraKeyField is the custom field the Jira tests store the key in.
const jiraKeyField = "customfield_10050"

// jiraRoutes mimics the Jira Service Management request and comment
// endpoints. The list filters by searchTerm in the summary, as Jira does.
func jiraRoutes(m *mockSystem, mux *http.ServeMux) {
	mux.HandleFunc("POST /rest/servicedeskapi/request", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			ServiceDeskID      string         `json:"serviceDeskId"`
			RequestTypeID      string         `json:"requestTypeId"`
			RequestFieldValues map[string]any `json:"requestFieldValues"`
			RaiseOnBehalfOf    string         `json:"raiseOnBehalfOf"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.ServiceDeskID != "10" || req.RequestTypeID != "25" {
			writeJSON(w, http.StatusBadRequest, map[string]any{"errorMessage": "serviceDeskId or requestTypeId invalid"})
			return
		}
		summary, _ := req.RequestFieldValues["summary"].(string)
		desc, _ := req.RequestFieldValues["description"].(string)
		key, _ := req.RequestFieldValues[jiraKeyField].(string)
		tk := &mockTicket{key: key, subject: summary, body: desc, fields: map[string]any{"raiseOnBehalfOf": req.RaiseOnBehalfOf}}
		delay := m.addTicket(tk, "HELP-")
		sleepOrDone(r, delay)
		writeJSON(w, http.StatusCreated, map[string]any{"issueId": "1000" + strings.TrimPrefix(tk.id, "HELP-"), "issueKey": tk.id})
	})
	mux.HandleFunc("GET /rest/servicedeskapi/request", func(w http.ResponseWriter, r *http.Request) {
		term := r.URL.Query().Get("searchTerm")
		tickets, _ := m.snapshot()
		values := []map[string]any{}
		for _, tk := range tickets {
			if term != "" && !strings.Contains(tk.subject, term) {
				continue
			}
			values = append(values, map[string]any{"issueKey": tk.id, "requestFieldValues": []map[string]any{
				{"fieldId": "summary", "value": tk.subject},
				{"fieldId": "description", "value": tk.body},
				{"fieldId": jiraKeyField, "value": tk.key},
			}})
		}
		writeJSON(w, http.StatusOK, map[string]any{"values": values, "isLastPage": true, "start": 0, "size": len(values)})
	})
	mux.HandleFunc("POST /rest/servicedeskapi/request/{key}/comment", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Body   string `json:"body"`
			Public *bool  `json:"public"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Public == nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"errorMessage": "body and public are required"})
			return
		}
		if !m.addComment(r.PathValue("key"), req.Body) {
			writeJSON(w, http.StatusNotFound, map[string]any{"errorMessage": "request not found"})
			return
		}
		writeJSON(w, http.StatusCreated, map[string]any{"id": "1", "body": req.Body, "public": *req.Public})
	})
	mux.HandleFunc("GET /rest/servicedeskapi/request/{key}/comment", func(w http.ResponseWriter, r *http.Request) {
		tk := m.find(r.PathValue("key"))
		if tk == nil {
			writeJSON(w, http.StatusNotFound, map[string]any{"errorMessage": "request not found"})
			return
		}
		values := []map[string]any{}
		for _, c := range tk.comments {
			values = append(values, map[string]any{"body": c})
		}
		writeJSON(w, http.StatusOK, map[string]any{"values": values, "isLastPage": true})
	})
}

// restRoutes mimics a generic REST ticket API under /api/tickets.
func restRoutes(m *mockSystem, mux *http.ServeMux) {
	mux.HandleFunc("POST /api/tickets", func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid JSON"})
			return
		}
		key := r.Header.Get("Idempotency-Key")
		subject, _ := body["subject"].(string)
		desc, _ := body["description"].(string)
		tk := &mockTicket{key: key, subject: subject, body: desc, fields: body}
		delay := m.addTicket(tk, "")
		sleepOrDone(r, delay)
		id, _ := strconv.Atoi(tk.id)
		writeJSON(w, http.StatusCreated, map[string]any{"id": id})
	})
	mux.HandleFunc("GET /api/tickets", func(w http.ResponseWriter, r *http.Request) {
		list := []map[string]any{}
		for _, tk := range m.byKey(r.URL.Query().Get("idempotency_key")) {
			id, _ := strconv.Atoi(tk.id)
			list = append(list, map[string]any{"id": id, "idempotency_key": tk.key})
		}
		writeJSON(w, http.StatusOK, list)
	})
	mux.HandleFunc("POST /api/tickets/{id}/comments", func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		text, _ := body["body"].(string)
		if !m.addComment(r.PathValue("id"), text) {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such ticket"})
			return
		}
		writeJSON(w, http.StatusCreated, map[string]any{"id": 1})
	})
	mux.HandleFunc("GET /api/tickets/{id}/comments", func(w http.ResponseWriter, r *http.Request) {
		tk := m.find(r.PathValue("id"))
		if tk == nil {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such ticket"})
			return
		}
		list := []map[string]any{}
		for i, c := range tk.comments {
			list = append(list, map[string]any{"id": i + 1, "body": c})
		}
		writeJSON(w, http.StatusOK, list)
	})
}

// targetCase is one target under test with its mock.
type targetCase struct {
	name   string
	routes func(*mockSystem, *http.ServeMux)
	// target builds the Target for the mock at base with client.
	target func(base string, client *clientHolder) Target
	// createPrefix and commentPrefix match the create and comment
	// requests in the mock's log.
	createPrefix, commentPrefix string
}

// clientHolder wraps the client the targets share in a test.
type clientHolder struct{ timeout time.Duration }

func targetCases() []targetCase {
	return []targetCase{
		{
			name:   "zendesk",
			routes: zendeskRoutes,
			target: func(base string, h *clientHolder) Target {
				return &Zendesk{BaseURL: base, Client: testClient(h.timeout)}
			},
			createPrefix:  "POST /api/v2/tickets.json",
			commentPrefix: "PUT /api/v2/tickets/",
		},
		{
			name:   "jira",
			routes: jiraRoutes,
			target: func(base string, h *clientHolder) Target {
				return &Jira{BaseURL: base, Client: testClient(h.timeout), ServiceDeskID: "10", RequestTypeID: "25",
					KeyField: jiraKeyField, RaiseOnBehalfOf: true}
			},
			createPrefix:  "POST /rest/servicedeskapi/request",
			commentPrefix: "POST /rest/servicedeskapi/request/",
		},
		{
			name:   "rest",
			routes: restRoutes,
			target: func(base string, h *clientHolder) Target {
				return &REST{URL: base + "/api/tickets", Client: testClient(h.timeout), Mapping: DefaultMapping()}
			},
			createPrefix:  "POST /api/tickets",
			commentPrefix: "POST /api/tickets/",
		},
	}
}

// exactCount counts requests equal to prefix or, when prefix ends with
// '/', starting with it.
func exactCount(m *mockSystem, prefix string) int {
	_, reqs := m.snapshot()
	n := 0
	for _, r := range reqs {
		if strings.HasSuffix(prefix, "/") && strings.HasPrefix(r, prefix) || r == prefix {
			n++
		}
	}
	return n
}

func (tc targetCase) String() string { return fmt.Sprintf("target %s", tc.name) }
