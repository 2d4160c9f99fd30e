// Package kafkaconfig turns the Kafka connection settings of a role
// (brokers, TLS, SASL) into franz-go client options, so that every role
// connects to a real cluster the same way.
package kafkaconfig

import (
	"errors"
	"flag"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Config is how a role reaches the Kafka cluster.
type Config struct {
	// Brokers are the seed brokers, host:port. Required.
	Brokers []string
	// TLS, when Enabled, encrypts the connections.
	TLS TLS
	// SASL, when Mechanism is set, authenticates the connections.
	SASL SASL
}

// TLS settings of the broker connections.
type TLS struct {
	Enabled    bool
	CAFile     string // PEM bundle of trusted CAs; empty uses the system pool
	CertFile   string // PEM client certificate for mutual TLS; optional
	KeyFile    string // PEM key of CertFile
	ServerName string // expected name in the broker certificate; empty uses the host of each broker
}

// SASL settings of the broker connections.
type SASL struct {
	Mechanism string // "", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512" or "OAUTHBEARER"
	Username  string
	Password  string // never logged
	Token     string // OAUTHBEARER token; never logged
}

// AddFlags registers the connection flags of c on fs.
func (c *Config) AddFlags(fs *flag.FlagSet) {
	fs.Func("brokers", "comma-separated Kafka seed brokers, host:port", func(s string) error {
		c.Brokers = splitList(s)
		return nil
	})
}

// Validate checks the settings and names the flag to fix.
func (c *Config) Validate() error {
	if len(c.Brokers) == 0 {
		return errors.New("no Kafka brokers: pass --brokers host:port")
	}
	return nil
}

// Opts returns the franz-go options that connect to the cluster.
func (c *Config) Opts() ([]kgo.Opt, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return []kgo.Opt{kgo.SeedBrokers(c.Brokers...)}, nil
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}
