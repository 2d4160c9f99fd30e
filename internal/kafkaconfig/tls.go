package kafkaconfig

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// ErrNoCertificates is wrapped when the CA file contains no PEM
// certificate.
var ErrNoCertificates = errors.New("no PEM certificate found")

// config reads the CA and client certificate files and builds the TLS
// configuration of the broker connections. It requires TLS 1.2 or later.
func (t *TLS) config() (*tls.Config, error) {
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		ServerName: t.ServerName,
	}

	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", key("tls.ca"), err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s %s: %w: give a PEM file with BEGIN CERTIFICATE blocks", key("tls.ca"), t.CAFile, ErrNoCertificates)
		}
		cfg.RootCAs = pool
	}

	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("loading the client certificate %s and %s: %w: check that both are PEM and that the key matches the certificate",
				key("tls.cert"), key("tls.key"), err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}
