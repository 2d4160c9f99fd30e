package testenv_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/jackc/pgx/v5"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"mailtriage/internal/testenv"
)

// These tests check that each service of the local stack (scripts/stack.sh)
// responds at the address that .stack/env gives.

const serviceTimeout = 30 * time.Second

func TestKafkaPlaintextListsBroker(t *testing.T) {
	brokers := testenv.KafkaBrokers(t)
	ctx, cancel := context.WithTimeout(context.Background(), serviceTimeout)
	defer cancel()

	client, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatalf("kgo.NewClient(%v): %v", brokers, err)
	}
	defer client.Close()

	listed, err := kadm.NewClient(client).ListBrokers(ctx)
	if err != nil {
		t.Fatalf("listing brokers on %v: %v", brokers, err)
	}
	requireOneBroker(t, listed, brokers[0])
}

func TestKafkaSASLSSLListsBroker(t *testing.T) {
	address := testenv.Get(t, testenv.EnvKafkaSecure)
	user := testenv.Get(t, testenv.EnvKafkaSCRAMUser)
	password := testenv.Get(t, testenv.EnvKafkaSCRAMPass)
	tlsConfig := brokerTLSConfig(t)

	mechanisms := []struct {
		name      string
		mechanism sasl.Mechanism
	}{
		{"SCRAM-SHA-512", scram.Auth{User: user, Pass: password}.AsSha512Mechanism()},
		{"SCRAM-SHA-256", scram.Auth{User: user, Pass: password}.AsSha256Mechanism()},
		{"PLAIN", plain.Auth{User: user, Pass: password}.AsMechanism()},
	}
	for _, m := range mechanisms {
		t.Run(m.name, func(t *testing.T) {
			listed, err := listBrokersSecure(address, tlsConfig, m.mechanism)
			if err != nil {
				t.Fatalf("listing brokers on %s with %s over TLS: %v", address, m.name, err)
			}
			requireOneBroker(t, listed, address)
		})
	}
}

func TestKafkaSASLSSLRejectsWrongPassword(t *testing.T) {
	address := testenv.Get(t, testenv.EnvKafkaSecure)
	user := testenv.Get(t, testenv.EnvKafkaSCRAMUser)
	password := testenv.Get(t, testenv.EnvKafkaSCRAMPass)

	wrong := scram.Auth{User: user, Pass: password + "-wrong"}.AsSha512Mechanism()
	_, err := listBrokersSecure(address, brokerTLSConfig(t), wrong)
	if !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Fatalf("listing brokers on %s with a wrong SCRAM-SHA-512 password: got error %v, want %v", address, err, kerr.SaslAuthenticationFailed)
	}
}

func TestKafkaSASLSSLRejectsUnknownCA(t *testing.T) {
	address := testenv.Get(t, testenv.EnvKafkaSecure)
	user := testenv.Get(t, testenv.EnvKafkaSCRAMUser)
	password := testenv.Get(t, testenv.EnvKafkaSCRAMPass)

	// An empty pool trusts no CA, so the handshake must fail: this shows
	// that the test above really verified the broker certificate.
	untrusting := &tls.Config{RootCAs: x509.NewCertPool(), MinVersion: tls.VersionTLS12}
	mechanism := scram.Auth{User: user, Pass: password}.AsSha512Mechanism()
	_, err := listBrokersSecure(address, untrusting, mechanism)
	var unknownAuthority x509.UnknownAuthorityError
	if !errors.As(err, &unknownAuthority) {
		t.Fatalf("listing brokers on %s trusting no CA: got error %v, want x509.UnknownAuthorityError", address, err)
	}
}

func TestPostgresSelectOne(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	ctx, cancel := context.WithTimeout(context.Background(), serviceTimeout)
	defer cancel()

	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connecting to PostgreSQL at %s: %v", dsn, err)
	}
	defer conn.Close(ctx)

	var selected int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&selected); err != nil {
		t.Fatalf("SELECT 1: %v", err)
	}
	if selected != 1 {
		t.Errorf("SELECT 1 returned %d, want 1", selected)
	}

	var user, database string
	if err := conn.QueryRow(ctx, "SELECT current_user, current_database()").Scan(&user, &database); err != nil {
		t.Fatalf("SELECT current_user, current_database(): %v", err)
	}
	if user != "mailtriage" {
		t.Errorf("current_user = %q, want %q", user, "mailtriage")
	}
	if database != "mailtriage" {
		t.Errorf("current_database() = %q, want %q", database, "mailtriage")
	}
}

func TestClickHouseSelectVersion(t *testing.T) {
	address := testenv.ClickHouseAddr(t)
	database := testenv.Get(t, testenv.EnvClickHouseDB)
	ctx, cancel := context.WithTimeout(context.Background(), serviceTimeout)
	defer cancel()

	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr:        []string{address},
		Auth:        clickhouse.Auth{Database: database},
		DialTimeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatalf("opening ClickHouse at %s: %v", address, err)
	}
	defer conn.Close()

	var version string
	if err := conn.QueryRow(ctx, "SELECT version()").Scan(&version); err != nil {
		t.Fatalf("SELECT version() on %s: %v", address, err)
	}
	if !regexp.MustCompile(`^\d+\.\d+\.\d+`).MatchString(version) {
		t.Errorf("SELECT version() = %q, want a dotted version such as 18.16.1", version)
	}

	var current string
	if err := conn.QueryRow(ctx, "SELECT currentDatabase()").Scan(&current); err != nil {
		t.Fatalf("SELECT currentDatabase(): %v", err)
	}
	if current != database {
		t.Errorf("currentDatabase() = %q, want %q", current, database)
	}
}

