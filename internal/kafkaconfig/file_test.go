package kafkaconfig

import (
	"errors"
	"flag"
	"reflect"
	"strings"
	"testing"
)

const fullFile = `
# other sections are ignored
postgres:
  dsn: postgres://example
kafka:
  brokers: [kafka1.example.test:9093, kafka2.example.test:9093]
  tls:
    enabled: true
    ca: /etc/mailtriage/ca.pem
    cert: /etc/mailtriage/client.pem
    key: /etc/mailtriage/client-key.pem
    server-name: kafka.example.test
  sasl:
    mechanism: SCRAM-SHA-512
    username: mailtriage
    password-file: /run/secrets/kafka-password
`

func TestLoadFileReadsKafkaSection(t *testing.T) {
	c, err := LoadFile(writeFile(t, "mailtriage.yaml", fullFile))
	if err != nil {
		t.Fatalf("LoadFile: %v", err)
	}
	expect := Config{
		Brokers: []string{"kafka1.example.test:9093", "kafka2.example.test:9093"},
		TLS: TLS{Enabled: true, CAFile: "/etc/mailtriage/ca.pem", CertFile: "/etc/mailtriage/client.pem",
			KeyFile: "/etc/mailtriage/client-key.pem", ServerName: "kafka.example.test"},
		SASL: SASL{Mechanism: "SCRAM-SHA-512", Username: "mailtriage", PasswordFile: "/run/secrets/kafka-password"},
	}
	if !reflect.DeepEqual(c, expect) {
		t.Errorf("LoadFile\n got %+v\nexpected %+v", c, expect)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate of the loaded file: %v", err)
	}
}

func TestLoadFileErrors(t *testing.T) {
	tests := []struct {
		name    string
		content string
		expect  string
		is      error
	}{
		{"no kafka section", "postgres:\n  dsn: x\n", "add a top-level `kafka:` mapping", ErrNoKafkaSection},
		{"misspelled key", "kafka:\n  brokers: [a:1]\n  tls:\n    enabeld: true\n", "field enabeld not found", nil},
		{"inline password", "kafka:\n  brokers: [a:1]\n  sasl:\n    password: hunter2\n", "field password not found", nil},
		{"invalid YAML", "kafka: [unclosed\n", "is not valid YAML", nil},
		{"brokers as a number", "kafka:\n  brokers: 5\n", "invalid kafka section", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadFile(writeFile(t, "mailtriage.yaml", tt.content))
			if err == nil {
				t.Fatalf("LoadFile returned nil, expected an error containing %q", tt.expect)
			}
			if !strings.Contains(err.Error(), tt.expect) {
				t.Errorf("LoadFile error %q, expected it to contain %q", err, tt.expect)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("LoadFile error %v does not wrap %v", err, tt.is)
			}
		})
	}

	if _, err := LoadFile(t.TempDir() + "/missing.yaml"); err == nil || !strings.Contains(err.Error(), "reading the Kafka settings") {
		t.Errorf("LoadFile of a missing file returned %v, expected a read error", err)
	}
}

func TestFromEnvOverridesFile(t *testing.T) {
	c, err := LoadFile(writeFile(t, "mailtriage.yaml", fullFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvBrokers, "127.0.0.1:19093, 127.0.0.1:19094")
	t.Setenv(EnvTLSCA, "/tmp/ca.pem")
	t.Setenv(EnvTLSServerName, "")
	t.Setenv(EnvSASLMechanism, "SCRAM-SHA-256")
	t.Setenv(EnvSASLPasswordFile, "")
	t.Setenv(EnvSASLPassword, testSecret)

	if err := c.FromEnv(); err != nil {
		t.Fatalf("FromEnv: %v", err)
	}
	if got := strings.Join(c.Brokers, ","); got != "127.0.0.1:19093,127.0.0.1:19094" {
		t.Errorf("brokers %q, expected the environment's", got)
	}
	if c.TLS.CAFile != "/tmp/ca.pem" {
		t.Errorf("CA file %q, expected the environment's /tmp/ca.pem", c.TLS.CAFile)
	}
	if c.TLS.ServerName != "kafka.example.test" {
		t.Errorf("server name %q, expected the file's, because an empty variable counts as unset", c.TLS.ServerName)
	}
	if c.SASL.Mechanism != "SCRAM-SHA-256" || c.SASL.Password != testSecret {
		t.Errorf("mechanism %q and password set %v, expected SCRAM-SHA-256 and the environment's password", c.SASL.Mechanism, c.SASL.Password == testSecret)
	}
	if c.SASL.Username != "mailtriage" {
		t.Errorf("username %q, expected the file's", c.SASL.Username)
	}

	// The file's password file and the environment's password conflict.
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "keep one of them") {
		t.Errorf("Validate returned %v, expected the password conflict", err)
	}
}

