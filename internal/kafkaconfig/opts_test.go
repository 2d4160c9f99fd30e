package kafkaconfig

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
)

// clientOf builds a client from the options of c without dialing, so
// that its option values can be inspected.
func clientOf(t *testing.T, c *Config) *kgo.Client {
	t.Helper()
	opts, err := c.Opts()
	if err != nil {
		t.Fatalf("Opts: %v", err)
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func TestOptsSeedBrokersOnly(t *testing.T) {
	c := Config{Brokers: []string{"127.0.0.1:19092", "127.0.0.1:19093"}}
	cl := clientOf(t, &c)

	seeds, _ := cl.OptValue(kgo.SeedBrokers).([]string)
	if strings.Join(seeds, ",") != "127.0.0.1:19092,127.0.0.1:19093" {
		t.Errorf("seed brokers %v, expected the two configured", seeds)
	}
	if tlsCfg, _ := cl.OptValue(kgo.DialTLSConfig).(*tls.Config); tlsCfg != nil {
		t.Errorf("TLS config %+v, expected none when TLS is off", tlsCfg)
	}
	if mechanisms, _ := cl.OptValue(kgo.SASL).([]sasl.Mechanism); len(mechanisms) != 0 {
		t.Errorf("%d SASL mechanisms, expected none", len(mechanisms))
	}
}

func TestOptsMutualTLS(t *testing.T) {
	pki := newTestPKI(t)
	c := Config{
		Brokers: []string{"127.0.0.1:19093"},
		TLS:     TLS{Enabled: true, CAFile: pki.caFile, CertFile: pki.certFile, KeyFile: pki.keyFile, ServerName: "kafka.internal.test"},
	}
	tlsCfg, _ := clientOf(t, &c).OptValue(kgo.DialTLSConfig).(*tls.Config)
	if tlsCfg == nil {
		t.Fatal("no TLS config among the options")
	}

	if tlsCfg.ServerName != "kafka.internal.test" {
		t.Errorf("ServerName %q, expected kafka.internal.test", tlsCfg.ServerName)
	}
	if tlsCfg.MinVersion != tls.VersionTLS12 {
		t.Errorf("MinVersion %#x, expected TLS 1.2 (%#x)", tlsCfg.MinVersion, tls.VersionTLS12)
	}
	if tlsCfg.InsecureSkipVerify {
		t.Error("InsecureSkipVerify is set, expected verification")
	}
	if len(tlsCfg.Certificates) != 1 {
		t.Fatalf("%d client certificates, expected 1", len(tlsCfg.Certificates))
	}
	if leaf := tlsCfg.Certificates[0].Certificate[0]; !bytes.Equal(leaf, pki.client.Raw) {
		t.Error("client certificate differs from the one in the cert file")
	}

	broker := pki.serverCert(t, "kafka.internal.test")
	if _, err := broker.Verify(x509.VerifyOptions{Roots: tlsCfg.RootCAs, DNSName: "kafka.internal.test"}); err != nil {
		t.Errorf("a broker certificate signed by the test CA does not verify against RootCAs: %v", err)
	}
	other := newTestPKI(t).serverCert(t, "kafka.internal.test")
	if _, err := other.Verify(x509.VerifyOptions{Roots: tlsCfg.RootCAs}); err == nil {
		t.Error("a certificate from another CA verifies against RootCAs, expected only the configured CA")
	}
}

func TestOptsTLSSystemPool(t *testing.T) {
	c := Config{Brokers: []string{"kafka:9093"}, TLS: TLS{Enabled: true}}
	tlsCfg, _ := clientOf(t, &c).OptValue(kgo.DialTLSConfig).(*tls.Config)
	if tlsCfg == nil {
		t.Fatal("no TLS config among the options")
	}
	if tlsCfg.RootCAs != nil {
		t.Error("RootCAs is set, expected nil so that the system pool is used")
	}
	if len(tlsCfg.Certificates) != 0 || tlsCfg.ServerName != "" {
		t.Errorf("certificates %d and server name %q, expected none", len(tlsCfg.Certificates), tlsCfg.ServerName)
	}
}

func TestOptsTLSFileErrors(t *testing.T) {
	pki := newTestPKI(t)
	otherKey := newTestPKI(t).keyFile
	notPEM := writeFile(t, "ca.pem", "not a certificate\n")

	tests := []struct {
		name   string
		tls    TLS
		expect string
		is     error
	}{
		{"missing CA", TLS{Enabled: true, CAFile: pki.caFile + ".missing"}, "reading kafka.tls.ca (--tls-ca)", os.ErrNotExist},
		{"CA not PEM", TLS{Enabled: true, CAFile: notPEM}, "kafka.tls.ca (--tls-ca) " + notPEM, ErrNoCertificates},
		{"key of another cert", TLS{Enabled: true, CertFile: pki.certFile, KeyFile: otherKey}, "loading the client certificate kafka.tls.cert (--tls-cert) and kafka.tls.key (--tls-key)", nil},
		{"missing key", TLS{Enabled: true, CertFile: pki.certFile, KeyFile: pki.keyFile + ".missing"}, "loading the client certificate", os.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Config{Brokers: []string{"kafka:9093"}, TLS: tt.tls}
			_, err := c.Opts()
			if err == nil {
				t.Fatalf("Opts returned nil, expected an error containing %q", tt.expect)
			}
			if !strings.Contains(err.Error(), tt.expect) {
				t.Errorf("Opts error %q, expected it to contain %q", err, tt.expect)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("Opts error %v does not wrap %v", err, tt.is)
			}
		})
	}
}

func TestOptsSASLMechanismNames(t *testing.T) {
	passwordFile := writeFile(t, "password", testSecret+"\n")
	tests := []struct {
		mechanism string
		sasl      SASL
	}{
		{"PLAIN", SASL{Mechanism: "plain", Username: "u", PasswordFile: passwordFile}},
		{"SCRAM-SHA-256", SASL{Mechanism: "SCRAM-SHA-256", Username: "u", Password: testSecret}},
		{"SCRAM-SHA-512", SASL{Mechanism: "scram-sha-512", Username: "u", PasswordFile: passwordFile}},
		{"OAUTHBEARER", SASL{Mechanism: "OAUTHBEARER", Token: testSecret}},
	}
	for _, tt := range tests {
		t.Run(tt.mechanism, func(t *testing.T) {
			c := Config{Brokers: []string{"kafka:9093"}, SASL: tt.sasl}
			mechanisms, _ := clientOf(t, &c).OptValue(kgo.SASL).([]sasl.Mechanism)
			if len(mechanisms) != 1 {
				t.Fatalf("%d SASL mechanisms, expected 1", len(mechanisms))
			}
			if got := mechanisms[0].Name(); got != tt.mechanism {
				t.Errorf("mechanism name %q, expected %q", got, tt.mechanism)
			}
		})
	}
}

// firstMessage runs the client side of the first SASL step and returns
// the message it would send to the broker.
func firstMessage(t *testing.T, m sasl.Mechanism) string {
	t.Helper()
	_, msg, err := m.Authenticate(context.Background(), "127.0.0.1:19093")
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	return string(msg)
}

func TestPasswordFileReadOnEachAuthentication(t *testing.T) {
	passwordFile := writeFile(t, "password", "first-password\n")
	c := Config{Brokers: []string{"kafka:9093"}, SASL: SASL{Mechanism: "PLAIN", Username: "svc", PasswordFile: passwordFile}}
	mechanisms, _ := clientOf(t, &c).OptValue(kgo.SASL).([]sasl.Mechanism)

	if got, expect := firstMessage(t, mechanisms[0]), "\x00svc\x00first-password"; got != expect {
		t.Errorf("first PLAIN message %q, expected %q (one trailing newline dropped)", got, expect)
	}
	if err := os.WriteFile(passwordFile, []byte("rotated-password"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, expect := firstMessage(t, mechanisms[0]), "\x00svc\x00rotated-password"; got != expect {
		t.Errorf("PLAIN message after rotation %q, expected %q", got, expect)
	}
}

func TestTokenFileReadOnEachAuthentication(t *testing.T) {
	tokenFile := writeFile(t, "token", "token-one\n")
	c := Config{Brokers: []string{"kafka:9093"}, SASL: SASL{Mechanism: "OAUTHBEARER", TokenFile: tokenFile}}
	mechanisms, _ := clientOf(t, &c).OptValue(kgo.SASL).([]sasl.Mechanism)

	if got := firstMessage(t, mechanisms[0]); !strings.Contains(got, "auth=Bearer token-one\x01") {
		t.Errorf("first OAUTHBEARER message %q, expected it to carry token-one", got)
	}
	if err := os.WriteFile(tokenFile, []byte("token-two\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := firstMessage(t, mechanisms[0]); !strings.Contains(got, "auth=Bearer token-two\x01") {
		t.Errorf("OAUTHBEARER message after refresh %q, expected it to carry token-two", got)
	}
}

func TestSCRAMUsesStaticPassword(t *testing.T) {
	c := Config{Brokers: []string{"kafka:9093"}, SASL: SASL{Mechanism: "SCRAM-SHA-512", Username: "svc", Password: testSecret}}
	mechanisms, _ := clientOf(t, &c).OptValue(kgo.SASL).([]sasl.Mechanism)

	// The SCRAM client-first message carries the user and a nonce, never
	// the password.
	got := firstMessage(t, mechanisms[0])
	if !strings.HasPrefix(got, "n,,n=svc,r=") {
		t.Errorf("SCRAM client-first message %q, expected it to start with n,,n=svc,r=", got)
	}
	if strings.Contains(got, testSecret) {
		t.Error("SCRAM client-first message contains the password")
	}
}

func TestSecretFileErrors(t *testing.T) {
	empty := writeFile(t, "password", "\n")
	tests := []struct {
		name   string
		sasl   SASL
		expect string
		is     error
	}{
		{"missing password file", SASL{Mechanism: "SCRAM-SHA-512", Username: "u", PasswordFile: empty + ".missing"}, "reading kafka.sasl.password-file (--sasl-password-file)", os.ErrNotExist},
		{"empty password file", SASL{Mechanism: "PLAIN", Username: "u", PasswordFile: empty}, "kafka.sasl.password-file (--sasl-password-file) " + empty, ErrEmptySecret},
		{"missing token file", SASL{Mechanism: "OAUTHBEARER", TokenFile: empty + ".missing"}, "reading kafka.sasl.token-file (--sasl-token-file)", os.ErrNotExist},
		{"empty token file", SASL{Mechanism: "OAUTHBEARER", TokenFile: empty}, "kafka.sasl.token-file (--sasl-token-file)", ErrEmptySecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Config{Brokers: []string{"kafka:9093"}, SASL: tt.sasl}
			_, err := c.Opts()
			if err == nil {
				t.Fatalf("Opts returned nil, expected an error containing %q", tt.expect)
			}
			if !strings.Contains(err.Error(), tt.expect) {
				t.Errorf("Opts error %q, expected it to contain %q", err, tt.expect)
			}
			if !errors.Is(err, tt.is) {
				t.Errorf("Opts error %v does not wrap %v", err, tt.is)
			}
		})
	}
}
