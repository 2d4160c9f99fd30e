// Package kafkaconfig turns the Kafka connection settings of a role
// (brokers, TLS, SASL) into franz-go client options, so that every role
// connects to a real cluster the same way.
//
// Settings come from three places, each overriding the one before: the
// `kafka:` section of a YAML file (LoadFile), MAILTRIAGE_KAFKA_*
// environment variables (FromEnv) and command-line flags (AddFlags).
// Secrets never come from a flag value: a password or token is read from a
// file, whose name a flag may give, or from an environment variable.
package kafkaconfig

import (
	"flag"
	"os"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
)

// SASL mechanism names, as Kafka's sasl.enabled.mechanisms lists them.
const (
	MechanismPlain       = "PLAIN"
	MechanismSCRAMSHA256 = "SCRAM-SHA-256"
	MechanismSCRAMSHA512 = "SCRAM-SHA-512"
	MechanismOAuthBearer = "OAUTHBEARER"
)

// Config is the connection of a role to the Kafka cluster. The zero value is not
// usable: Brokers is required.
type Config struct {
	// Brokers are the seed brokers, host:port. Required.
	Brokers []string `yaml:"brokers"`
	// TLS, when Enabled, encrypts the connections.
	TLS TLS `yaml:"tls"`
	// SASL, when Mechanism is set, authenticates the connections.
	SASL SASL `yaml:"sasl"`
}

// TLS contains the TLS settings of the broker connections. Every file
// setting requires Enabled.
type TLS struct {
	// Enabled turns TLS on. Default false (plaintext connections).
	Enabled bool `yaml:"enabled"`
	// CAFile is a PEM bundle of the CAs trusted to sign the broker
	// certificates. Default: the system pool.
	CAFile string `yaml:"ca"`
	// CertFile is the PEM client certificate for mutual TLS. Optional, but
	// KeyFile must be set with it.
	CertFile string `yaml:"cert"`
	// KeyFile is the PEM private key of CertFile.
	KeyFile string `yaml:"key"`
	// ServerName is the name expected in every broker certificate. Default:
	// the host part of the broker address being dialed.
	ServerName string `yaml:"server-name"`
}

// SASL contains the SASL settings of the broker connections.
type SASL struct {
	// Mechanism is "", PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER,
	// in any letter case. Default "" (no authentication).
	Mechanism string `yaml:"mechanism"`
	// Username is the user of PLAIN and SCRAM.
	Username string `yaml:"username"`
	// Password is the password of PLAIN and SCRAM. It is set only from the
	// environment (MAILTRIAGE_KAFKA_SASL_PASSWORD) or by a caller, never
	// from a file setting or flag value, and is never logged.
	Password string `yaml:"-"`
	// PasswordFile contains the password of PLAIN and SCRAM, with one
	// trailing newline ignored. It is read again on every authentication,
	// so the password can be rotated without a restart.
	PasswordFile string `yaml:"password-file"`
	// Token is a static OAUTHBEARER token. Like Password it is set only
	// from the environment (MAILTRIAGE_KAFKA_SASL_TOKEN) or by a caller.
	Token string `yaml:"-"`
	// TokenFile contains the OAUTHBEARER token. It is read again on every
	// authentication, so an external agent can refresh it in place.
	TokenFile string `yaml:"token-file"`
}

// AddFlags registers the connection flags of c on fs. A flag given on the
// command line overrides the value c already has, so call it after
// LoadFile and FromEnv. Because no flag carries a secret, AddFlags also
// sets the password and token from MAILTRIAGE_KAFKA_SASL_PASSWORD and
// MAILTRIAGE_KAFKA_SASL_TOKEN when c has none, so a role that uses only
// flags still accepts them.
func (c *Config) AddFlags(fs *flag.FlagSet) {
	if c.SASL.Password == "" {
		c.SASL.Password = os.Getenv(EnvSASLPassword)
	}
	if c.SASL.Token == "" {
		c.SASL.Token = os.Getenv(EnvSASLToken)
	}

	fs.Func("brokers", "comma-separated Kafka seed brokers, host:port (key kafka.brokers)", func(s string) error {
		c.Brokers = splitList(s)
		return nil
	})

	fs.BoolVar(&c.TLS.Enabled, "tls", c.TLS.Enabled, "connect to the brokers over TLS (key kafka.tls.enabled)")
	fs.StringVar(&c.TLS.CAFile, "tls-ca", c.TLS.CAFile, "PEM `file` of the CAs that sign the broker certificates, by default the system pool (key kafka.tls.ca)")
	fs.StringVar(&c.TLS.CertFile, "tls-cert", c.TLS.CertFile, "PEM client certificate `file` for mutual TLS; needs --tls-key (key kafka.tls.cert)")
	fs.StringVar(&c.TLS.KeyFile, "tls-key", c.TLS.KeyFile, "PEM private key `file` of --tls-cert (key kafka.tls.key)")
	fs.StringVar(&c.TLS.ServerName, "tls-server-name", c.TLS.ServerName, "`name` expected in the broker certificates, by default the host of each broker (key kafka.tls.server-name)")

	fs.StringVar(&c.SASL.Mechanism, "sasl-mechanism", c.SASL.Mechanism, "SASL `mechanism`: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER, by default none (key kafka.sasl.mechanism)")
	fs.StringVar(&c.SASL.Username, "sasl-username", c.SASL.Username, "SASL `user` of PLAIN and SCRAM (key kafka.sasl.username)")
	fs.StringVar(&c.SASL.PasswordFile, "sasl-password-file", c.SASL.PasswordFile,
		"`file` containing the SASL password, read on every authentication, or set "+EnvSASLPassword+" (key kafka.sasl.password-file)")
	fs.StringVar(&c.SASL.TokenFile, "sasl-token-file", c.SASL.TokenFile,
		"`file` containing the OAUTHBEARER token, read on every authentication, or set "+EnvSASLToken+" (key kafka.sasl.token-file)")
}

// Opts validates c and returns the franz-go options that connect to the
// cluster. It reads the CA, certificate, key, password and token files
// once, so that a missing or invalid file fails here rather than on the
// first connection.
func (c *Config) Opts() ([]kgo.Opt, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	opts := []kgo.Opt{kgo.SeedBrokers(c.Brokers...)}

	if c.TLS.Enabled {
		tlsCfg, err := c.TLS.config()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(tlsCfg))
	}

	if c.SASL.Mechanism != "" {
		mechanism, err := c.SASL.mechanism()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.SASL(mechanism))
	}
	return opts, nil
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
