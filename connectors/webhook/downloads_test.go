package webhook

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"mailtriage/topics"
)

// jsonWithAttachment is a JSON payload whose one attachment is served at
// url.
func jsonWithAttachment(url string) string {
	return fmt.Sprintf(`{"messageId": "<dl-1@example.org>", "from": "Ana <ana@example.org>",
		"to": ["support@example.com"], "subject": "Invoice", "text": "See attached.",
		"attachments": [{"filename": "invoice.pdf", "contentType": "application/pdf", "size": 13, "downloadUrl": %q}]}`, url)
}

func serveAttachment(t *testing.T, body string) *httptest.Server {
	t.Helper()
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(server.Close)
	return server
}

func TestJSONDownloadsStoreAttachment(t *testing.T) {
	const content = "%PDF-1.4 demo"
	source := serveAttachment(t, content)
	cfg := testConfig()
	cfg.Downloads = Downloads{Enabled: true, AllowPrivateAddresses: true}
	env := newTestEnv(t, cfg, nil)

	a := env.postJSON(t, jsonWithAttachment(source.URL+"/files/invoice.pdf?token=x"))
	if a.status != http.StatusAccepted {
		t.Fatalf("status = %d (%s), want 202", a.status, a.raw)
	}

	recs := env.records(t, topics.Inbound)
	if len(recs) != 1 {
		t.Fatalf("got %d records, want 1", len(recs))
	}
	email := decodeInbound(t, recs[0].Value)
	att := email.Attachments[0]
	if att.StorageKey == "" {
		t.Fatalf("attachment has no storage key; warnings %q", email.Warnings)
	}
	sum := sha256.Sum256([]byte(content))
	if att.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("sha256 = %s, want the digest of the served bytes", att.SHA256)
	}
	stored, err := env.store.Get(context.Background(), att.StorageKey)
	if err != nil {
		t.Fatal(err)
	}
	if string(stored) != content {
		t.Errorf("stored bytes = %q, want %q", stored, content)
	}
	for _, w := range email.Warnings {
		if strings.Contains(w, "not fetched") {
			t.Errorf("unexpected warning %q", w)
		}
	}
}

func TestJSONDownloadsRefusePrivateAddress(t *testing.T) {
	source := serveAttachment(t, "secret internal data")
	cfg := testConfig()
	cfg.Downloads = Downloads{Enabled: true}
	env := newTestEnv(t, cfg, nil)

	a := env.postJSON(t, jsonWithAttachment(source.URL+"/internal"))
	if a.status != http.StatusAccepted {
		t.Fatalf("status = %d (%s), want 202: a failed download must not drop the message", a.status, a.raw)
	}

	email := decodeInbound(t, env.records(t, topics.Inbound)[0].Value)
	if key := email.Attachments[0].StorageKey; key != "" {
		t.Errorf("storage key = %q, want none: the loopback download must be refused", key)
	}
	if !strings.Contains(strings.Join(email.Warnings, "\n"), "non-public address") {
		t.Errorf("warnings = %q, want one naming the refused non-public address", email.Warnings)
	}
}
