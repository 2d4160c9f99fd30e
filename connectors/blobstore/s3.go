package blobstore

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/encrypt"
)

// Limits of PresignGet, set by the S3 signature version 4.
const (
	MinPresignTTL = time.Second
	MaxPresignTTL = 7 * 24 * time.Hour
)

// sha256MetadataKey is the user metadata entry, sent as x-amz-meta-sha256,
// that records the hex SHA-256 of every object S3 stores. The ETag cannot
// serve, because it is not a digest of the bytes under SSE-KMS.
const sha256MetadataKey = "sha256"

// S3 is a Store over a bucket of S3-compatible object storage, such as
// Amazon S3 or MinIO. Every upload requests server-side encryption and
// carries the SHA-256 of its bytes as user metadata. It is created only
// when the key is free (If-None-Match: *), so a key keeps its first bytes.
// S3 is safe for concurrent use.
type S3 struct {
	client  *minio.Client
	bucket  string
	sse     encrypt.ServerSide
	tempDir string
}

// NewS3 returns an S3 store for cfg. It reads the credential files but
// sends no request. Call Check to find out whether the bucket is reachable.
func NewS3(cfg S3Config) (*S3, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	accessKey, secretKey, err := cfg.credentials()
	if err != nil {
		return nil, err
	}

	sse := encrypt.NewSSE()
	if cfg.sse() == SSEKMS {
		sse, err = encrypt.NewSSEKMS(cfg.KMSKeyID, nil)
		if err != nil {
			return nil, fmt.Errorf("invalid S3 KMS key ID %q: %w", cfg.KMSKeyID, err)
		}
	}

	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:     credentials.NewStaticV4(accessKey, secretKey, ""),
		Secure:    !cfg.DisableTLS,
		Region:    cfg.region(),
		Transport: cfg.Transport,
	})
	if err != nil {
		return nil, fmt.Errorf("creating the S3 client for %s: %w", cfg, err)
	}

	tempDir := cfg.TempDir
	if tempDir == "" {
		tempDir = os.TempDir()
	}
	return &S3{client: client, bucket: cfg.Bucket, sse: sse, tempDir: tempDir}, nil
}

// Check returns an error when the bucket does not exist or cannot be
// reached with the configured credentials.
func (s *S3) Check(ctx context.Context) error {
	exists, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("checking S3 bucket %q at %s: %w", s.bucket, s.client.EndpointURL().Host, s.explain(err))
	}
	if !exists {
		return fmt.Errorf("S3 bucket %q not found at %s: create it or set %s to an existing bucket", s.bucket, s.client.EndpointURL().Host, EnvS3Bucket)
	}
	return nil
}

// Put stores data under key. It succeeds without writing when key already
// holds the same bytes and fails with ErrConflict when it contains others.
func (s *S3) Put(ctx context.Context, key string, data []byte) error {
	_, err := s.PutStream(ctx, key, bytes.NewReader(data), int64(len(data)))
	return err
}

// PutStream stores the bytes of r under key and returns their SHA-256 and
// size. size is the expected byte count, or -1 when unknown. The digest
// travels in a header ahead of the body, so r is read twice: directly when
// it can seek (an *os.File or a *bytes.Reader) and otherwise through a
// temporary file under TempDir.
func (s *S3) PutStream(ctx context.Context, key string, r io.Reader, size int64) (ObjectInfo, error) {
	if err := ValidateKey(key); err != nil {
		return ObjectInfo{}, err
	}
	body, info, cleanup, err := s.spool(ctx, r, size)
	defer cleanup()
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("storing %q: %w", key, err)
	}
	info.Key = key

	opts := minio.PutObjectOptions{
		ServerSideEncryption: s.sse,
		UserMetadata:         map[string]string{sha256MetadataKey: info.SHA256},
		// One PUT request, so that If-None-Match applies to the object.
		DisableMultipart: true,
	}
	opts.SetMatchETagExcept("*") // If-None-Match: *, create only

	_, err = s.client.PutObject(ctx, s.bucket, key, body, info.Size, opts)
	if minio.ToErrorResponse(err).StatusCode == http.StatusPreconditionFailed {
		return s.compareExisting(ctx, info)
	}
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("storing %q in S3 bucket %q: %w", key, s.bucket, s.explain(err))
	}
	return info, nil
}

// Get returns the bytes stored under key, or an error wrapping ErrNotFound.
func (s *S3) Get(ctx context.Context, key string) ([]byte, error) {
	if err := ValidateKey(key); err != nil {
		return nil, err
	}
	obj, err := s.client.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, s.readError(key, err)
	}
	defer obj.Close()

	data, err := io.ReadAll(obj)
	if err != nil {
		return nil, s.readError(key, err)
	}
	return data, nil
}

