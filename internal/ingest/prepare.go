// Package ingest turns the raw MIME of one inbound message into the record
// that goes on the inbound topic: it stores the raw bytes and each
// attachment in object storage and parses the message once.
package ingest

import (
	"context"
	"fmt"

	"mailtriage/connectors/blobstore"
	"mailtriage/internal/mime"
	"mailtriage/schemas"
)

// Prepare stores raw under raw/<sha256>.eml, parses it with mime.Parse,
// stores each attachment under attachments/<sha256> and returns the parsed
// message with Raw and every attachment's StorageKey set. Text fields
// longer than MaxTextBytes are cut, with a warning each.
//
// The raw bytes are stored before parsing, so a message that cannot be
// parsed is kept: Prepare then returns a *ParseError that carries the raw
// BlobRef, and DeadLetterFor turns it into a dead letter. Input that is
// not mail gets a ParseError too, whose cause matches mime.ErrNotMail: it
// is empty, only whitespace, or the parser found no header field in it.
// Any other error is a storage failure, which is worth retrying.
func Prepare(ctx context.Context, raw []byte, opts mime.Options, store blobstore.Store) (*schemas.InboundEmail, error) {
	if store == nil {
		return nil, fmt.Errorf("ingest.Prepare: object store is nil; pass a blobstore.Store such as blobstore.NewDir")
	}

	ref, err := storeRaw(ctx, raw, store)
	if err != nil {
		return nil, err
	}

	if err := checkEmpty(raw); err != nil {
		return nil, &ParseError{Tenant: opts.Tenant, Raw: ref, Err: err}
	}
	parsed, err := mime.Parse(raw, opts)
	if err != nil {
		return nil, &ParseError{Tenant: opts.Tenant, Raw: ref, Err: err}
	}
	if parsed == nil {
		return nil, &ParseError{Tenant: opts.Tenant, Raw: ref, Err: fmt.Errorf("mime.Parse returned no message and no error")}
	}

	email := parsed.Email
	if err := checkHeaders(&email, raw); err != nil {
		return nil, &ParseError{Tenant: opts.Tenant, Raw: ref, Err: err}
	}
	if err := checkParts(&email, parsed.Parts); err != nil {
		return nil, &ParseError{Tenant: opts.Tenant, Raw: ref, Err: err}
	}
	if err := storeAttachments(ctx, &email, parsed.Parts, store); err != nil {
		return nil, err
	}
	email.Raw = &ref
	truncateTexts(&email, ref.Key)
	return &email, nil
}

// storeRaw stores the raw MIME and returns its reference.
func storeRaw(ctx context.Context, raw []byte, store blobstore.Store) (schemas.BlobRef, error) {
	sum := blobstore.Sum(raw)
	ref := schemas.BlobRef{Key: blobstore.RawKey(sum), SHA256: sum, Size: int64(len(raw))}
	if err := store.Put(ctx, ref.Key, raw); err != nil {
		return schemas.BlobRef{}, fmt.Errorf("storing the raw message (%d bytes): %w", len(raw), err)
	}
	return ref, nil
}

// checkParts checks that parts matches the attachment metadata one to one,
// by count, size and digest. A mismatch means the parser broke its
// contract, so Prepare reports it as a ParseError and the message goes to
// the dead-letter topic rather than on with wrong metadata.
func checkParts(email *schemas.InboundEmail, parts [][]byte) error {
	if len(parts) != len(email.Attachments) {
		return fmt.Errorf("the parser returned %d attachment parts for %d attachments", len(parts), len(email.Attachments))
	}
	for i, part := range parts {
		a := email.Attachments[i]
		if a.Size != int64(len(part)) {
			return fmt.Errorf("attachment %d (part %s) has %d bytes but the parser reported %d", i, a.Part, len(part), a.Size)
		}
		if sum := blobstore.Sum(part); a.SHA256 != "" && a.SHA256 != sum {
			return fmt.Errorf("attachment %d (part %s) has SHA-256 %s but the parser reported %s", i, a.Part, sum, a.SHA256)
		}
	}
	return nil
}

// storeAttachments stores parts[i] under attachments/<sha256> and sets the
// SHA256 and StorageKey of email.Attachments[i]. It works on a copy of the
// slice, so the parser's value is left as it was.
func storeAttachments(ctx context.Context, email *schemas.InboundEmail, parts [][]byte, store blobstore.Store) error {
	attachments := make([]schemas.Attachment, len(email.Attachments))
	copy(attachments, email.Attachments)
	for i, part := range parts {
		a := &attachments[i]
		sum := blobstore.Sum(part)
		key := blobstore.AttachmentKey(sum)
		if err := store.Put(ctx, key, part); err != nil {
			return fmt.Errorf("storing attachment %d (part %s, %d bytes): %w", i, a.Part, len(part), err)
		}
		a.SHA256 = sum
		a.StorageKey = key
	}
	if len(attachments) > 0 {
		email.Attachments = attachments
	}
	return nil
}
