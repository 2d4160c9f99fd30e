// Package blobstore keeps the bytes that records only point at: the raw MIME
// of each inbound message and the decoded bytes of its attachments. Keys are
// content-addressed, so storing the same bytes twice writes them once.
package blobstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
)

// Key prefixes of the two kinds of object that mailtriage stores.
const (
	rawPrefix        = "raw/"
	rawSuffix        = ".eml"
	attachmentPrefix = "attachments/"
)

// ErrNotFound is returned, wrapped, by Get when no object has the key.
var ErrNotFound = errors.New("blobstore: object not found")

// Store is object storage addressed by slash-separated keys such as
// "raw/<sha256 hex>.eml". Implementations are safe for concurrent use.
type Store interface {
	// Put stores data under key. Putting a key that already exists leaves
	// the stored object as it is and returns nil, because keys are
	// content-addressed and the bytes are the same.
	Put(ctx context.Context, key string, data []byte) error
	// Get returns the bytes stored under key, or an error wrapping
	// ErrNotFound when there are none.
	Get(ctx context.Context, key string) ([]byte, error)
}

// Sum returns the lower-case hex SHA-256 digest of data.
func Sum(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// RawKey returns the key of a raw MIME message with the given hex SHA-256
// digest: raw/<sha256>.eml.
func RawKey(sha256Hex string) string {
	return rawPrefix + sha256Hex + rawSuffix
}

// AttachmentKey returns the key of decoded attachment bytes with the given
// hex SHA-256 digest: attachments/<sha256>.
func AttachmentKey(sha256Hex string) string {
	return attachmentPrefix + sha256Hex
}
