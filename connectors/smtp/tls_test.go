package smtp

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailtriage/topics"
)

func TestSTARTTLSSetsEnvelopeTLS(t *testing.T) {
	cluster := startCluster(t, 1)
	brokers := cluster.ListenAddrs()
	cfg := testConfig()
	var pool *x509.CertPool
	cfg.TLS, pool = selfSignedCert(t)
	l := startListener(t, cfg, false, newPublisher(t, brokers))

	c, clientAddr := dialSMTP(t, l.addr)
	if ok, _ := c.Extension("STARTTLS"); !ok {
		t.Fatal("EHLO does not advertise STARTTLS although a certificate is configured")
	}
	if err := c.StartTLS(&tls.Config{RootCAs: pool, ServerName: "localhost"}); err != nil {
		t.Fatalf("STARTTLS: %v", err)
	}
	if err := send(c, "customer@client.example", []string{"a@support.example.com"}, []byte(plainMessage("tls@client.example"))); err != nil {
		t.Fatalf("delivering over TLS: %v", err)
	}

	records := decodeInbound(t, consumeRecords(t, brokers, topics.Inbound, 1, testTimeout))
	if len(records) != 1 {
		t.Fatalf("inbound topic has %d records, want 1", len(records))
	}
	env := records[0].Envelope
	if !env.TLS {
		t.Error("Envelope.TLS = false after STARTTLS")
	}
	if env.Helo != "client.example" || env.MailFrom != "customer@client.example" || env.RemoteAddr != clientAddr {
		t.Errorf("envelope after STARTTLS = %+v, want HELO client.example, MAIL FROM customer@client.example, remote %s", env, clientAddr)
	}
}

func TestRequireTLSRejectsPlainMail(t *testing.T) {
	cluster := startCluster(t, 1)
	cfg := testConfig()
	var pool *x509.CertPool
	cfg.TLS, pool = selfSignedCert(t)
	cfg.RequireTLS = true
	l := startListener(t, cfg, false, newPublisher(t, cluster.ListenAddrs()))

	c, _ := dialSMTP(t, l.addr)
	code, msg := replyCode(c.Mail("customer@client.example"))
	if code != 530 || !strings.HasPrefix(msg, "5.7.0 ") {
		t.Errorf("MAIL before STARTTLS: reply %d %q, want 530 5.7.0", code, msg)
	}
	if err := c.StartTLS(&tls.Config{RootCAs: pool, ServerName: "localhost"}); err != nil {
		t.Fatalf("STARTTLS: %v", err)
	}
	if err := c.Mail("customer@client.example"); err != nil {
		t.Errorf("MAIL after STARTTLS: %v", err)
	}
}

// selfSignedCert writes a self-signed certificate for localhost and
// 127.0.0.1 with its key as PEM files and returns their names and a pool
// that trusts the certificate.
func selfSignedCert(t *testing.T) (TLSFiles, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	template := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "localhost"},
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	files := TLSFiles{Cert: filepath.Join(dir, "cert.pem"), Key: filepath.Join(dir, "key.pem")}
	writePEM(t, files.Cert, "CERTIFICATE", der)
	writePEM(t, files.Key, "PRIVATE KEY", keyDER)

	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return files, pool
}

func writePEM(t *testing.T, path, blockType string, der []byte) {
	t.Helper()
	data := pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der})
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
