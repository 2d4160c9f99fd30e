// Package blobstore keeps the bytes that records only point at: the raw MIME
// of each inbound message and the bytes of its attachments. Records carry
// the key, SHA-256 and size of each object, never the bytes.
//
// Two stores implement Store: Dir, a local folder and the default, and S3,
// any S3-compatible object storage. layout.go defines the keys that
// mailtriage writes.
package blobstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"time"
)

// Errors returned, wrapped, by the stores.
var (
	// ErrNotFound is returned by Get when no object has the key.
	ErrNotFound = errors.New("blobstore: object not found")
	// ErrConflict is returned by Put and PutStream when an object with
	// other bytes already exists under the key. That object is left as it is.
	ErrConflict = errors.New("blobstore: an object with other bytes already exists under the key")
	// ErrPresignUnsupported is returned by PresignGet of a store that cannot
	// sign download URLs, such as Dir.
	ErrPresignUnsupported = errors.New("blobstore: this store cannot presign download URLs")
)

// Store is object storage addressed by slash-separated keys that pass
// ValidateKey. Objects are written once: putting a key again with the same
// bytes changes nothing and succeeds, and putting different bytes fails
// with ErrConflict, so a SHA-256 recorded for a key always matches the
// stored bytes. Implementations are safe for concurrent use.
type Store interface {
	// Put stores data under key.
	Put(ctx context.Context, key string, data []byte) error
	// PutStream stores the bytes of r, read up to io.EOF, under key and
	// returns their SHA-256 and size, computed while streaming. size is the
	// number of bytes r is expected to yield, or -1 when it is unknown. When
	// r yields another count, PutStream fails and stores nothing.
	PutStream(ctx context.Context, key string, r io.Reader, size int64) (ObjectInfo, error)
	// Get returns the bytes stored under key, or an error wrapping
	// ErrNotFound when there are none.
	Get(ctx context.Context, key string) ([]byte, error)
	// PresignGet returns a URL that downloads the object under key without
	// credentials until ttl has passed. It fails with an error wrapping
	// ErrPresignUnsupported when the store cannot sign URLs.
	PresignGet(ctx context.Context, key string, ttl time.Duration) (string, error)
}

// ObjectInfo describes a stored object. Its fields match schemas.BlobRef.
type ObjectInfo struct {
	Key    string
	SHA256 string // lower-case hex digest of the stored bytes
	Size   int64  // in bytes
}

// Sum returns the lower-case hex SHA-256 digest of data.
func Sum(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
