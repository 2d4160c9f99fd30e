// Package logging builds the log/slog logger of every mailtriage role: JSON
// or text on one writer, a minimum level, the role's name on every line, the
// trace ID of the span in the context, and a redacting handler in front of
// the output.
//
// # Standard attributes
//
// Every line carries "role". Lines about one Kafka record add the attributes
// of Record: "topic", "partition", "offset", "key_hash" (the first 12 hex
// digits of the SHA-256 of the record key, never the key itself, because the
// key is tenant/messageId) and "trace_id" when the record has a W3C
// traceparent header. Lines about one message add "tenant". A line logged
// with a context that holds a valid span, through the *Context methods of
// slog.Logger, gets "trace_id" and "span_id".
//
// # Redaction rule
//
// The redacting handler applies one rule to the message and to every
// attribute, those added with Logger.With and those nested in groups:
//
//  1. An attribute whose key names a secret (it contains password, passwd,
//     secret, token, credential, cookie, authorization, api_key, apikey,
//     private_key or salt, or is pass, pwd, auth, signature or dsn) keeps
//     its key and gets the value "[REDACTED]". Booleans and numbers are
//     kept, so that "thread_salt_set": true still reads as intended.
//  2. An attribute whose key names a body or an address (it contains body,
//     subject or email, or is text, html, payload, raw, raw_mime, content,
//     headers, reply_text, snippet, from, to, cc, bcc, reply_to, sender,
//     recipient, recipients, rcpt, rcpt_to, mail_from or display_name) is
//     masked the same way, whatever its value.
//  3. An attribute whose key is key, record_key, message_id, in_reply_to or
//     references gets the key hash of its value in place of the value.
//  4. A value of a type from the mailtriage/schemas package (a whole email,
//     ticket command or notification) or a processors.Message is replaced
//     by "[REDACTED TYPE]", because those types hold bodies and addresses.
//  5. []byte values are replaced by their length, because they are usually
//     a payload.
//  6. In every remaining string, error text, fmt.Stringer result and
//     formatted value, each email address (anything of the form
//     local@domain.tld, which includes most Message-IDs) becomes "[EMAIL]",
//     the password of a URL (scheme://user:password@host) becomes
//     "[REDACTED]", and so does the value of password=, passwd=, pwd=,
//     secret=, token=, api_key= and apikey= pairs.
//
// NOTE: the rule catches values by their key or their shape. A phone
// number, IBAN, card number or name logged under an innocent key is not
// caught, so callers still must not log message content: log IDs, counts,
// hashes and positions instead.
package logging
