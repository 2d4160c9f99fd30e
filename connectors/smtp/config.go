package smtp

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
	"unicode"

	"go.yaml.in/yaml/v3"
)

// Defaults of Config. The read timeout is the 5 minutes that RFC 5321
// section 4.5.3.2.7 asks a server to wait for the next command. The other
// limits and timeouts are estimates of what a support mailbox needs.
const (
	DefaultMaxMessageBytes     = 25 << 20
	DefaultMaxRecipients       = 100
	DefaultMaxConnections      = 200
	DefaultMaxConnectionsPerIP = 20
	DefaultMaxLineLength       = 64 << 10
	DefaultReadTimeout         = 5 * time.Minute
	DefaultWriteTimeout        = 2 * time.Minute
	DefaultDataTimeout         = 10 * time.Minute
	DefaultPublishTimeout      = 30 * time.Second
	DefaultShutdownTimeout     = 30 * time.Second
	DefaultRecipientDelimiter  = "+"
)

// Config is the listener configuration, read from YAML by LoadConfig:
//
//	hostname: mx.example.com
//	domains:
//	  support.example.com:
//	    tenant: acme
//	  help.globex.example:
//	    tenant: globex
//	    addresses: [support, billing]   # only these local parts
//	addresses:
//	  desk@partner.example: {tenant: acme}
//	catch-all:
//	  tenant: unrouted
//	recipient-delimiter: "+"
//	require-tls: false
//	tls: {cert: /etc/mailtriage/smtp.pem, key: /etc/mailtriage/smtp-key.pem}
//	limits:
//	  max-message-bytes: 26214400
//	  max-recipients: 100
//	  max-connections: 200
//	  max-connections-per-ip: 20
//	  max-line-length: 65536
//	timeouts: {read: 5m, write: 2m, data: 10m, publish: 30s, shutdown: 30s}
//	kafka: {...}                        # read by internal/kafkaconfig
//
// A recipient is routed by the first of these that matches: an entry of
// Addresses, the entry of its domain in Domains, the catch-all. Every
// other recipient is rejected with 550 5.1.1.
type Config struct {
	// Hostname is the name in the greeting and the EHLO reply. Default: the
	// host name of the machine.
	Hostname string `yaml:"hostname"`
	// Domains maps a recipient domain to its route. Domain names are
	// matched without regard to letter case.
	Domains map[string]DomainRoute `yaml:"domains"`
	// Addresses maps a single recipient address, possibly at a domain not
	// in Domains, to its tenant. It takes precedence over Domains.
	Addresses map[string]AddressRoute `yaml:"addresses"`
	// CatchAll, when set, takes every recipient that no other route takes.
	// Default: none, so such recipients get 550 5.1.1.
	CatchAll *AddressRoute `yaml:"catch-all"`
	// RecipientDelimiter separates the local part from a subaddress, as in
	// support+billing@example.com. Routes match the local part before it,
	// and the record keeps the recipient as given. Default "+"; "none"
	// turns subaddresses off.
	RecipientDelimiter string `yaml:"recipient-delimiter"`
	// RequireTLS rejects MAIL with 530 5.7.0 until the client has run
	// STARTTLS. It needs TLS. Default false.
	RequireTLS bool `yaml:"require-tls"`
	// TLS names the PEM certificate and key that STARTTLS offers. Without
	// them the listener does not offer STARTTLS.
	TLS TLSFiles `yaml:"tls"`
	// Limits bound what one client may send.
	Limits Limits `yaml:"limits"`
	// Timeouts bound how long the listener waits.
	Timeouts Timeouts `yaml:"timeouts"`
}

// DomainRoute is the route of one recipient domain.
type DomainRoute struct {
	// Tenant receives the mail of this domain. Required.
	Tenant string `yaml:"tenant"`
	// Addresses, when not empty, are the only local parts accepted at this
	// domain (compared without the subaddress and without regard to letter
	// case), besides postmaster, which RFC 5321 requires. Default: every
	// local part is accepted.
	Addresses []string `yaml:"addresses"`
}

// AddressRoute is the route of one recipient address, or of the catch-all.
type AddressRoute struct {
	// Tenant receives the mail. Required.
	Tenant string `yaml:"tenant"`
}

// TLSFiles names the PEM files of the STARTTLS certificate.
type TLSFiles struct {
	// Cert is the PEM certificate chain, leaf first.
	Cert string `yaml:"cert"`
	// Key is the PEM private key of Cert.
	Key string `yaml:"key"`
}

