package kafkaconfig

import (
	"strings"
	"testing"
)

// testSecret is a password and token value that must never appear in an
// error message.
const testSecret = "s3cret-value-9f2"

func TestValidateErrors(t *testing.T) {
	brokers := []string{"127.0.0.1:9093"}
	tests := []struct {
		name   string
		config Config
		expect string
	}{
		{"no brokers", Config{}, "kafka.brokers (--brokers) is empty"},
		{"broker without port", Config{Brokers: []string{"kafka1"}}, `kafka.brokers (--brokers) entry 0 "kafka1" is not host:port`},
		{"broker without host", Config{Brokers: []string{"127.0.0.1:9092", ":9092"}}, `entry 1 ":9092" is not host:port`},
		{"CA while TLS off", Config{Brokers: brokers, TLS: TLS{CAFile: "ca.pem"}},
			"kafka.tls.ca (--tls-ca) is set but TLS is off: set kafka.tls.enabled (--tls) to true"},
		{"cert while TLS off", Config{Brokers: brokers, TLS: TLS{CertFile: "c.pem", KeyFile: "k.pem"}},
			"kafka.tls.cert (--tls-cert) is set but TLS is off"},
		{"key while TLS off", Config{Brokers: brokers, TLS: TLS{KeyFile: "k.pem"}},
			"kafka.tls.key (--tls-key) is set but TLS is off"},
		{"server name while TLS off", Config{Brokers: brokers, TLS: TLS{ServerName: "kafka"}},
			"kafka.tls.server-name (--tls-server-name) is set but TLS is off"},
		{"cert without key", Config{Brokers: brokers, TLS: TLS{Enabled: true, CertFile: "c.pem"}},
			"kafka.tls.cert (--tls-cert) set without kafka.tls.key (--tls-key): set both for mutual TLS"},
		{"key without cert", Config{Brokers: brokers, TLS: TLS{Enabled: true, KeyFile: "k.pem"}},
			"kafka.tls.key (--tls-key) set without kafka.tls.cert (--tls-cert): set both for mutual TLS"},
		{"unknown mechanism", Config{Brokers: brokers, SASL: SASL{Mechanism: "gssapi"}},
			`kafka.sasl.mechanism (--sasl-mechanism) "GSSAPI" is not supported: use PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER`},
		{"PLAIN without user", Config{Brokers: brokers, SASL: SASL{Mechanism: "PLAIN", Password: testSecret}},
			"kafka.sasl.username (--sasl-username) is empty: PLAIN needs a user"},
		{"SCRAM without password", Config{Brokers: brokers, SASL: SASL{Mechanism: "SCRAM-SHA-512", Username: "u"}},
			"no SASL password for SCRAM-SHA-512: set kafka.sasl.password-file (--sasl-password-file), or the environment variable MAILTRIAGE_KAFKA_SASL_PASSWORD"},
		{"SCRAM with both passwords", Config{Brokers: brokers, SASL: SASL{Mechanism: "SCRAM-SHA-256", Username: "u", Password: testSecret, PasswordFile: "p"}},
			"both kafka.sasl.password-file (--sasl-password-file) and MAILTRIAGE_KAFKA_SASL_PASSWORD are set: keep one of them"},
		{"SCRAM with token file", Config{Brokers: brokers, SASL: SASL{Mechanism: "SCRAM-SHA-256", Username: "u", Password: testSecret, TokenFile: "t"}},
			"kafka.sasl.token-file (--sasl-token-file) is set but SCRAM-SHA-256 does not use a token"},
		{"PLAIN with token", Config{Brokers: brokers, SASL: SASL{Mechanism: "PLAIN", Username: "u", PasswordFile: "p", Token: testSecret}},
			"MAILTRIAGE_KAFKA_SASL_TOKEN is set but PLAIN does not use a token"},
		{"OAUTHBEARER without token", Config{Brokers: brokers, SASL: SASL{Mechanism: "OAUTHBEARER"}},
			"no OAUTHBEARER token: set kafka.sasl.token-file (--sasl-token-file), or the environment variable MAILTRIAGE_KAFKA_SASL_TOKEN"},
		{"OAUTHBEARER with both tokens", Config{Brokers: brokers, SASL: SASL{Mechanism: "OAUTHBEARER", Token: testSecret, TokenFile: "t"}},
			"both kafka.sasl.token-file (--sasl-token-file) and MAILTRIAGE_KAFKA_SASL_TOKEN are set"},
		{"OAUTHBEARER with user", Config{Brokers: brokers, SASL: SASL{Mechanism: "OAUTHBEARER", TokenFile: "t", Username: "u"}},
			"kafka.sasl.username (--sasl-username) is set but OAUTHBEARER does not use a user or password"},
		{"OAUTHBEARER with password file", Config{Brokers: brokers, SASL: SASL{Mechanism: "OAUTHBEARER", TokenFile: "t", PasswordFile: "p"}},
			"kafka.sasl.password-file (--sasl-password-file) is set but OAUTHBEARER does not use a user or password"},
		{"user without mechanism", Config{Brokers: brokers, SASL: SASL{Username: "u"}},
			"kafka.sasl.username (--sasl-username) is set but no SASL mechanism is set: remove it, or set kafka.sasl.mechanism (--sasl-mechanism)"},
		{"password without mechanism", Config{Brokers: brokers, SASL: SASL{Password: testSecret}},
			"MAILTRIAGE_KAFKA_SASL_PASSWORD is set but no SASL mechanism is set"},
		{"token file without mechanism", Config{Brokers: brokers, SASL: SASL{TokenFile: "t"}},
			"kafka.sasl.token-file (--sasl-token-file) is set but no SASL mechanism is set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.config.Validate()
			if err == nil {
				t.Fatalf("Validate returned nil, expected an error containing %q", tt.expect)
			}
			if !strings.Contains(err.Error(), tt.expect) {
				t.Errorf("Validate error\n got %q\nexpected it to contain %q", err, tt.expect)
			}
			if strings.Contains(err.Error(), testSecret) {
				t.Errorf("Validate error %q contains the secret", err)
			}
			if _, optsErr := tt.config.Opts(); optsErr == nil || optsErr.Error() != err.Error() {
				t.Errorf("Opts error %v, expected the Validate error %v", optsErr, err)
			}
		})
	}
}

func TestValidateAcceptsValidSettings(t *testing.T) {
	tests := []struct {
		name      string
		config    Config
		mechanism string
	}{
		{"plaintext", Config{Brokers: []string{"127.0.0.1:9092"}}, ""},
		{"IPv6 broker", Config{Brokers: []string{"[::1]:9092"}}, ""},
		{"TLS only", Config{Brokers: []string{"kafka:9093"}, TLS: TLS{Enabled: true}}, ""},
		{"mutual TLS", Config{Brokers: []string{"kafka:9093"}, TLS: TLS{Enabled: true, CAFile: "ca", CertFile: "c", KeyFile: "k", ServerName: "kafka"}}, ""},
		{"lower-case SCRAM", Config{Brokers: []string{"kafka:9093"}, SASL: SASL{Mechanism: " scram-sha-512 ", Username: "u", PasswordFile: "p"}}, "SCRAM-SHA-512"},
		{"static token", Config{Brokers: []string{"kafka:9093"}, SASL: SASL{Mechanism: "oauthbearer", Token: testSecret}}, "OAUTHBEARER"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.config.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if tt.config.SASL.Mechanism != tt.mechanism {
				t.Errorf("mechanism after Validate is %q, expected %q", tt.config.SASL.Mechanism, tt.mechanism)
			}
		})
	}
}
