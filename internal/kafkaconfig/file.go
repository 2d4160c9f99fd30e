package kafkaconfig

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// Environment variables that FromEnv reads. Each overrides the file key
// of the same name, and an empty value counts as unset.
const (
	EnvBrokers          = "MAILTRIAGE_KAFKA_BROKERS"            // kafka.brokers, comma-separated
	EnvTLS              = "MAILTRIAGE_KAFKA_TLS"                // kafka.tls.enabled, true or false
	EnvTLSCA            = "MAILTRIAGE_KAFKA_TLS_CA"             // kafka.tls.ca
	EnvTLSCert          = "MAILTRIAGE_KAFKA_TLS_CERT"           // kafka.tls.cert
	EnvTLSKey           = "MAILTRIAGE_KAFKA_TLS_KEY"            // kafka.tls.key
	EnvTLSServerName    = "MAILTRIAGE_KAFKA_TLS_SERVER_NAME"    // kafka.tls.server-name
	EnvSASLMechanism    = "MAILTRIAGE_KAFKA_SASL_MECHANISM"     // kafka.sasl.mechanism
	EnvSASLUsername     = "MAILTRIAGE_KAFKA_SASL_USERNAME"      // kafka.sasl.username
	EnvSASLPassword     = "MAILTRIAGE_KAFKA_SASL_PASSWORD"      // the password itself, in place of a password file
	EnvSASLPasswordFile = "MAILTRIAGE_KAFKA_SASL_PASSWORD_FILE" // kafka.sasl.password-file
	EnvSASLToken        = "MAILTRIAGE_KAFKA_SASL_TOKEN"         // a static OAUTHBEARER token, in place of a token file
	EnvSASLTokenFile    = "MAILTRIAGE_KAFKA_SASL_TOKEN_FILE"    // kafka.sasl.token-file
)

// ErrNoKafkaSection is wrapped by LoadFile when the file has no top-level
// `kafka:` key.
var ErrNoKafkaSection = errors.New("no kafka section")

// LoadFile reads the `kafka:` section of the YAML file at path:
//
//	kafka:
//	  brokers: [broker1.example.com:9093, broker2.example.com:9093]
//	  tls:
//	    enabled: true
//	    ca: /etc/mailtriage/kafka-ca.pem
//	    cert: /etc/mailtriage/client.pem     # mutual TLS, with key
//	    key: /etc/mailtriage/client-key.pem
//	    server-name: kafka.example.com
//	  sasl:
//	    mechanism: SCRAM-SHA-512
//	    username: mailtriage
//	    password-file: /run/secrets/kafka-password
//
// Other top-level sections are ignored, so one file can configure several
// parts of a role. An unknown key inside `kafka:` is an error, so that a
// misspelled setting does not silently fall back to its default. LoadFile
// does not validate: call Validate or Opts after the overrides.
func LoadFile(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("reading the Kafka settings: %w", err)
	}

	var doc struct {
		Kafka yaml.Node `yaml:"kafka"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return Config{}, fmt.Errorf("%s is not valid YAML: %w", path, err)
	}
	if doc.Kafka.Kind == 0 {
		return Config{}, fmt.Errorf("%s: %w: add a top-level `kafka:` mapping with at least brokers", path, ErrNoKafkaSection)
	}

	// yaml.Node.Decode cannot reject unknown keys, so the section is
	// encoded again and decoded with a strict decoder.
	section, err := yaml.Marshal(&doc.Kafka)
	if err != nil {
		return Config{}, fmt.Errorf("%s: re-encoding the kafka section: %w", path, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(section))
	dec.KnownFields(true)

	var c Config
	if err := dec.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("%s: invalid kafka section: %w: the keys are brokers, tls (enabled, ca, cert, key, server-name) and sasl (mechanism, username, password-file, token-file)", path, err)
	}
	return c, nil
}

// FromEnv overrides the settings of c with the MAILTRIAGE_KAFKA_*
// environment variables that are set and not empty. It fails only when
// MAILTRIAGE_KAFKA_TLS is not a boolean.
func (c *Config) FromEnv() error {
	if v := os.Getenv(EnvBrokers); v != "" {
		c.Brokers = splitList(v)
	}
	if v := os.Getenv(EnvTLS); v != "" {
		enabled, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%s=%q is not a boolean: set it to true or false", EnvTLS, v)
		}
		c.TLS.Enabled = enabled
	}

	for _, setting := range []struct {
		env    string
		target *string
	}{
		{EnvTLSCA, &c.TLS.CAFile},
		{EnvTLSCert, &c.TLS.CertFile},
		{EnvTLSKey, &c.TLS.KeyFile},
		{EnvTLSServerName, &c.TLS.ServerName},
		{EnvSASLMechanism, &c.SASL.Mechanism},
		{EnvSASLUsername, &c.SASL.Username},
		{EnvSASLPassword, &c.SASL.Password},
		{EnvSASLPasswordFile, &c.SASL.PasswordFile},
		{EnvSASLToken, &c.SASL.Token},
		{EnvSASLTokenFile, &c.SASL.TokenFile},
	} {
		if v := os.Getenv(setting.env); v != "" {
			*setting.target = v
		}
	}
	return nil
}
