package smtp

import (
	"slices"
	"strings"
)

// postmaster is the local part that RFC 5321 section 4.5.1 requires every
// domain to accept.
const postmaster = "postmaster"

// router maps a recipient address to its tenant. It only reads the
// configuration, so it is safe for concurrent use.
type router struct {
	domains   map[string]DomainRoute
	addresses map[string]AddressRoute
	catchAll  *AddressRoute
	delimiter string // empty when subaddresses are off
}

func newRouter(cfg Config) *router {
	delimiter := cfg.RecipientDelimiter
	if delimiter == noDelimiter {
		delimiter = ""
	}
	return &router{
		domains:   cfg.Domains,
		addresses: cfg.Addresses,
		catchAll:  cfg.CatchAll,
		delimiter: delimiter,
	}
}

// tenant returns the tenant of the recipient rcpt, as given in RCPT TO,
// and false when no route accepts it. An address route matches the whole
// local part first and then the local part without its subaddress, so
// that support+billing@example.com reaches the route of
// support@example.com.
func (r *router) tenant(rcpt string) (string, bool) {
	local, domain, ok := splitAddress(rcpt)
	if !ok {
		return r.catchAllTenant()
	}
	local = strings.ToLower(local)
	domain = strings.TrimSuffix(strings.ToLower(domain), ".")
	base := r.baseLocal(local)

	if route, ok := r.addresses[local+"@"+domain]; ok {
		return route.Tenant, true
	}
	if route, ok := r.addresses[base+"@"+domain]; ok {
		return route.Tenant, true
	}
	if route, ok := r.domains[domain]; ok {
		if len(route.Addresses) == 0 || base == postmaster || slices.Contains(route.Addresses, base) {
			return route.Tenant, true
		}
	}
	return r.catchAllTenant()
}

func (r *router) catchAllTenant() (string, bool) {
	if r.catchAll == nil {
		return "", false
	}
	return r.catchAll.Tenant, true
}

// baseLocal returns local without its subaddress. A local part that
// starts with the delimiter has no subaddress.
func (r *router) baseLocal(local string) string {
	if r.delimiter == "" {
		return local
	}
	if i := strings.Index(local, r.delimiter); i > 0 {
		return local[:i]
	}
	return local
}

// splitAddress splits an address at its last "@". A quoted local part may
// contain "@" itself, so the last one separates the domain.
func splitAddress(addr string) (local, domain string, ok bool) {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 || i == len(addr)-1 {
		return "", "", false
	}
	return addr[:i], addr[i+1:], true
}