// Limits bound what one client may send. Zero means the default.
type Limits struct {
	// MaxMessageBytes is the largest message accepted, in bytes, and the
	// value advertised with SIZE. Default 25 MiB.
	MaxMessageBytes int64 `yaml:"max-message-bytes"`
	// MaxRecipients bounds the RCPT commands of one message; more get
	// 452 4.5.3. Default 100.
	MaxRecipients int `yaml:"max-recipients"`
	// MaxConnections bounds the open connections; more get 421 4.3.2 and
	// are closed. Default 200.
	MaxConnections int `yaml:"max-connections"`
	// MaxConnectionsPerIP bounds the open connections of one remote IP;
	// more get 421 4.7.0 and are closed. Default 20.
	MaxConnectionsPerIP int `yaml:"max-connections-per-ip"`
	// MaxLineLength bounds a command line and a line of message data, in
	// bytes. A longer line ends the connection. RFC 5321 allows 1000, but
	// real mail has longer lines, so the default is 64 KiB.
	MaxLineLength int `yaml:"max-line-length"`
}

// Timeouts bound how long the listener waits. Zero means the default.
type Timeouts struct {
	// Read bounds the wait for the next command line, and for the next
	// bytes of message data. Default 5m.
	Read time.Duration `yaml:"read"`
	// Write bounds the sending of one reply. Default 2m.
	Write time.Duration `yaml:"write"`
	// Data bounds the transfer of one message, from the start of DATA to
	// its end. Default 10m.
	Data time.Duration `yaml:"data"`
	// Publish bounds storing, parsing and publishing one message after its
	// data arrived. When it expires the client gets 451. Default 30s.
	Publish time.Duration `yaml:"publish"`
	// Shutdown bounds the wait for messages in flight when the listener
	// stops. Default 30s.
	Shutdown time.Duration `yaml:"shutdown"`
}

// noDelimiter is the RecipientDelimiter value that turns subaddresses off.
const noDelimiter = "none"

