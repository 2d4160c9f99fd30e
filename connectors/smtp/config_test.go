package smtp

import (
	"strings"
	"testing"
	"time"
)

func TestParseConfigDefaults(t *testing.T) {
	cfg, err := ParseConfig([]byte(`
domains:
  Support.Example.com: {tenant: acme}
kafka:
  brokers: [127.0.0.1:9092]
`))
	if err != nil {
		t.Fatalf("ParseConfig: %v", err)
	}
	if route, ok := cfg.Domains["support.example.com"]; !ok || route.Tenant != "acme" {
		t.Errorf("domains = %+v, want support.example.com (lower case) with tenant acme", cfg.Domains)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"max message bytes", cfg.Limits.MaxMessageBytes, int64(25 << 20)},
		{"max recipients", cfg.Limits.MaxRecipients, DefaultMaxRecipients},
		{"max connections", cfg.Limits.MaxConnections, DefaultMaxConnections},
		{"max connections per IP", cfg.Limits.MaxConnectionsPerIP, DefaultMaxConnectionsPerIP},
		{"max line length", cfg.Limits.MaxLineLength, DefaultMaxLineLength},
		{"read timeout", cfg.Timeouts.Read, 5 * time.Minute},
		{"publish timeout", cfg.Timeouts.Publish, DefaultPublishTimeout},
		{"recipient delimiter", cfg.RecipientDelimiter, "+"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if cfg.Hostname == "" {
		t.Error("hostname is empty, want the machine's host name")
	}
}

func TestParseConfigFull(t *testing.T) {
	cfg, err := ParseConfig([]byte(`
hostname: mx.example.com
domains:
  help.globex.example: {tenant: globex, addresses: [Support, billing]}
addresses:
  Desk@Partner.example: {tenant: acme}
catch-all: {tenant: unrouted}
recipient-delimiter: "-"
limits: {max-message-bytes: 1048576, max-recipients: 5}
timeouts: {read: 30s, data: 2m}
`))
	if err != nil {
		t.Fatalf("ParseConfig: %v", err)
	}
	if got := cfg.Domains["help.globex.example"].Addresses; len(got) != 2 || got[0] != "support" {
		t.Errorf("domain addresses = %q, want [support billing]", got)
	}
	if _, ok := cfg.Addresses["desk@partner.example"]; !ok {
		t.Errorf("addresses = %+v, want desk@partner.example in lower case", cfg.Addresses)
	}
	if cfg.CatchAll == nil || cfg.CatchAll.Tenant != "unrouted" {
		t.Errorf("catch-all = %+v, want tenant unrouted", cfg.CatchAll)
	}
	if cfg.Limits.MaxMessageBytes != 1<<20 || cfg.Limits.MaxRecipients != 5 {
		t.Errorf("limits = %+v, want 1048576 bytes and 5 recipients", cfg.Limits)
	}
	if cfg.Timeouts.Read != 30*time.Second || cfg.Timeouts.Data != 2*time.Minute {
		t.Errorf("timeouts = %+v, want read 30s and data 2m", cfg.Timeouts)
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want string // part of the error message
	}{
		{"no route", "hostname: mx.example.com\n", "no route"},
		{"unknown key", "domains: {a.example: {tenant: acme}}\nlimit: {}\n", "field limit not found"},
		{"missing tenant", "domains: {a.example: {}}\n", "domains.a.example.tenant: missing tenant"},
		{"tenant with slash", "domains: {a.example: {tenant: a/b}}\n", `invalid tenant "a/b"`},
		{"tenant with space", "addresses: {x@a.example: {tenant: a b}}\n", `invalid tenant "a b"`},
		{"address without domain", "addresses: {support: {tenant: acme}}\n", `invalid address "support"`},
		{"domain with at sign", "domains: {x@a.example: {tenant: acme}}\n", `invalid domain "x@a.example"`},
		{"local part with at sign", "domains: {a.example: {tenant: acme, addresses: [x@a.example]}}\n", `invalid local part "x@a.example"`},
		{"duplicate domain", "domains: {a.example: {tenant: acme}, A.example: {tenant: acme}}\n", "listed twice"},
		{"negative size", "domains: {a.example: {tenant: acme}}\nlimits: {max-message-bytes: -1}\n", "limits.max-message-bytes"},
		{"short line limit", "domains: {a.example: {tenant: acme}}\nlimits: {max-line-length: 100}\n", "at least 1000"},
		{"cert without key", "domains: {a.example: {tenant: acme}}\ntls: {cert: c.pem}\n", "cert and key must be set together"},
		{"require-tls without cert", "domains: {a.example: {tenant: acme}}\nrequire-tls: true\n", "require-tls is true"},
		{"bad duration", "domains: {a.example: {tenant: acme}}\ntimeouts: {read: soon}\n", "invalid SMTP listener configuration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tt.yaml))
			if err == nil {
				t.Fatalf("ParseConfig accepted %q, want an error containing %q", tt.yaml, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}
