package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSinkTicketingFlagErrors(t *testing.T) {
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("secret-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{"--postgres", "postgres://127.0.0.1:1/x", "--brokers", "127.0.0.1:1"}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"missing target", []string{"--url", "https://acme.zendesk.com", "--token-file", token}, "missing --target: use rest, zendesk or jira"},
		{"bad target", []string{"--target", "fax", "--url", "https://acme.zendesk.com", "--token-file", token}, `invalid --target "fax": use rest, zendesk or jira`},
		{"http url", []string{"--target", "zendesk", "--url", "http://acme.zendesk.com", "--token-file", token}, "use https"},
		{"empty token", []string{"--target", "zendesk", "--url", "https://acme.zendesk.com", "--token-file", empty}, "is empty: write the API token into it"},
		{"jira ids", []string{"--target", "jira", "--url", "https://acme.atlassian.net", "--token-file", token}, "missing --jira-service-desk or --jira-request-type"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := runSinkTicketing(t.Context(), append(append([]string(nil), base...), tc.args...))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, expected one containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "secret-token") {
				t.Errorf("error %q shows the token", err)
			}
		})
	}
}

func TestSinkTeamsRequiresWebhook(t *testing.T) {
	t.Setenv(envTeamsWebhook, "")
	err := runSinkTeams(t.Context(), []string{"--postgres", "postgres://127.0.0.1:1/x"})
	if err == nil || !strings.Contains(err.Error(), "no Teams webhook configured") {
		t.Fatalf("error = %v, expected the missing webhook", err)
	}
}
