package blobstore

import (
	"context"
	"strings"
	"testing"
)

func TestOpenLocalFolder(t *testing.T) {
	store, err := Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := store.(*Dir); !ok {
		t.Errorf("Open of a folder returned %T, want *Dir", store)
	}
}

func TestOpenS3WithoutEndpoint(t *testing.T) {
	t.Setenv(EnvS3Endpoint, "")
	_, err := Open(context.Background(), "s3://mail-archive")
	if err == nil || !strings.Contains(err.Error(), EnvS3Endpoint) {
		t.Errorf("Open(s3://mail-archive) without an endpoint: err = %v, want one naming %s", err, EnvS3Endpoint)
	}
}

func TestOpenS3RejectsPath(t *testing.T) {
	t.Setenv(EnvS3Endpoint, "127.0.0.1:9")
	_, err := Open(context.Background(), "s3://bucket/prefix")
	if err == nil || !strings.Contains(err.Error(), "without a path") {
		t.Errorf("Open(s3://bucket/prefix): err = %v, want one rejecting the path", err)
	}
}
