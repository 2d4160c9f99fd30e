package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailtriage/connectors/blobstore"
	"mailtriage/schemas"
)

// downloadToken is part of every download URL in these tests, standing for
// an access token that must never reach a warning.
const downloadToken = "token=s3cr3t-download-token"

// fileServer serves fixed bodies by path on 127.0.0.1 and stops when the
// test ends. Paths it does not know get 404.
func fileServer(t *testing.T, bodies map[string]string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := bodies[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("X-Served-By", "fileServer")
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// jsonEmail returns a message as the JSON webhook builds it, with one
// attachment per name and no storage keys.
func jsonEmail(names ...string) *schemas.InboundEmail {
	e := &schemas.InboundEmail{
		Tenant:     "acme",
		MessageID:  "json-1@example.org",
		Source:     schemas.SourceWebhookJSON,
		ReceivedAt: testOpts.ReceivedAt,
	}
	for _, name := range names {
		e.Attachments = append(e.Attachments, schemas.Attachment{Filename: name, ContentType: "application/pdf"})
	}
	return e
}

func newDirStore(t *testing.T) *blobstore.Dir {
	t.Helper()
	d, err := blobstore.NewDir(t.TempDir())
	if err != nil {
		t.Fatalf("NewDir: %v", err)
	}
	return d
}

// testLimits are small limits with a short timeout and a spool folder that
// the test checks for leftovers.
func testLimits(t *testing.T) FetchLimits {
	return FetchLimits{MaxAttachmentBytes: 1 << 20, MaxMessageBytes: 2 << 20, Timeout: 2 * time.Second, TempDir: t.TempDir()}
}

// checkNotStored fails the test when attachment i has a storage key or no
// warning names it with want.
func checkNotStored(t *testing.T, e *schemas.InboundEmail, i int, want string) {
	t.Helper()
	if key := e.Attachments[i].StorageKey; key != "" {
		t.Errorf("attachment %d has StorageKey %q after a failed download, want empty", i, key)
	}
	name := fmt.Sprintf("attachment %d (%q)", i, e.Attachments[i].Filename)
	found := false
	for _, w := range e.Warnings {
		if strings.Contains(w, name) && strings.Contains(w, want) {
			found = true
		}
		if strings.Contains(w, downloadToken) || strings.Contains(w, "127.0.0.1") {
			t.Errorf("warning %q contains the download URL", w)
		}
	}
	if !found {
		t.Errorf("no warning names %s with %q: %q", name, want, e.Warnings)
	}
}

func TestFetchAttachmentsStoresBodies(t *testing.T) {
	ctx := context.Background()
	bodies := map[string]string{"/a.pdf": "%PDF-1.7 first", "/b.pdf": "%PDF-1.7 second, longer"}
	srv := fileServer(t, bodies)
	store := newDirStore(t)
	email := jsonEmail("a.pdf", "b.pdf")
	// A declared digest in upper case matches too.
	email.Attachments[1].SHA256 = strings.ToUpper(blobstore.Sum([]byte(bodies["/b.pdf"])))
	limits := testLimits(t)

	urls := map[int]string{0: srv.URL + "/a.pdf?" + downloadToken, 1: srv.URL + "/b.pdf?" + downloadToken}
	if err := FetchAttachments(ctx, email, urls, store, srv.Client(), limits); err != nil {
		t.Fatalf("FetchAttachments: %v", err)
	}

	if len(email.Warnings) != 0 {
		t.Errorf("warnings = %q, want none", email.Warnings)
	}
	folder := messageFolder("json-1@example.org")
	for i, path := range []string{"/a.pdf", "/b.pdf"} {
		body := []byte(bodies[path])
		a := email.Attachments[i]
		sum := blobstore.Sum(body)
		if want := fmt.Sprintf("%s/attachments/%d-%s", folder, i, sum[:16]); a.StorageKey != want {
			t.Errorf("attachment %d StorageKey = %q, want %q", i, a.StorageKey, want)
		}
		if a.SHA256 != sum || a.Size != int64(len(body)) {
			t.Errorf("attachment %d SHA256, Size = %s, %d; want %s, %d", i, a.SHA256, a.Size, sum, len(body))
		}
		stored, err := store.Get(ctx, a.StorageKey)
		if err != nil || !bytes.Equal(stored, body) {
			t.Errorf("attachment %d stored as %q (error %v), want exactly the response body %q", i, stored, err, body)
		}
	}
	if entries, _ := os.ReadDir(limits.TempDir); len(entries) != 0 {
		t.Errorf("spool folder contains %d files after the downloads, want 0", len(entries))
	}
}

func TestFetchAttachmentsNotFound(t *testing.T) {
	srv := fileServer(t, map[string]string{"/ok.pdf": "ok"})
	email := jsonEmail("missing.pdf", "ok.pdf")
	urls := map[int]string{0: srv.URL + "/missing.pdf?" + downloadToken, 1: srv.URL + "/ok.pdf"}

	if err := FetchAttachments(context.Background(), email, urls, newDirStore(t), srv.Client(), testLimits(t)); err != nil {
		t.Fatalf("FetchAttachments: %v", err)
	}
	checkNotStored(t, email, 0, "404 Not Found")
	if email.Attachments[1].StorageKey == "" {
		t.Errorf("the attachment after a failed one was not stored")
	}
}

func TestFetchAttachmentsTooLarge(t *testing.T) {
	big := strings.Repeat("x", 2000)
	streamed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Flushing before the end makes the response chunked, without a
		// Content-Length to reject up front.
		for range 4 {
			fmt.Fprint(w, big[:500])
			w.(http.Flusher).Flush()
		}
	}))
	t.Cleanup(streamed.Close)
	srv := fileServer(t, map[string]string{"/big": big, "/600": big[:600], "/700": big[:700]})

	tests := []struct {
		name  string
		url   string
		first string // URL of a download before the one under test; empty for none
		want  string
	}{
		{"declared length", srv.URL + "/big", "", "more than the limit of 1000 bytes per attachment (Content-Length 2000)"},
		{"chunked body", streamed.URL, "", "more than the limit of 1000 bytes per attachment"},
		{"message limit", srv.URL + "/700", srv.URL + "/600", "more than the 600 bytes left of the limit of 1200 bytes per message"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			store := newDirStore(t)
			limits := testLimits(t)
			limits.MaxAttachmentBytes, limits.MaxMessageBytes = 1000, 1200

			email := jsonEmail("first.bin", "big.bin")
			urls := map[int]string{1: tt.url}
			if tt.first != "" {
				urls[0] = tt.first
			}
			if err := FetchAttachments(ctx, email, urls, store, srv.Client(), limits); err != nil {
				t.Fatalf("FetchAttachments: %v", err)
			}
			checkNotStored(t, email, 1, tt.want)
			if tt.first != "" && email.Attachments[0].StorageKey == "" {
				t.Errorf("the first attachment, within the limits, was not stored")
			}
		})
	}
}

