// Package smtp is the SMTP and LMTP listener of mailtriage. It accepts mail
// for the domains and addresses of its configuration and derives the
// tenant of each recipient. It stores the raw message, parses it once and
// puts one InboundEmail per tenant on the inbound topic. Each record keeps
// the SMTP envelope (MAIL FROM, RCPT TO, HELO, remote address, TLS) apart
// from the header addresses.
//
// The listener replies 250 only after Kafka acknowledged the record, so a
// message is never lost between the sender's queue and the topic:
//
//   - 550 5.1.1 at RCPT for a recipient that no route accepts;
//   - 552 5.3.4 for a message over the size limit, at MAIL when the client
//     declares the size and otherwise at the end of DATA;
//   - 451 4.3.0 when Kafka or object storage cannot take the message now,
//     so the sending server keeps it and retries;
//   - 250 for a message that cannot be parsed, because it is kept on the
//     dead-letter topic with its raw bytes in object storage.
//
// In LMTP mode (RFC 2033) each accepted recipient gets its own reply after
// DATA, which is the result for the tenant of that recipient.
package smtp
