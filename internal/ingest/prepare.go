// Package ingest turns one inbound message into the record that goes on the
// inbound topic. It parses the raw MIME once and stores the raw bytes and
// each attachment in object storage. For JSON payloads it streams the
// attachments from their download URLs into the same storage.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"mailtriage/connectors/blobstore"
	"mailtriage/internal/mime"
	"mailtriage/schemas"
)

// Prepare parses raw with mime.Parse, stores the raw bytes and each
// attachment and returns the parsed message with Raw and every
// attachment's StorageKey set. Text fields longer than MaxTextBytes are
// cut, with a warning each. A zero opts.ReceivedAt means now.
//
// Keys follow the layout of package blobstore: the raw bytes go to
// <tenant>/<yyyy>/<mm>/<dd>/<hashed message ID>/raw.eml and attachment i to
// .../attachments/<i>-<digest>, with the date of ReceivedAt in UTC. When
// raw.eml already contains other bytes with the same message ID, such as a
// copy of the message delivered to another recipient, these bytes go to
// raw-<digest>.eml beside it and a warning names both keys.
//
// A message that cannot be parsed is kept too: Prepare stores its raw bytes
// under <tenant>/<yyyy>/<mm>/<dd>/unparsed-<digest>/raw.eml and returns a
// *ParseError that carries their BlobRef, and DeadLetterFor turns it into a
// dead letter. Input that is not mail gets a ParseError too, whose cause
// matches mime.ErrNotMail: it is empty, only whitespace, or the parser
// found no header field in it. Any other error is a storage failure, which
// is worth retrying.
func Prepare(ctx context.Context, raw []byte, opts mime.Options, store blobstore.Store) (*schemas.InboundEmail, error) {
	if store == nil {
		return nil, fmt.Errorf("ingest.Prepare: object store is nil; pass a blobstore.Store such as blobstore.NewDir")
	}
	// The record and the storage keys take the date from the same instant.
	if opts.ReceivedAt.IsZero() {
		opts.ReceivedAt = time.Now().UTC()
	}

	parsed, cause := parse(raw, opts)
	if cause != nil {
		ref, err := storeUnparsed(ctx, raw, opts, store)
		if err != nil {
			return nil, err
		}
		return nil, &ParseError{Tenant: opts.Tenant, Raw: ref, Err: cause}
	}

	email := parsed.Email
	folder, err := blobstore.MessageFolder(email.Tenant, email.ReceivedAt, email.MessageID)
	if err != nil {
		return nil, fmt.Errorf("naming the storage folder of the message: %w", err)
	}
	ref, err := storeRaw(ctx, raw, folder, &email, store)
	if err != nil {
		return nil, err
	}
	if err := storeAttachments(ctx, &email, parsed.Parts, folder, store); err != nil {
		return nil, err
	}
	SetDownloadURLs(ctx, &email, store)
	email.Raw = &ref
	truncateTexts(&email, ref.Key)
	return &email, nil
}

// parse parses raw and checks the result. The error it returns is the cause
// of a ParseError.
func parse(raw []byte, opts mime.Options) (*mime.Parsed, error) {
	if err := checkEmpty(raw); err != nil {
		return nil, err
	}
	parsed, err := mime.Parse(raw, opts)
	if err != nil {
		return nil, err
	}
	if parsed == nil {
		return nil, fmt.Errorf("mime.Parse returned no message and no error")
	}
	if err := checkHeaders(&parsed.Email, raw); err != nil {
		return nil, err
	}
	if err := checkParts(&parsed.Email, parsed.Parts); err != nil {
		return nil, err
	}
	return parsed, nil
}

// storeUnparsed stores the raw bytes of a message that could not be parsed
// in a folder named by their digest and returns their reference.
func storeUnparsed(ctx context.Context, raw []byte, opts mime.Options, store blobstore.Store) (schemas.BlobRef, error) {
	sum := blobstore.Sum(raw)
	folder, err := blobstore.UnparsedFolder(opts.Tenant, opts.ReceivedAt, sum)
	if err != nil {
		return schemas.BlobRef{}, fmt.Errorf("naming the storage folder of the unparsable message: %w", err)
	}
	ref := schemas.BlobRef{Key: blobstore.RawKey(folder), SHA256: sum, Size: int64(len(raw))}
	if err := store.Put(ctx, ref.Key, raw); err != nil {
		return schemas.BlobRef{}, fmt.Errorf("storing the raw message (%d bytes): %w", len(raw), err)
	}
	return ref, nil
}

// storeRaw stores the raw MIME of a parsed message in folder and returns
// its reference. When raw.eml contains other bytes, it stores raw under
// RawCopyKey and adds a warning to email.
func storeRaw(ctx context.Context, raw []byte, folder string, email *schemas.InboundEmail, store blobstore.Store) (schemas.BlobRef, error) {
	sum := blobstore.Sum(raw)
	ref := schemas.BlobRef{Key: blobstore.RawKey(folder), SHA256: sum, Size: int64(len(raw))}

	err := store.Put(ctx, ref.Key, raw)
	if errors.Is(err, blobstore.ErrConflict) {
		taken := ref.Key
		ref.Key = blobstore.RawCopyKey(folder, sum)
		err = store.Put(ctx, ref.Key, raw)
		if err == nil {
			email.Warnings = append(email.Warnings, fmt.Sprintf(
				"another message with this Message-ID and different bytes is stored under %s; this copy is stored under %s", taken, ref.Key))
		}
	}
	if err != nil {
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

// storeAttachments stores parts[i] under AttachmentKey(folder, i, digest)
// and sets the SHA256 and StorageKey of email.Attachments[i]. It works on a
// copy of the slice, so the parser's value is left as it was.
func storeAttachments(ctx context.Context, email *schemas.InboundEmail, parts [][]byte, folder string, store blobstore.Store) error {
	attachments := make([]schemas.Attachment, len(email.Attachments))
	copy(attachments, email.Attachments)
	for i, part := range parts {
		a := &attachments[i]
		sum := blobstore.Sum(part)
		key := blobstore.AttachmentKey(folder, i, sum)
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
