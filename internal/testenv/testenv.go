// Package testenv gives integration tests the addresses of the real
// services that `make stack-up` starts (Kafka, PostgreSQL, ClickHouse,
// MinIO).
//
// The addresses come from environment variables that the stack scripts
// write to .stack/env and that `make test` exports. When a variable is
// missing, a test is skipped on a developer machine, but fails under CI
// (CI set to any non-empty value), so that a CI run never passes by
// skipping the real components.
package testenv

import (
	"net"
	"os"
	"strings"
	"testing"
)

// Environment variables read by this package.
const (
	EnvKafkaBrokers   = "MAILTRIAGE_KAFKA_BROKERS"       // host:port[,host:port], PLAINTEXT listener
	EnvKafkaSecure    = "MAILTRIAGE_KAFKA_SASL_SSL"      // host:port of the SASL_SSL listener
	EnvKafkaCA        = "MAILTRIAGE_KAFKA_CA"            // PEM file of the CA that signed the broker certificate
	EnvKafkaSCRAMUser = "MAILTRIAGE_KAFKA_SCRAM_USER"    // SCRAM-SHA-512 user on the SASL_SSL listener
	EnvKafkaSCRAMPass = "MAILTRIAGE_KAFKA_SCRAM_PASS"    // its password
	EnvPostgresDSN    = "MAILTRIAGE_POSTGRES_DSN"        // postgres://user@127.0.0.1:port/db?sslmode=disable
	EnvClickHouseAddr = "MAILTRIAGE_CLICKHOUSE_ADDR"     // host:port of the native protocol
	EnvClickHouseDB   = "MAILTRIAGE_CLICKHOUSE_DATABASE" // database the tests may create tables in
	EnvKafkaPID       = "MAILTRIAGE_KAFKA_PID_FILE"      // file holding the broker's process ID, for crash tests
	EnvStackScript    = "MAILTRIAGE_STACK_SCRIPT"        // the stack script, for tests that stop and start a service

	// The S3 variables have the names that blobstore.S3Config.FromEnv
	// reads, so a shell that sourced .stack/env can run
	// `mailtriage ... --storage s3://BUCKET` against the local MinIO.
	EnvS3Endpoint  = "MAILTRIAGE_S3_ENDPOINT"   // host:port of the MinIO S3 API, without a scheme
	EnvS3TLS       = "MAILTRIAGE_S3_TLS"        // false: the local MinIO speaks plain HTTP
	EnvS3AccessKey = "MAILTRIAGE_S3_ACCESS_KEY" // MinIO root user
	EnvS3SecretKey = "MAILTRIAGE_S3_SECRET_KEY" // its password
	EnvS3Region    = "MAILTRIAGE_S3_REGION"     // region MinIO reports, us-east-1
	EnvS3KMSKeyID  = "MAILTRIAGE_S3_KMS_KEY_ID" // name of the MinIO KMS key, for SSE-KMS uploads
)

// Get returns the value of the environment variable name, or skips or
// fails t when it is unset as the package comment describes.
func Get(t testing.TB, name string) string {
	t.Helper()
	v := strings.TrimSpace(os.Getenv(name))
	if v != "" {
		return v
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is not set: CI must run the tests through `make test`, which starts the local stack and exports it", name)
	}
	t.Skipf("%s is not set: run `make stack-up` and `. .stack/env` (or `make test`) to run this test against the real service", name)
	return ""
}

// KafkaBrokers returns the seed brokers of the local Kafka 4.4 broker.
func KafkaBrokers(t testing.TB) []string {
	t.Helper()
	return strings.Split(Get(t, EnvKafkaBrokers), ",")
}

// PostgresDSN returns the connection string of the local PostgreSQL server.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	return Get(t, EnvPostgresDSN)
}

// ClickHouseAddr returns the native-protocol address of the local
// ClickHouse server.
func ClickHouseAddr(t testing.TB) string {
	t.Helper()
	return Get(t, EnvClickHouseAddr)
}

// S3Env is the address and credentials of the local MinIO server.
type S3Env struct {
	// Endpoint is the host:port of the S3 API, without a scheme. The
	// server speaks plain HTTP.
	Endpoint string
	// AccessKey and SecretKey are the root credentials of the server.
	AccessKey string
	SecretKey string
	// Region is the region that the server reports.
	Region string
	// KMSKeyID is the key that SSE-KMS uploads may name.
	KMSKeyID string
}

// S3 returns the address and credentials of the local MinIO server. It
// fails t when the endpoint is not a loopback address, because tests
// create and delete buckets there.
func S3(t testing.TB) S3Env {
	t.Helper()
	env := S3Env{
		Endpoint:  Get(t, EnvS3Endpoint),
		AccessKey: Get(t, EnvS3AccessKey),
		SecretKey: Get(t, EnvS3SecretKey),
		Region:    Get(t, EnvS3Region),
		KMSKeyID:  Get(t, EnvS3KMSKeyID),
	}
	host, _, err := net.SplitHostPort(env.Endpoint)
	if err != nil {
		t.Fatalf("invalid %s %q: set it to host:port without a scheme, such as 127.0.0.1:19010", EnvS3Endpoint, env.Endpoint)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		t.Fatalf("%s is %q, but tests create and delete buckets, so they only run against a server on 127.0.0.1 or ::1: source .stack/env", EnvS3Endpoint, env.Endpoint)
	}
	return env
}