func TestFromEnvTLSFlag(t *testing.T) {
	t.Setenv(EnvTLS, "true")
	var c Config
	if err := c.FromEnv(); err != nil || !c.TLS.Enabled {
		t.Errorf("FromEnv with %s=true: error %v, TLS enabled %v, expected nil and true", EnvTLS, err, c.TLS.Enabled)
	}

	t.Setenv(EnvTLS, "maybe")
	err := c.FromEnv()
	if err == nil || !strings.Contains(err.Error(), `MAILTRIAGE_KAFKA_TLS="maybe" is not a boolean`) {
		t.Errorf("FromEnv with %s=maybe returned %v, expected a boolean error", EnvTLS, err)
	}
}

func TestAddFlagsOverrideLoadedValues(t *testing.T) {
	c, err := LoadFile(writeFile(t, "mailtriage.yaml", fullFile))
	if err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	c.AddFlags(fs)
	err = fs.Parse([]string{"--brokers", "127.0.0.1:19093", "--tls-server-name", "localhost", "--sasl-mechanism", "PLAIN"})
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}

	if got := strings.Join(c.Brokers, ","); got != "127.0.0.1:19093" {
		t.Errorf("brokers %q, expected the flag's", got)
	}
	if c.TLS.ServerName != "localhost" || c.SASL.Mechanism != "PLAIN" {
		t.Errorf("server name %q and mechanism %q, expected the flags' localhost and PLAIN", c.TLS.ServerName, c.SASL.Mechanism)
	}
	if c.TLS.CAFile != "/etc/mailtriage/ca.pem" || c.SASL.PasswordFile != "/run/secrets/kafka-password" || !c.TLS.Enabled {
		t.Errorf("settings without a flag changed: %+v", c)
	}
}

func TestAddFlagsHasNoSecretFlags(t *testing.T) {
	var c Config
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	c.AddFlags(fs)

	for _, name := range []string{"sasl-password", "sasl-token", "password", "token"} {
		if fs.Lookup(name) != nil {
			t.Errorf("flag --%s exists, expected secrets only from files or the environment", name)
		}
	}
	for _, name := range []string{"brokers", "tls", "tls-ca", "tls-cert", "tls-key", "tls-server-name",
		"sasl-mechanism", "sasl-username", "sasl-password-file", "sasl-token-file"} {
		if fs.Lookup(name) == nil {
			t.Errorf("flag --%s is missing", name)
		}
	}
}

func TestAddFlagsReadsSecretsFromEnv(t *testing.T) {
	t.Setenv(EnvSASLPassword, testSecret)
	t.Setenv(EnvSASLToken, "token-from-env")
	var c Config
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	c.AddFlags(fs)
	if err := fs.Parse([]string{"--brokers", "127.0.0.1:19093", "--sasl-mechanism", "SCRAM-SHA-512", "--sasl-username", "svc"}); err != nil {
		t.Fatalf("Parse: %v", err)
	}

	if c.SASL.Password != testSecret {
		t.Error("password not taken from " + EnvSASLPassword)
	}
	if c.SASL.Token != "token-from-env" {
		t.Errorf("token %q, expected the one from %s", c.SASL.Token, EnvSASLToken)
	}

	kept := Config{SASL: SASL{Password: "from-caller"}}
	kept.AddFlags(flag.NewFlagSet("test", flag.ContinueOnError))
	if kept.SASL.Password != "from-caller" {
		t.Error("AddFlags replaced a password the caller had set")
	}
}
