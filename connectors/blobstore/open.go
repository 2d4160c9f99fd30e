package blobstore

import (
	"context"
	"fmt"
	"strings"
)

// s3Scheme starts a storage location that names an S3 bucket.
const s3Scheme = "s3://"

// Open returns the store a command's --storage value names: "s3://BUCKET"
// for an S3 store configured from the MAILTRIAGE_S3_* variables (the
// bucket in the value wins over MAILTRIAGE_S3_BUCKET), anything else for a
// local folder. An S3 store is checked with a request for its bucket, so a
// wrong endpoint or missing bucket fails at start.
func Open(ctx context.Context, location string) (Store, error) {
	bucket, isS3 := strings.CutPrefix(location, s3Scheme)
	if !isS3 {
		return NewDir(location)
	}

	var cfg S3Config
	if err := cfg.FromEnv(); err != nil {
		return nil, err
	}
	if bucket = strings.TrimSuffix(bucket, "/"); bucket != "" {
		cfg.Bucket = bucket
	}
	if strings.Contains(cfg.Bucket, "/") {
		return nil, fmt.Errorf("invalid storage location %q: give s3://BUCKET without a path", location)
	}

	store, err := NewS3(cfg)
	if err != nil {
		return nil, err
	}
	if err := store.Check(ctx); err != nil {
		return nil, err
	}
	return store, nil
}
