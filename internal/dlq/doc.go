// Package dlq reads, filters and replays the dead letters of the
// dead-letter topic (topics.DLQ).
//
// Every stage that gives up on a record, the processor's and the sinks',
// writes a schemas.DeadLetter whose context the runner.DeadLetterHeaders
// headers repeat, so List filters by tenant, stage and error without
// decoding Avro. Replay re-produces the source key and payload of
// selected dead letters to their source topic in Kafka transactions and
// records each replayed position in a compacted ledger topic in the same
// transaction, so a second replay of the same selection sends nothing.
package dlq