// LoadConfig reads the listener configuration from the YAML file at path.
// A top-level kafka section is allowed and ignored; any other unknown key
// is an error. The result is validated and has its defaults filled in.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("reading the SMTP listener configuration: %w", err)
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// ParseConfig decodes and validates a YAML configuration as LoadConfig
// does.
func ParseConfig(data []byte) (Config, error) {
	var doc struct {
		Config `yaml:",inline"`
		Kafka  yaml.Node `yaml:"kafka"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		return Config{}, fmt.Errorf("invalid SMTP listener configuration: %w; the top-level keys are hostname, domains, addresses, catch-all, recipient-delimiter, require-tls, tls, limits, timeouts and kafka", err)
	}
	cfg := doc.Config
	if err := cfg.Complete(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// Complete fills in the defaults, lower-cases the domains and addresses
// and validates cfg. It returns an error naming the first invalid key.
func (c *Config) Complete() error {
	c.setDefaults()
	if err := c.normalizeRoutes(); err != nil {
		return err
	}
	return c.validate()
}

func (c *Config) setDefaults() {
	if c.Hostname == "" {
		if host, err := os.Hostname(); err == nil && host != "" {
			c.Hostname = host
		} else {
			c.Hostname = "localhost"
		}
	}
	if c.RecipientDelimiter == "" {
		c.RecipientDelimiter = DefaultRecipientDelimiter
	}

	l := &c.Limits
	setDefault(&l.MaxMessageBytes, DefaultMaxMessageBytes)
	setDefault(&l.MaxRecipients, DefaultMaxRecipients)
	setDefault(&l.MaxConnections, DefaultMaxConnections)
	setDefault(&l.MaxConnectionsPerIP, DefaultMaxConnectionsPerIP)
	setDefault(&l.MaxLineLength, DefaultMaxLineLength)

	t := &c.Timeouts
	setDefault(&t.Read, DefaultReadTimeout)
	setDefault(&t.Write, DefaultWriteTimeout)
	setDefault(&t.Data, DefaultDataTimeout)
	setDefault(&t.Publish, DefaultPublishTimeout)
	setDefault(&t.Shutdown, DefaultShutdownTimeout)
}

func setDefault[T int | int64 | time.Duration](v *T, def T) {
	if *v == 0 {
		*v = def
	}
}

// normalizeRoutes lower-cases the keys of Domains and Addresses and the
// local parts of each domain, rejecting two keys that differ only in
// letter case.
func (c *Config) normalizeRoutes() error {
	domains := make(map[string]DomainRoute, len(c.Domains))
	for name, route := range c.Domains {
		key := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(name)), ".")
		if _, dup := domains[key]; dup {
			return fmt.Errorf("domains: %q is listed twice (domains are compared without regard to letter case)", name)
		}
		locals := make([]string, len(route.Addresses))
		for i, local := range route.Addresses {
			locals[i] = strings.ToLower(strings.TrimSpace(local))
		}
		route.Addresses = locals
		domains[key] = route
	}
	c.Domains = domains

	addresses := make(map[string]AddressRoute, len(c.Addresses))
	for addr, route := range c.Addresses {
		key := strings.ToLower(strings.TrimSpace(addr))
		if _, dup := addresses[key]; dup {
			return fmt.Errorf("addresses: %q is listed twice (addresses are compared without regard to letter case)", addr)
		}
		addresses[key] = route
	}
	c.Addresses = addresses
	return nil
}

func (c *Config) validate() error {
	if len(c.Domains) == 0 && len(c.Addresses) == 0 && c.CatchAll == nil {
		return errors.New("no route: add at least one entry under domains (domain: {tenant: NAME}), addresses or catch-all, or every recipient is rejected")
	}
	for name, route := range c.Domains {
		if err := validateDomain(name); err != nil {
			return fmt.Errorf("domains: %w", err)
		}
		if err := validateTenant(route.Tenant); err != nil {
			return fmt.Errorf("domains.%s.tenant: %w", name, err)
		}
		for _, local := range route.Addresses {
			if local == "" || strings.Contains(local, "@") {
				return fmt.Errorf("domains.%s.addresses: invalid local part %q: list the part before @, such as support", name, local)
			}
		}
	}
	for addr, route := range c.Addresses {
		local, domain, ok := splitAddress(addr)
		if !ok || local == "" || validateDomain(domain) != nil {
			return fmt.Errorf("addresses: invalid address %q: use local@domain, such as support@example.com", addr)
		}
		if err := validateTenant(route.Tenant); err != nil {
			return fmt.Errorf("addresses.%s.tenant: %w", addr, err)
		}
	}
	if c.CatchAll != nil {
		if err := validateTenant(c.CatchAll.Tenant); err != nil {
			return fmt.Errorf("catch-all.tenant: %w", err)
		}
	}
	if err := c.validateLimits(); err != nil {
		return err
	}
	return c.validateTLS()
}

func (c *Config) validateLimits() error {
	l := c.Limits
	switch {
	case l.MaxMessageBytes < 1:
		return fmt.Errorf("limits.max-message-bytes: invalid value %d: use a positive byte count, such as %d", l.MaxMessageBytes, DefaultMaxMessageBytes)
	case l.MaxRecipients < 1:
		return fmt.Errorf("limits.max-recipients: invalid value %d: use a positive count, such as %d", l.MaxRecipients, DefaultMaxRecipients)
	case l.MaxConnections < 1:
		return fmt.Errorf("limits.max-connections: invalid value %d: use a positive count, such as %d", l.MaxConnections, DefaultMaxConnections)
	case l.MaxConnectionsPerIP < 1:
		return fmt.Errorf("limits.max-connections-per-ip: invalid value %d: use a positive count, such as %d", l.MaxConnectionsPerIP, DefaultMaxConnectionsPerIP)
	case l.MaxLineLength < 1000:
		return fmt.Errorf("limits.max-line-length: invalid value %d: RFC 5321 requires at least 1000 bytes", l.MaxLineLength)
	}

	t := c.Timeouts
	for _, d := range []struct {
		key   string
		value time.Duration
	}{{"read", t.Read}, {"write", t.Write}, {"data", t.Data}, {"publish", t.Publish}, {"shutdown", t.Shutdown}} {
		if d.value < 0 {
			return fmt.Errorf("timeouts.%s: invalid value %s: use a positive duration such as 30s", d.key, d.value)
		}
	}
	return nil
}

func (c *Config) validateTLS() error {
	if (c.TLS.Cert == "") != (c.TLS.Key == "") {
		return errors.New("tls: cert and key must be set together: name both PEM files, or neither to turn STARTTLS off")
	}
	if c.RequireTLS && c.TLS.Cert == "" {
		return errors.New("require-tls is true but tls.cert and tls.key are not set: name the PEM files, or set require-tls to false")
	}
	return nil
}

// validateTenant checks the rules of a tenant name, which starts every
// record key: not empty, no "/" and no white space.
func validateTenant(tenant string) error {
	switch {
	case tenant == "":
		return errors.New("missing tenant: set the tenant name that receives this mail")
	case strings.Contains(tenant, "/"):
		return fmt.Errorf("invalid tenant %q: a tenant name must not contain \"/\"", tenant)
	case strings.IndexFunc(tenant, unicode.IsSpace) >= 0:
		return fmt.Errorf("invalid tenant %q: a tenant name must not contain white space", tenant)
	}
	return nil
}

func validateDomain(domain string) error {
	if domain == "" || strings.ContainsAny(domain, "@[]") || strings.IndexFunc(domain, unicode.IsSpace) >= 0 {
		return fmt.Errorf("invalid domain %q: use a domain name such as support.example.com", domain)
	}
	return nil
}
