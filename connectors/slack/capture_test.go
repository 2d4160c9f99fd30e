package slack

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"
)

// reply is the response of the capture server to one request.
type reply struct {
	status     int           // 0 means 200
	body       string        // "" means "ok" for a 2xx
	retryAfter int           // seconds; > 0 adds a Retry-After header
	hang       time.Duration // wait before responding, to cause a client timeout
	drop       bool          // close the connection without a response
}

// capturedPost is one request as the capture server saw it, with the
// server's own timestamps.
type capturedPost struct {
	eventID    string // block_id of the first block
	body       []byte
	received   time.Time // when the handler started
	responded  time.Time // when the response was written; zero when dropped
	status     int
	retryAfter int
}

// captureServer is a Slack webhook stand-in on 127.0.0.1 that records
// every post. script chooses the reply from the event ID and how many
// times that event was posted before (0 for the first post).
type captureServer struct {
	t   *testing.T
	srv *httptest.Server

	mu     sync.Mutex // guards posts and script
	posts  []capturedPost
	script func(eventID string, seen int) reply
	// onPost, when set, runs for each request before it is responded, with
	// the number of requests so far; it may block.
	onPost func(n int, r *http.Request)
}

func newCaptureServer(t *testing.T) *captureServer {
	t.Helper()
	c := &captureServer{t: t}
	c.srv = httptest.NewServer(http.HandlerFunc(c.serve))
	t.Cleanup(c.srv.Close)
	return c
}

// url returns a webhook URL on the server; path mimics Slack's layout.
func (c *captureServer) url(path string) string { return c.srv.URL + "/services/" + path }

func (c *captureServer) setOnPost(fn func(n int, r *http.Request)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.onPost = fn
}

func (c *captureServer) setScript(script func(eventID string, seen int) reply) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.script = script
}

func (c *captureServer) serve(w http.ResponseWriter, r *http.Request) {
	received := time.Now()
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "read failed", http.StatusBadRequest)
		return
	}
	eventID := blockID(body)

	c.mu.Lock()
	seen := 0
	for _, p := range c.posts {
		if p.eventID == eventID {
			seen++
		}
	}
	rep := reply{}
	if c.script != nil {
		rep = c.script(eventID, seen)
	}
	index := len(c.posts)
	c.posts = append(c.posts, capturedPost{eventID: eventID, body: body, received: received})
	onPost := c.onPost
	c.mu.Unlock()

	if onPost != nil {
		onPost(index+1, r)
	}
	if rep.hang > 0 {
		select {
		case <-time.After(rep.hang):
		case <-r.Context().Done():
		}
	}
	if rep.drop {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
			}
		}
		return
	}

	status := rep.status
	if status == 0 {
		status = http.StatusOK
	}
	text := rep.body
	if text == "" && status < 300 {
		text = "ok"
	}
	if rep.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(rep.retryAfter))
	}
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, text)

	c.mu.Lock()
	c.posts[index].responded = time.Now()
	c.posts[index].status = status
	c.posts[index].retryAfter = rep.retryAfter
	c.mu.Unlock()
}

// snapshot returns a copy of the posts so far.
func (c *captureServer) snapshot() []capturedPost {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]capturedPost(nil), c.posts...)
}

// postsByEvent counts the posts of each event ID.
func (c *captureServer) postsByEvent() map[string]int {
	out := make(map[string]int)
	for _, p := range c.snapshot() {
		out[p.eventID]++
	}
	return out
}

// blockID returns the block_id of the first block of a webhook body, or ""
// when the body is not a message.
func blockID(body []byte) string {
	var m Message
	if json.Unmarshal(body, &m) != nil || len(m.Blocks) == 0 {
		return ""
	}
	return m.Blocks[0].BlockID
}
