package ticketing

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeMapping(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mapping.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestMappingBuildsNestedFieldsAndTemplates(t *testing.T) {
	m, err := LoadMapping(writeMapping(t, `
ticket:
  title: "[{{.ticketRef}}] {{.subject}}"
  customer.email: requester.address
  customer.name: requester.name
  labels: tags
  key: idempotencyKey
comment:
  text: body
idField: ticket_id
`))
	if err != nil {
		t.Fatalf("LoadMapping: %v", err)
	}
	cmd := createCommand("T-0AAAAAAAAA")
	tk := newTicket(&cmd)
	body, err := build(m.ticket, sourceValues(tk, tk.Body))
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	if got := body["title"]; got != "[T-0AAAAAAAAA] "+tk.Subject {
		t.Errorf("title = %q, expected the template output", got)
	}
	customer, _ := body["customer"].(map[string]any)
	if customer["email"] != "ana@customer.test" || customer["name"] != "Ana Lima" {
		t.Errorf("customer = %v, expected the requester's address and name", customer)
	}
	if labels, _ := body["labels"].([]string); len(labels) != 2 || labels[1] != "vip customer" {
		t.Errorf("labels = %v, expected the command's tags as an array", body["labels"])
	}
	if body["key"] != "acme/T-0AAAAAAAAA" || m.IDField != "ticket_id" {
		t.Errorf("key = %v, idField = %q; expected acme/T-0AAAAAAAAA and ticket_id", body["key"], m.IDField)
	}
}

func TestMappingRejectsBadEntries(t *testing.T) {
	cases := []struct{ name, text, want string }{
		{"unknown field", "ticket:\n  body: text\n", `maps to unknown contract field "text"`},
		{"raw body", "ticket:\n  raw: raw\n", `unknown contract field "raw"`},
		{"overlap", "ticket:\n  a: subject\n  a.b: body\n", `fields "a" and "a.b" overlap`},
		{"bad template", "ticket:\n  a: \"{{.subject\"\n", "invalid template"},
		{"unknown key", "tickets:\n  a: subject\n", "expected the keys"},
		{"comment without event", "ticket:\n  a: subject\ncomment:\n  x: subject\n", `maps neither "body" nor "eventId"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadMapping(writeMapping(t, tc.text))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("LoadMapping error = %v, expected one containing %q", err, tc.want)
			}
		})
	}
}
