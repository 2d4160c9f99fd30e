package blobstore

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var _ Store = (*Dir)(nil)

func newTestDir(t *testing.T) *Dir {
	t.Helper()
	d, err := NewDir(filepath.Join(t.TempDir(), "blobs"))
	if err != nil {
		t.Fatalf("NewDir: %v", err)
	}
	return d
}

func TestDirPutGetRoundTrip(t *testing.T) {
	ctx := context.Background()
	d := newTestDir(t)
	data := []byte("From: a@example.org\r\nSubject: hi\r\n\r\nbody\r\n")
	key := RawKey(Sum(data))

	if err := d.Put(ctx, key, data); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
	got, err := d.Get(ctx, key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("Get(%q) = %q, want %q", key, got, data)
	}

	onDisk := filepath.Join(d.Root(), "raw", Sum(data)+".eml")
	if _, err := os.Stat(onDisk); err != nil {
		t.Errorf("object file %s: %v", onDisk, err)
	}
}

func TestDirPutExistingKeyKeepsObject(t *testing.T) {
	ctx := context.Background()
	d := newTestDir(t)
	key := "exports/report.csv"

	if err := d.Put(ctx, key, []byte("first")); err != nil {
		t.Fatalf("first Put: %v", err)
	}
	if err := d.Put(ctx, key, []byte("second")); err != nil {
		t.Fatalf("second Put: %v", err)
	}
	got, err := d.Get(ctx, key)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if string(got) != "first" {
		t.Errorf("Get after second Put = %q, want the first bytes %q", got, "first")
	}
}

func TestDirPutLeavesNoTemporaryFiles(t *testing.T) {
	ctx := context.Background()
	d := newTestDir(t)
	for i := range 5 {
		data := []byte(strings.Repeat("x", i+1))
		if err := d.Put(ctx, AttachmentKey(Sum(data)), data); err != nil {
			t.Fatalf("Put %d: %v", i, err)
		}
	}

	entries, err := os.ReadDir(filepath.Join(d.Root(), "attachments"))
	if err != nil {
		t.Fatalf("ReadDir: %v", err)
	}
	if len(entries) != 5 {
		t.Errorf("attachments folder has %d entries, want 5", len(entries))
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

func TestDirConcurrentPutSameKey(t *testing.T) {
	ctx := context.Background()
	d := newTestDir(t)
	data := bytes.Repeat([]byte("attachment bytes "), 4096)
	key := AttachmentKey(Sum(data))

	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- d.Put(ctx, key, data)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent Put: %v", err)
		}
	}

	got, err := d.Get(ctx, key)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("Get returned %d bytes, want the %d bytes put", len(got), len(data))
	}
}

func TestDirGetMissingKey(t *testing.T) {
	d := newTestDir(t)
	_, err := d.Get(context.Background(), AttachmentKey(Sum([]byte("never stored"))))
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("Get of a missing key: error %v, want one wrapping ErrNotFound", err)
	}
}

func TestDirPutDigestMismatch(t *testing.T) {
	d := newTestDir(t)
	key := RawKey(Sum([]byte("other bytes")))
	err := d.Put(context.Background(), key, []byte("these bytes"))
	if err == nil {
		t.Fatalf("Put with a key of another digest succeeded, want an error")
	}
	if !strings.Contains(err.Error(), Sum([]byte("these bytes"))) {
		t.Errorf("error %q does not name the digest of the data", err)
	}
}

func TestDirCanceledContext(t *testing.T) {
	d := newTestDir(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	data := []byte("x")

	if err := d.Put(ctx, AttachmentKey(Sum(data)), data); !errors.Is(err, context.Canceled) {
		t.Errorf("Put with a canceled context: error %v, want context.Canceled", err)
	}
	if _, err := d.Get(ctx, AttachmentKey(Sum(data))); !errors.Is(err, context.Canceled) {
		t.Errorf("Get with a canceled context: error %v, want context.Canceled", err)
	}
}

func TestValidateKey(t *testing.T) {
	digest := Sum([]byte("x"))
	tests := []struct {
		name    string
		key     string
		wantErr string // substring of the error; empty for a valid key
	}{
		{"raw key", RawKey(digest), ""},
		{"attachment key", AttachmentKey(digest), ""},
		{"other nested key", "exports/2024/report-1_a.csv", ""},
		{"empty", "", "empty"},
		{"parent segment", "raw/../../etc/passwd", `".."`},
		{"parent only", "..", `".."`},
		{"current segment", "./raw", `"."`},
		{"absolute", "/etc/passwd", "empty path segment"},
		{"trailing slash", "raw/", "empty path segment"},
		{"doubled slash", "raw//x", "empty path segment"},
		{"hidden segment", "attachments/.tmp-1", `".tmp-1"`},
		{"backslash", `raw\..\x`, `'\\'`},
		{"space", "my file", `' '`},
		{"non-ascii", "rechnung-ä", `'ä'`},
		{"raw without suffix", "raw/" + digest, "raw/<sha256>.eml"},
		{"raw short digest", "raw/abc.eml", "raw/<sha256>.eml"},
		{"attachment upper-case digest", "attachments/" + strings.ToUpper(digest), "lower-case hex"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateKey(tt.key)
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("ValidateKey(%q) = %v, want nil", tt.key, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("ValidateKey(%q) = nil, want an error containing %q", tt.key, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ValidateKey(%q) = %q, want it to contain %q", tt.key, err, tt.wantErr)
			}
		})
	}
}

func TestDirRejectsTraversal(t *testing.T) {
	ctx := context.Background()
	parent := t.TempDir()
	d, err := NewDir(filepath.Join(parent, "blobs"))
	if err != nil {
		t.Fatalf("NewDir: %v", err)
	}

	if err := d.Put(ctx, "../escaped", []byte("x")); err == nil {
		t.Errorf("Put(%q) succeeded, want an invalid key error", "../escaped")
	}
	if _, err := os.Stat(filepath.Join(parent, "escaped")); err == nil {
		t.Errorf("Put wrote %s outside the storage folder", filepath.Join(parent, "escaped"))
	}
	if _, err := d.Get(ctx, "../../etc/passwd"); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("Get(%q) = %v, want an invalid key error", "../../etc/passwd", err)
	}
}

func TestNewDirEmptyRoot(t *testing.T) {
	if _, err := NewDir(""); err == nil {
		t.Errorf("NewDir(\"\") succeeded, want an error naming the missing folder")
	}
}
