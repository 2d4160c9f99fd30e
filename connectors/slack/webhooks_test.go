package slack

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "webhooks.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadWebhooks(t *testing.T) {
	path := writeFile(t, `
default: https://hooks.slack.com/services/TD/BD/`+secretToken+`
tenants:
  acme: https://hooks.slack.com/services/TA/BA/`+secretToken+`
  local: http://127.0.0.1:8080/hook
`)
	w, err := LoadWebhooks(path)
	if err != nil {
		t.Fatalf("LoadWebhooks: %v", err)
	}
	for _, tc := range []struct {
		tenant string
		want   string
		ok     bool
	}{
		{"acme", "https://hooks.slack.com/services/TA/BA/" + secretToken, true},
		{"local", "http://127.0.0.1:8080/hook", true},
		{"other", "https://hooks.slack.com/services/TD/BD/" + secretToken, true},
	} {
		got, ok := w.Lookup(tc.tenant)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Lookup(%s) = %q, %v; expected %q, %v", tc.tenant, got, ok, tc.want, tc.ok)
		}
	}

	w.Default = ""
	if got, ok := w.Lookup("other"); ok || got != "" {
		t.Errorf("Lookup without default = %q, %v; expected not found", got, ok)
	}
}

func TestLoadWebhooksRejectsBadFiles(t *testing.T) {
	for _, tc := range []struct {
		name    string
		content string
		want    string
	}{
		{"unknown key", "tenant:\n  acme: https://hooks.example/" + secretToken + "\n", "field tenant not found"},
		{"plain http", "tenants:\n  acme: http://hooks.example/" + secretToken + "\n", "use https"},
		{"other scheme", "tenants:\n  acme: ftp://hooks.example/" + secretToken + "\n", `scheme "ftp"`},
		{"relative URL", "tenants:\n  acme: /services/" + secretToken + "\n", "no host"},
		{"empty URL", "tenants:\n  acme: \"\"\n", "URL is empty"},
		{"bad default", "default: hooks.example/" + secretToken + "\n", "default webhook"},
		{"invalid URL", "tenants:\n  acme: \"https://hooks.example/%zz" + secretToken + "\"\n", "invalid URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadWebhooks(writeFile(t, tc.content))
			if err == nil {
				t.Fatalf("LoadWebhooks accepted %q", tc.content)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), secretToken) {
				t.Errorf("error %q shows the webhook URL", err)
			}
		})
	}
}

func TestWebhooksSet(t *testing.T) {
	var w Webhooks
	if err := w.Set("acme=https://hooks.slack.com/services/T/B/" + secretToken); err != nil {
		t.Fatalf("Set: %v", err)
	}
	if got, _ := w.Lookup("acme"); got != "https://hooks.slack.com/services/T/B/"+secretToken {
		t.Errorf("Lookup(acme) = %q after Set", got)
	}

	for _, tc := range []struct{ spec, want string }{
		{"acme=https://hooks.slack.com/services/T/B/other", "more than one webhook"},
		{"https://hooks.slack.com/services/T/B/" + secretToken, "expected tenant=URL"},
		{"=https://hooks.slack.com/x", "expected tenant=URL"},
		{"globex=http://hooks.example/" + secretToken, "use https"},
	} {
		err := w.Set(tc.spec)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Set(%q) error = %v, expected one containing %q", tc.spec, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), secretToken) {
			t.Errorf("Set error %q shows the webhook URL", err)
		}
	}

	other := Webhooks{Tenants: map[string]string{"acme": "https://hooks.slack.com/x"}}
	if err := w.Merge(other); err == nil || !strings.Contains(err.Error(), "more than one webhook") {
		t.Errorf("Merge of a duplicate tenant returned %v, expected an error", err)
	}
}
