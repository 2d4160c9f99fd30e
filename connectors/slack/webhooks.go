package slack

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

// Webhooks maps tenants to Slack incoming-webhook URLs. The URLs are
// secrets: nothing in this package logs them or puts them in an error.
type Webhooks struct {
	// Tenants maps a tenant to its webhook URL.
	Tenants map[string]string
	// Default is the URL for tenants missing from Tenants. Empty means such
	// tenants are skipped.
	Default string
}

// webhookFile is the YAML layout read by LoadWebhooks.
type webhookFile struct {
	Default string            `yaml:"default"`
	Tenants map[string]string `yaml:"tenants"`
}

// LoadWebhooks reads a YAML file of the form
//
//	default: https://hooks.slack.com/services/...   # optional
//	tenants:
//	  acme: https://hooks.slack.com/services/...
//	  globex: https://hooks.slack.com/services/...
//
// and validates every URL. Unknown keys are an error.
func LoadWebhooks(path string) (Webhooks, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Webhooks{}, fmt.Errorf("reading the webhook file: %w", err)
	}

	var file webhookFile
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

// Set adds the webhook of one tenant from "tenant=URL", the form of the
// repeated --webhook flag.
func (w *Webhooks) Set(spec string) error {
	tenant, rawURL, ok := strings.Cut(spec, "=")
	tenant = strings.TrimSpace(tenant)
	if !ok || tenant == "" {
		return errors.New("invalid webhook mapping: expected tenant=URL")
	}
	if err := validateWebhookURL(strings.TrimSpace(rawURL)); err != nil {
		return fmt.Errorf("webhook of tenant %q: %w", tenant, err)
	}
	if w.Tenants == nil {
		w.Tenants = make(map[string]string)
	}
	if _, dup := w.Tenants[tenant]; dup {
		return fmt.Errorf("tenant %q has more than one webhook: give each tenant one URL", tenant)
	}
	w.Tenants[tenant] = strings.TrimSpace(rawURL)
	return nil
}

// Merge adds the tenants of other and its default, if w has none. A tenant
// present in both is an error.
func (w *Webhooks) Merge(other Webhooks) error {
	for tenant, u := range other.Tenants {
		if _, dup := w.Tenants[tenant]; dup {
			return fmt.Errorf("tenant %q has more than one webhook: give each tenant one URL", tenant)
		}
		if w.Tenants == nil {
			w.Tenants = make(map[string]string)
		}
		w.Tenants[tenant] = u
	}
	if w.Default == "" {
		w.Default = other.Default
	}
	return nil
}

// Validate checks every URL and names the tenant of the first bad one.
func (w Webhooks) Validate() error {
	for tenant, u := range w.Tenants {
		if strings.TrimSpace(tenant) == "" {
			return errors.New("a webhook has an empty tenant: name the tenant")
		}
		if err := validateWebhookURL(u); err != nil {
			return fmt.Errorf("webhook of tenant %q: %w", tenant, err)
		}
	}
	if w.Default != "" {
		if err := validateWebhookURL(w.Default); err != nil {
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

// Empty reports whether no URL is configured at all.
func (w Webhooks) Empty() bool { return len(w.Tenants) == 0 && w.Default == "" }

// validateWebhookURL accepts an absolute https URL, or an http URL on a
// loopback host for local testing. Its errors never contain the URL.
func validateWebhookURL(raw string) error {
	if raw == "" {
		return errors.New("URL is empty: give the incoming-webhook URL from the Slack app settings")
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse quotes the input in its error, so only the cause is kept.
		var urlErr *url.Error
		if errors.As(err, &urlErr) {
			err = urlErr.Err
		}
		return fmt.Errorf("invalid URL (%v): give the incoming-webhook URL from the Slack app settings", err)
	}
	if u.Host == "" {
		return errors.New("URL has no host: give an absolute https:// URL")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
		return errors.New("URL uses http, which would send the secret URL in clear text: use https (http is accepted only on a loopback host)")
	}
	return fmt.Errorf("URL scheme %q is not supported: use https", u.Scheme)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
