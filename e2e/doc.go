// Package e2e holds the end-to-end tests of mailtriage: every role running
// together against the local stack of `make stack-up` (Kafka, PostgreSQL
// and ClickHouse), and crashes of the processor process. It has no code
// besides its tests. A test reaches the stack through internal/testenv, so
// it is skipped on a machine without the stack and fails under CI.
package e2e