// PresignGet returns a URL that downloads the object under key with a GET
// request and no credentials until ttl has passed. ttl must be from
// MinPresignTTL to MaxPresignTTL. Signing sends no request, so the URL is
// returned also when no object has the key.
func (s *S3) PresignGet(ctx context.Context, key string, ttl time.Duration) (string, error) {
	if err := ValidateKey(key); err != nil {
		return "", err
	}
	if ttl < MinPresignTTL || ttl > MaxPresignTTL {
		return "", fmt.Errorf("invalid presigned URL lifetime %s for %q: use a value from %s to %s", ttl, key, MinPresignTTL, MaxPresignTTL)
	}
	u, err := s.client.PresignedGetObject(ctx, s.bucket, key, ttl, nil)
	if err != nil {
		return "", fmt.Errorf("presigning a download URL for %q in S3 bucket %q: %w", key, s.bucket, err)
	}
	return u.String(), nil
}

// spool hashes r and returns a reader over the same bytes for the upload,
// with their digest and size. The caller runs cleanup when the upload is
// over, also after an error.
func (s *S3) spool(ctx context.Context, r io.Reader, size int64) (io.Reader, ObjectInfo, func(), error) {
	noop := func() {}
	if rs, ok := r.(interface {
		io.ReaderAt
		io.Seeker
	}); ok {
		start, err := rs.Seek(0, io.SeekCurrent)
		if err != nil {
			return nil, ObjectInfo{}, noop, fmt.Errorf("finding the read position: %w", err)
		}
		info, err := copyHashed(ctx, io.Discard, io.NewSectionReader(rs, start, 1<<62), size)
		if err != nil {
			return nil, ObjectInfo{}, noop, err
		}
		return io.NewSectionReader(rs, start, info.Size), info, noop, nil
	}

	tmp, err := os.CreateTemp(s.tempDir, "mailtriage-s3-*")
	if err != nil {
		return nil, ObjectInfo{}, noop, fmt.Errorf("creating a temporary file in %s: %w", s.tempDir, err)
	}
	cleanup := func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}
	info, err := copyHashed(ctx, tmp, r, size)
	if err != nil {
		return nil, ObjectInfo{}, cleanup, fmt.Errorf("writing %s: %w", tmp.Name(), err)
	}
	return io.NewSectionReader(tmp, 0, info.Size), info, cleanup, nil
}

// compareExisting returns info when the object already stored under
// info.Key has the digest and size in info, and an error wrapping
// ErrConflict otherwise.
func (s *S3) compareExisting(ctx context.Context, info ObjectInfo) (ObjectInfo, error) {
	stat, err := s.client.StatObject(ctx, s.bucket, info.Key, minio.StatObjectOptions{})
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("storing %q: the key exists, and reading its metadata failed: %w", info.Key, s.explain(err))
	}
	stored := stat.Metadata.Get("X-Amz-Meta-" + sha256MetadataKey)
	if stored == info.SHA256 && stat.Size == info.Size {
		return info, nil
	}
	if stored == "" {
		stored = "unknown (no x-amz-meta-sha256)"
	}
	return ObjectInfo{}, fmt.Errorf("storing %q (SHA-256 %s, %d bytes): %w: the stored object has SHA-256 %s and %d bytes; store the new bytes under another key",
		info.Key, info.SHA256, info.Size, ErrConflict, stored, stat.Size)
}

// readError wraps an error of GetObject, mapping a missing key to
// ErrNotFound.
func (s *S3) readError(key string, err error) error {
	if minio.ToErrorResponse(err).Code == minio.NoSuchKey {
		return fmt.Errorf("reading %q from S3 bucket %q: %w", key, s.bucket, ErrNotFound)
	}
	return fmt.Errorf("reading %q from S3 bucket %q: %w", key, s.bucket, s.explain(err))
}

// explain puts the setting to fix in front of an error whose S3 error code
// the settings cause: credentials that the server rejects and a bucket that
// does not exist. Other errors are returned as they are.
func (s *S3) explain(err error) error {
	switch minio.ToErrorResponse(err).Code {
	case minio.InvalidAccessKeyID, minio.SignatureDoesNotMatch:
		return fmt.Errorf("the S3 server at %s rejected the credentials: set %s and %s (or %s and %s) to a valid key pair: %w",
			s.client.EndpointURL().Host, EnvS3AccessKey, EnvS3SecretKey, EnvS3AccessKeyFile, EnvS3SecretKeyFile, err)
	case minio.NoSuchBucket:
		return fmt.Errorf("S3 bucket %q not found at %s: create it or set %s to an existing bucket: %w",
			s.bucket, s.client.EndpointURL().Host, EnvS3Bucket, err)
	}
	return err
}