func TestFetchAttachmentsTimeout(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		fmt.Fprint(w, "first half of the body ")
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	t.Cleanup(srv.Close)
	limits := testLimits(t)
	limits.Timeout = 200 * time.Millisecond
	email := jsonEmail("slow.pdf")

	start := time.Now()
	err := FetchAttachments(context.Background(), email, map[int]string{0: srv.URL + "/slow?" + downloadToken}, newDirStore(t), srv.Client(), limits)
	if err != nil {
		t.Fatalf("FetchAttachments: %v", err)
	}
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Errorf("FetchAttachments took %s, want about the 200ms timeout", elapsed)
	}
	checkNotStored(t, email, 0, "timed out after 200ms")
}

func TestFetchAttachmentsRedirects(t *testing.T) {
	plain := fileServer(t, map[string]string{"/doc.pdf": "plain body"})
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/to-file":
			http.Redirect(w, r, "file:///etc/passwd", http.StatusFound)
		case "/to-plain":
			http.Redirect(w, r, plain.URL+"/doc.pdf", http.StatusFound)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		}
	}))
	t.Cleanup(redirector.Close)
	secure := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, plain.URL+"/doc.pdf", http.StatusFound)
	}))
	t.Cleanup(secure.Close)

	tests := []struct {
		name   string
		url    string
		client *http.Client
		want   string // empty when the download succeeds
	}{
		{"to file scheme", redirector.URL + "/to-file?" + downloadToken, redirector.Client(), `redirect to a "file" URL rejected`},
		{"https to http", secure.URL + "/x?" + downloadToken, secure.Client(), "redirect from https to http rejected"},
		{"too many", redirector.URL + "/loop", redirector.Client(), "more than 5 redirects"},
		{"http to http", redirector.URL + "/to-plain", redirector.Client(), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			email := jsonEmail("doc.pdf")
			if err := FetchAttachments(context.Background(), email, map[int]string{0: tt.url}, newDirStore(t), tt.client, testLimits(t)); err != nil {
				t.Fatalf("FetchAttachments: %v", err)
			}
			if tt.want == "" {
				if email.Attachments[0].StorageKey == "" || len(email.Warnings) != 0 {
					t.Errorf("redirected download not stored: warnings %q", email.Warnings)
				}
				return
			}
			checkNotStored(t, email, 0, tt.want)
		})
	}
}

