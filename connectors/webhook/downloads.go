package webhook

import (
	"fmt"
	"net"
	"net/http"
	"syscall"
	"time"

	"mailtriage/internal/ingest"
)

// Downloads configures how the JSON endpoint fetches attachments from
// their downloadUrl.
type Downloads struct {
	// Enabled makes the JSON endpoint stream each attachment with a
	// downloadUrl into object storage before it publishes the record.
	// Default false: the record then carries metadata only, with a warning
	// per attachment.
	Enabled bool
	// AllowPrivateAddresses lets downloads reach loopback, private,
	// link-local and other non-public addresses. Default false, because
	// the URLs come from the sender and could otherwise reach internal
	// services (server-side request forgery).
	AllowPrivateAddresses bool
	// Limits bound each download; zero fields take the defaults of
	// ingest.FetchLimits.
	Limits ingest.FetchLimits
}

// downloadsFile is the YAML layout of the downloads section.
type downloadsFile struct {
	Enabled               bool          `yaml:"enabled"`
	AllowPrivateAddresses bool          `yaml:"allow-private-addresses"`
	MaxAttachmentBytes    int64         `yaml:"max-attachment-bytes"`
	MaxMessageBytes       int64         `yaml:"max-message-bytes"`
	Timeout               time.Duration `yaml:"timeout"`
}

func (f downloadsFile) config() Downloads {
	return Downloads{
		Enabled:               f.Enabled,
		AllowPrivateAddresses: f.AllowPrivateAddresses,
		Limits: ingest.FetchLimits{
			MaxAttachmentBytes: f.MaxAttachmentBytes,
			MaxMessageBytes:    f.MaxMessageBytes,
			Timeout:            f.Timeout,
		},
	}
}

// downloadClient returns the HTTP client of the downloads. Unless private
// addresses are allowed, its dialer rejects every address that is not
// public unicast, after name resolution, so a DNS name pointing at an
// internal address is rejected too.
func downloadClient(cfg Downloads) *http.Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	if !cfg.AllowPrivateAddresses {
		dialer.Control = rejectNonPublic
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.DialContext = dialer.DialContext
	transport.Proxy = nil
	return &http.Client{Transport: transport}
}

// rejectNonPublic is a net.Dialer Control function that rejects loopback,
// private, link-local, multicast and unspecified addresses.
func rejectNonPublic(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("invalid dial address %q: %w", address, err)
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return fmt.Errorf("dial address %q is not an IP address", address)
	}
	if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() {
		return fmt.Errorf("downloads from the non-public address %s are not allowed: set downloads.allow-private-addresses to permit them", ip)
	}
	return nil
}
