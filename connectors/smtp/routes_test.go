package smtp

import "testing"

func TestRouterTenant(t *testing.T) {
	cfg := Config{
		Domains: map[string]DomainRoute{
			"support.example.com": {Tenant: "acme"},
			"help.globex.example": {Tenant: "globex", Addresses: []string{"support", "billing"}},
		},
		Addresses: map[string]AddressRoute{
			"desk@partner.example":          {Tenant: "initech"},
			"vip@support.example.com":       {Tenant: "acme-vip"},
			"ops+pager@help.globex.example": {Tenant: "globex-ops"},
		},
	}
	if err := cfg.Complete(); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		rcpt   string
		tenant string // empty when rejected
	}{
		{"anyone@support.example.com", "acme"},
		{"Anyone@SUPPORT.example.com", "acme"},
		{"support+billing@support.example.com", "acme"},
		{"anyone@support.example.com.", "acme"},
		{"support@help.globex.example", "globex"},
		{"Billing+march@help.globex.example", "globex"},
		{"postmaster@help.globex.example", "globex"},
		{"sales@help.globex.example", ""},
		{"+support@help.globex.example", ""},
		{"desk@partner.example", "initech"},
		{"desk+x@partner.example", "initech"},
		{"other@partner.example", ""},
		{"vip@support.example.com", "acme-vip"},
		{"vip+1@support.example.com", "acme-vip"},
		{"ops+pager@help.globex.example", "globex-ops"},
		{"ops@help.globex.example", ""},
		{"someone@unknown.example", ""},
		{"no-domain", ""},
		{"trailing@", ""},
	}
	r := newRouter(cfg)
	for _, tt := range tests {
		t.Run(tt.rcpt, func(t *testing.T) {
			tenant, ok := r.tenant(tt.rcpt)
			if ok != (tt.tenant != "") || tenant != tt.tenant {
				t.Errorf("tenant(%q) = %q, %v; want %q", tt.rcpt, tenant, ok, tt.tenant)
			}
		})
	}
}

func TestRouterCatchAllAndDelimiter(t *testing.T) {
	cfg := Config{
		Domains:            map[string]DomainRoute{"help.globex.example": {Tenant: "globex", Addresses: []string{"support"}}},
		CatchAll:           &AddressRoute{Tenant: "unrouted"},
		RecipientDelimiter: noDelimiter,
	}
	if err := cfg.Complete(); err != nil {
		t.Fatal(err)
	}
	r := newRouter(cfg)

	tests := []struct{ rcpt, tenant string }{
		{"support@help.globex.example", "globex"},
		{"support+x@help.globex.example", "unrouted"}, // no subaddresses: the local part is unknown
		{"someone@unknown.example", "unrouted"},
		{"no-domain", "unrouted"},
	}
	for _, tt := range tests {
		if tenant, ok := r.tenant(tt.rcpt); !ok || tenant != tt.tenant {
			t.Errorf("tenant(%q) = %q, %v; want %q", tt.rcpt, tenant, ok, tt.tenant)
		}
	}
}