func TestFetchAttachmentsSHA256Mismatch(t *testing.T) {
	srv := fileServer(t, map[string]string{"/a.pdf": "tampered bytes"})
	store := newDirStore(t)
	email := jsonEmail("a.pdf")
	declared := blobstore.Sum([]byte("original bytes"))
	email.Attachments[0].SHA256 = declared

	if err := FetchAttachments(context.Background(), email, map[int]string{0: srv.URL + "/a.pdf"}, store, srv.Client(), testLimits(t)); err != nil {
		t.Fatalf("FetchAttachments: %v", err)
	}
	checkNotStored(t, email, 0, "SHA-256 mismatch: the payload declares "+declared+" but the downloaded 14 bytes have "+blobstore.Sum([]byte("tampered bytes")))
	if email.Attachments[0].SHA256 != declared {
		t.Errorf("SHA256 = %s after a mismatch, want the declared %s kept", email.Attachments[0].SHA256, declared)
	}
	if _, err := os.Stat(filepath.Join(store.Root(), "acme")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("bytes with the wrong digest were written to the store (stat error %v)", err)
	}
}

func TestFetchAttachmentsRejectsSchemes(t *testing.T) {
	email := jsonEmail("a", "b")
	urls := map[int]string{0: "file:///etc/passwd", 1: "ftp://127.0.0.1/x"}
	if err := FetchAttachments(context.Background(), email, urls, newDirStore(t), nil, testLimits(t)); err != nil {
		t.Fatalf("FetchAttachments: %v", err)
	}
	checkNotStored(t, email, 0, `scheme "file"`)
	checkNotStored(t, email, 1, `scheme "ftp"`)
}

func TestFetchAttachmentsErrors(t *testing.T) {
	srv := fileServer(t, map[string]string{"/a.pdf": "body"})
	storeErr := errors.New("bucket unavailable")
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	noID := jsonEmail("a.pdf")
	noID.MessageID = ""

	tests := []struct {
		name    string
		ctx     context.Context
		email   *schemas.InboundEmail
		urls    map[int]string
		store   blobstore.Store
		wantErr string
		wantIs  error
	}{
		{"index out of range", context.Background(), jsonEmail("a.pdf"), map[int]string{3: srv.URL + "/a.pdf"}, newDirStore(t), "index 3 but the message has 1 attachments", nil},
		{"store failure", context.Background(), jsonEmail("a.pdf"), map[int]string{0: srv.URL + "/a.pdf"}, failingStore{storeErr}, `attachment 0 ("a.pdf")`, storeErr},
		{"canceled context", canceled, jsonEmail("a.pdf"), map[int]string{0: srv.URL + "/a.pdf"}, newDirStore(t), "", context.Canceled},
		{"no message ID", context.Background(), noID, map[int]string{0: srv.URL + "/a.pdf"}, newDirStore(t), "message ID is empty", nil},
		{"nil store", context.Background(), jsonEmail("a.pdf"), map[int]string{0: srv.URL + "/a.pdf"}, nil, "object store is nil", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := FetchAttachments(tt.ctx, tt.email, tt.urls, tt.store, srv.Client(), testLimits(t))
			if err == nil {
				t.Fatalf("FetchAttachments succeeded, want an error")
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not contain %q", err, tt.wantErr)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %v does not wrap %v", err, tt.wantIs)
			}
		})
	}
}

func TestPresignAttachments(t *testing.T) {
	ctx := context.Background()
	email := jsonEmail("a.pdf", "b.pdf")
	email.Attachments[0].StorageKey = messageFolder("json-1@example.org") + "/attachments/0-0123456789abcdef"

	// Signing sends no request, so the endpoint needs no server.
	s3, err := blobstore.NewS3(blobstore.S3Config{Endpoint: "127.0.0.1:9", Bucket: "mail", AccessKey: "AKIDTEST", SecretKey: "secret-not-real", DisableTLS: true})
	if err != nil {
		t.Fatalf("NewS3: %v", err)
	}
	urls, err := PresignAttachments(ctx, email, s3, 10*time.Minute)
	if err != nil {
		t.Fatalf("PresignAttachments: %v", err)
	}
	if len(urls) != 1 {
		t.Fatalf("got %d URLs, want 1 for the one stored attachment: %v", len(urls), urls)
	}
	u := urls[email.Attachments[0].StorageKey]
	for _, part := range []string{"http://127.0.0.1:9/mail/" + email.Attachments[0].StorageKey + "?", "X-Amz-Expires=600", "X-Amz-Signature="} {
		if !strings.Contains(u, part) {
			t.Errorf("URL %q does not contain %q", u, part)
		}
	}

	_, err = PresignAttachments(ctx, email, newDirStore(t), 10*time.Minute)
	if !errors.Is(err, blobstore.ErrPresignUnsupported) {
		t.Errorf("PresignAttachments with a Dir store: error %v, want ErrPresignUnsupported", err)
	}
}
