// Package importer turns messages read from disk into inbound records and
// publishes them. The `mailtriage import` command runs it over .eml files,
// folders, mbox files and Maildirs. The demo and the REST poller reuse how
// it prepares one message and replaces a record that Kafka rejects.
package importer

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"mailtriage/connectors/blobstore"
	"mailtriage/internal/ingest"
	"mailtriage/internal/mime"
	"mailtriage/schemas"
)

// Record is one prepared message. Exactly one of Email and DeadLetter is
// set: the parsed message, or the dead letter of a message that could not
// be parsed or is not mail.
type Record struct {
	// Name locates the message, such as a file path or path#N in an mbox
	// file. The key of a dead letter is Tenant/Name.
	Name string
	// Tenant owns the message.
	Tenant string
	// Source is the origin of the message, such as schemas.SourceImport.
	Source string
	// Raw is the message as read, kept for a dead letter that replaces a
	// rejected record.
	Raw []byte

	Email      *schemas.InboundEmail
	DeadLetter *schemas.DeadLetter
}

// Key returns the record key: tenant/messageId for a message, and
// DeadLetterKey for a dead letter.
func (r *Record) Key() string {
	if r.Email != nil {
		return r.Email.Key()
	}
	return r.DeadLetterKey()
}

// DeadLetterKey returns tenant/Name, the key of every dead letter of the
// message, so that the outcome of each input is found under a key of its
// own.
func (r *Record) DeadLetterKey() string { return r.Tenant + "/" + r.Name }

// PrepareOptions sets how Prepare reads one message.
type PrepareOptions struct {
	// Tenant owns the message. Check it with ingest.ValidateTenant first.
	Tenant string
	// Source is the InboundEmail.Source value, such as schemas.SourceImport.
	Source string
	// Store keeps the raw MIME and the attachments. Required.
	Store blobstore.Store
	// Now is the time of receipt and of any dead letter.
	Now time.Time
}

// Prepare parses raw with ingest.Prepare. A message that cannot be parsed
// or is not mail gives a Record with a parse dead letter that carries the
// raw bytes. An error means the object store failed, and retrying later
// may succeed.
func Prepare(ctx context.Context, name string, raw []byte, opts PrepareOptions) (*Record, error) {
	rec := &Record{Name: name, Tenant: opts.Tenant, Source: opts.Source, Raw: raw}
	mimeOpts := mime.Options{Tenant: opts.Tenant, Source: opts.Source, ReceivedAt: opts.Now}

	email, err := ingest.Prepare(ctx, raw, mimeOpts, opts.Store)
	var parseErr *ingest.ParseError
	switch {
	case errors.As(err, &parseErr):
		dl := ingest.DeadLetterFor(parseErr, raw, opts.Source, opts.Now)
		dl.Tenant = opts.Tenant
		rec.DeadLetter = &dl
	case err != nil:
		return nil, fmt.Errorf("preparing %s: %w", name, err)
	default:
		rec.Email = email
	}
	return rec, nil
}

// Replacement returns the dead letter that takes the place of the record
// of r after Kafka rejected it with cause. recordBytes is the size of the
// rejected record value, or 0 when it is not known, and topic the topic it
// was produced to.
//
// For a message it is an ingress dead letter whose payload is cut to
// ingest.MaxIngressPayload bytes. For a parse dead letter it is the same
// dead letter with its payload cut to that size, which a broker that
// rejected the longer payload accepts.
func (r *Record) Replacement(topic string, recordBytes int, cause error, now time.Time) *schemas.DeadLetter {
	if r.DeadLetter != nil {
		dl := *r.DeadLetter
		if len(dl.Payload) > ingest.MaxIngressPayload {
			dl.Payload = dl.Payload[:ingest.MaxIngressPayload]
		}
		return &dl
	}

	record := "the record"
	if recordBytes > 0 {
		record = fmt.Sprintf("the %d-byte record", recordBytes)
	}
	reason := fmt.Sprintf("%s of %s was rejected by %s: %v; raw storage has the whole message under %s",
		record, r.Name, topic, cause, rawKey(r.Email))
	dl := ingest.RejectedDeadLetter(r.Email, []byte(r.Email.Key()), r.Raw, reason, r.Source, now)
	dl.Tenant = r.Tenant
	return &dl
}

func rawKey(email *schemas.InboundEmail) string {
	if email.Raw == nil {
		return "(not stored)"
	}
	return email.Raw.Key
}

// IsRejected reports whether Kafka, or the client before sending, refused
// the record itself. Such a record fails again however often it is sent.
// Any other error, such as a timeout or a lost connection, concerns the
// cluster and not the record.
func IsRejected(err error) bool {
	return errors.Is(err, kerr.MessageTooLarge) ||
		errors.Is(err, kerr.RecordListTooLarge) ||
		errors.Is(err, kerr.InvalidRecord) ||
		errors.Is(err, kerr.CorruptMessage)
}

// DisplayName shortens an item name to its path below the import root it
// came from, so that a table shows "billing-refund.eml", not the whole
// path.
func DisplayName(name string, roots []string) string {
	for _, root := range roots {
		root = strings.TrimSuffix(root, "/")
		if rest, ok := strings.CutPrefix(name, root+"/"); ok {
			return rest
		}
		if name == root || strings.HasPrefix(name, root+"#") {
			return filepath.Base(name)
		}
	}
	return name
}