func TestMinIOReadyWithRootCredentials(t *testing.T) {
	env := testenv.S3(t)
	ctx, cancel := context.WithTimeout(context.Background(), serviceTimeout)
	defer cancel()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+env.Endpoint+"/minio/health/ready", nil)
	if err != nil {
		t.Fatalf("creating the readiness request: %v", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET /minio/health/ready on %s: %v", env.Endpoint, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /minio/health/ready on %s = %d, want 200", env.Endpoint, resp.StatusCode)
	}

	client := minioClient(t, env, env.SecretKey)
	if _, err := client.ListBuckets(ctx); err != nil {
		t.Errorf("listing buckets on %s with the root credentials: %v", env.Endpoint, err)
	}
	if env.Region != "us-east-1" {
		t.Errorf("%s = %q, want us-east-1", testenv.EnvS3Region, env.Region)
	}
	if got := testenv.Get(t, testenv.EnvS3TLS); got != "false" {
		t.Errorf("%s = %q, want false for the plain HTTP listener", testenv.EnvS3TLS, got)
	}
}

func TestMinIORejectsWrongSecret(t *testing.T) {
	env := testenv.S3(t)
	ctx, cancel := context.WithTimeout(context.Background(), serviceTimeout)
	defer cancel()

	_, err := minioClient(t, env, env.SecretKey+"-wrong").ListBuckets(ctx)
	if code := minio.ToErrorResponse(err).Code; code != minio.SignatureDoesNotMatch {
		t.Errorf("listing buckets on %s with a wrong secret: error %v (code %q), want %s", env.Endpoint, err, code, minio.SignatureDoesNotMatch)
	}
}

func TestStackScriptReportsRunningServices(t *testing.T) {
	script := testenv.Get(t, testenv.EnvStackScript)
	pidFile := testenv.Get(t, testenv.EnvKafkaPID)
	ctx, cancel := context.WithTimeout(context.Background(), serviceTimeout)
	defer cancel()

	output, err := exec.CommandContext(ctx, script, "status").CombinedOutput()
	if err != nil {
		t.Fatalf("%s status: %v\n%s", script, err, output)
	}
	for _, service := range []string{"kafka", "postgres", "clickhouse", "minio"} {
		if !regexp.MustCompile(`(?m)^` + service + `\s+running\s`).Match(output) {
			t.Errorf("%s status does not report %s as running:\n%s", script, service, output)
		}
	}

	content, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("reading the Kafka PID file: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(content)))
	if err != nil {
		t.Fatalf("the Kafka PID file %s contains %q, want a process ID", pidFile, content)
	}
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		t.Fatalf("the Kafka PID file %s names process %d, which does not run: %v", pidFile, pid, err)
	}
	if !strings.Contains(string(cmdline), "kafka.Kafka") {
		t.Errorf("process %d from %s runs %q, want the Kafka broker (kafka.Kafka)", pid, pidFile, strings.ReplaceAll(string(cmdline), "\x00", " "))
	}
}

// brokerTLSConfig returns a TLS configuration that trusts only the CA of
// the local stack.
func brokerTLSConfig(t *testing.T) *tls.Config {
	t.Helper()
	caFile := testenv.Get(t, testenv.EnvKafkaCA)
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatalf("reading the Kafka CA: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("%s contains no PEM certificate", caFile)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

// listBrokersSecure lists the brokers through the SASL_SSL listener at
// address. franz-go sets the TLS server name to the host it dials.
func listBrokersSecure(address string, tlsConfig *tls.Config, mechanism sasl.Mechanism) (kadm.BrokerDetails, error) {
	ctx, cancel := context.WithTimeout(context.Background(), serviceTimeout)
	defer cancel()

	client, err := kgo.NewClient(
		kgo.SeedBrokers(address),
		kgo.DialTLSConfig(tlsConfig),
		kgo.SASL(mechanism),
		kgo.RequestRetries(1),
	)
	if err != nil {
		return nil, err
	}
	defer client.Close()
	return kadm.NewClient(client).ListBrokers(ctx)
}

// requireOneBroker checks that the single node of the local stack is
// listed, advertised at the address the client used.
func requireOneBroker(t *testing.T, listed kadm.BrokerDetails, address string) {
	t.Helper()
	if len(listed) != 1 {
		t.Fatalf("got %d brokers (%v), want the 1 node of the local stack", len(listed), listed)
	}
	host, portText, err := net.SplitHostPort(address)
	if err != nil {
		t.Fatalf("broker address %q: %v", address, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		t.Fatalf("broker address %q has port %q, want a number", address, portText)
	}
	broker := listed[0]
	if broker.NodeID != 1 {
		t.Errorf("broker node ID = %d, want 1", broker.NodeID)
	}
	if broker.Host != host || broker.Port != int32(port) {
		t.Errorf("broker advertised at %s:%d, want %s", broker.Host, broker.Port, address)
	}
}

// minioClient returns a client of the local MinIO server that signs with
// the root user and the given secret.
func minioClient(t *testing.T, env testenv.S3Env, secret string) *minio.Client {
	t.Helper()
	client, err := minio.New(env.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(env.AccessKey, secret, ""),
		Region: env.Region,
	})
	if err != nil {
		t.Fatalf("creating a MinIO client for %s: %v", env.Endpoint, err)
	}
	return client
}
