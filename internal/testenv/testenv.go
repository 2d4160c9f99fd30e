// Package testenv gives integration tests the addresses of the real
// services that `make stack-up` starts (Kafka, PostgreSQL, ClickHouse).
//
// The addresses come from environment variables that the stack scripts
// write to .stack/env and that `make test` exports. When a variable is
// missing, a test is skipped on a developer machine, but fails under CI
// (CI set to any non-empty value), so that a CI run never passes by
// skipping the real components.
package testenv

import (
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
