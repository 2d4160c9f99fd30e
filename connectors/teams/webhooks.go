package teams

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Webhooks maps tenants to Teams webhook URLs. The URLs are secrets:
// nothing in this package logs them or puts them in an error.
type Webhooks struct {
	// Tenants maps a tenant to its webhook URL.
	Tenants map[string]string
	// Default is the URL for tenants missing from Tenants. Empty skips them.
	Default string
}

// LoadWebhooks reads a YAML file with the keys "default" (a URL) and
// "tenants" (a map of tenant to URL) and validates every URL.
func LoadWebhooks(path string) (Webhooks, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Webhooks{}, fmt.Errorf("reading the webhook file: %w", err)
	}
	var file struct {
		Default string            `yaml:"default"`
		Tenants map[string]string `yaml:"tenants"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&file); err != nil {
		return Webhooks{}, fmt.Errorf("parsing the webhook file %s: %w: expected the keys \"default\" and \"tenants\" (a map of tenant to URL)", path, err)
	}
	w := Webhooks{Tenants: file.Tenants, Default: strings.TrimSpace(file.Default)}
	if err := w.Validate(); err != nil {
		return Webhooks{}, fmt.Errorf("webhook file %s: %w", path, err)
	}
	return w, nil
}

// Validate checks every URL and names the tenant of the first bad one.
func (w Webhooks) Validate() error {
	for tenant, u := range w.Tenants {
		if strings.TrimSpace(tenant) == "" {
			return errors.New("a webhook has an empty tenant: name the tenant")
		}
		if err := validateURL(u); err != nil {
			return fmt.Errorf("webhook of tenant %q: %w", tenant, err)
		}
	}
	if w.Default != "" {
		if err := validateURL(w.Default); err != nil {
			return fmt.Errorf("default webhook: %w", err)
		}
	}
	return nil
}

// Lookup returns the URL for tenant: its own, else the default.
func (w Webhooks) Lookup(tenant string) (string, bool) {
	if u, ok := w.Tenants[tenant]; ok {
		return u, true
	}
	return w.Default, w.Default != ""
}

// Empty reports whether no URL is configured.
func (w Webhooks) Empty() bool { return len(w.Tenants) == 0 && w.Default == "" }

// validateURL accepts an absolute https URL, or http on a loopback host
// for local testing. Its errors never contain the URL.
func validateURL(raw string) error {
	if raw == "" {
		return errors.New("URL is empty: give the webhook URL of the Teams workflow or connector")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return errors.New("invalid URL: give the absolute https:// webhook URL of the Teams workflow or connector")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
			return nil
		}
		return errors.New("URL uses http, which would send the secret URL in clear text: use https (http is accepted only on a loopback host)")
	}
	return fmt.Errorf("URL scheme %q is not supported: use https", u.Scheme)
}
