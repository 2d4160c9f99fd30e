package schemas

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
)

// fakeRegistry implements the two endpoints of the Confluent schema
// registry API that Serde uses. Like the real registry, it gives one ID to
// each distinct schema text, whatever the subject.
type fakeRegistry struct {
	url string

	mu        sync.Mutex
	ids       map[string]int      // schema text → ID
	schemas   map[int]string      // ID → schema text
	subjects  map[string][]string // subject → schema texts, in order
	lookups   map[int]int         // ID → GET /schemas/ids/{id} requests
	fail      bool                // respond to every request with status 500
	basicAuth string              // user:password seen on the last request
}

func newFakeRegistry(t *testing.T) *fakeRegistry {
	t.Helper()
	f := &fakeRegistry{
		ids:      map[string]int{},
		schemas:  map[int]string{},
		subjects: map[string][]string{},
		lookups:  map[int]int{},
	}

	mux := http.NewServeMux()
	mux.HandleFunc("POST /subjects/{subject}/versions", f.register)
	mux.HandleFunc("GET /schemas/ids/{id}", f.schemaByID)
	srv := httptest.NewServer(f.checkFailure(mux))
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

func (f *fakeRegistry) checkFailure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		fail := f.fail
		if user, pass, ok := r.BasicAuth(); ok {
			f.basicAuth = user + ":" + pass
		}
		f.mu.Unlock()
		if fail {
			writeJSON(w, http.StatusInternalServerError, map[string]any{"error_code": 50001, "message": "store unavailable"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (f *fakeRegistry) register(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Schema     string `json:"schema"`
		SchemaType string `json:"schemaType"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Schema == "" {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"error_code": 42201, "message": "invalid schema"})
		return
	}
	if body.SchemaType != "" && body.SchemaType != "AVRO" {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"error_code": 42201, "message": "expected AVRO, got " + body.SchemaType})
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"id": f.add(r.PathValue("subject"), body.Schema)})
}

// add registers schema under subject and returns its ID.
func (f *fakeRegistry) add(subject, schema string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	id, ok := f.ids[schema]
	if !ok {
		id = len(f.ids) + 101
		f.ids[schema] = id
		f.schemas[id] = schema
	}
	f.subjects[subject] = append(f.subjects[subject], schema)
	return id
}

func (f *fakeRegistry) schemaByID(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.Atoi(r.PathValue("id"))
	f.mu.Lock()
	f.lookups[id]++
	schema, ok := f.schemas[id]
	f.mu.Unlock()
	if err != nil || !ok {
		writeJSON(w, http.StatusNotFound, map[string]any{"error_code": 40403, "message": "Schema not found"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"schema": schema})
}

func (f *fakeRegistry) setFail(fail bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = fail
}

func (f *fakeRegistry) lookupCount(id int) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lookups[id]
}

func (f *fakeRegistry) subjectSchemas(subject string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.subjects[subject]...)
}

func (f *fakeRegistry) idOf(schema string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ids[schema]
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
