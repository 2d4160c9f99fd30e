package blobstore

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	_ Store = (*Dir)(nil)
	_ Store = (*S3)(nil)
)

// testFolder is the message folder that the Dir tests store objects in.
const testFolder = "acme/2024/03/05/0123456789abcdef"

func newTestDir(t *testing.T) *Dir {
	t.Helper()
	d, err := NewDir(filepath.Join(t.TempDir(), "blobs"))
	if err != nil {
		t.Fatalf("NewDir: %v", err)
	}
	return d
}

// listFiles returns the paths of all files under root, relative to it.
func listFiles(t *testing.T, root string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		files = append(files, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatalf("walking %s: %v", root, err)
	}
	return files
}

func TestDirPutGetRoundTrip(t *testing.T) {
	ctx := context.Background()
	d := newTestDir(t)
	data := []byte("From: a@example.org\r\nSubject: hi\r\n\r\nbody\r\n")
	key := RawKey(testFolder)

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

	onDisk := filepath.Join(d.Root(), "acme", "2024", "03", "05", "0123456789abcdef", "raw.eml")
	if _, err := os.Stat(onDisk); err != nil {
		t.Errorf("object file %s: %v", onDisk, err)
	}
}

func TestDirPutSameBytesTwice(t *testing.T) {
	ctx := context.Background()
	d := newTestDir(t)
	key := "exports/report.csv"

	if err := d.Put(ctx, key, []byte("first")); err != nil {
		t.Fatalf("first Put: %v", err)
	}
	if err := d.Put(ctx, key, []byte("first")); err != nil {
		t.Errorf("second Put of the same bytes: %v, want nil", err)
	}
	if files := listFiles(t, d.Root()); len(files) != 1 {
		t.Errorf("storage folder contains %v, want only %s", files, key)
	}
}

func TestDirPutConflictKeepsObject(t *testing.T) {
	ctx := context.Background()
	d := newTestDir(t)
	key := "exports/report.csv"

	if err := d.Put(ctx, key, []byte("first")); err != nil {
		t.Fatalf("first Put: %v", err)
	}
	err := d.Put(ctx, key, []byte("second"))
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("Put of other bytes under %q: error %v, want ErrConflict", key, err)
	}
	if !strings.Contains(err.Error(), Sum([]byte("first"))) {
		t.Errorf("error %q does not name the digest of the stored object", err)
	}
	got, err := d.Get(ctx, key)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if string(got) != "first" {
		t.Errorf("Get after the conflicting Put = %q, want the first bytes %q", got, "first")
	}
}

func TestDirPutLeavesNoTemporaryFiles(t *testing.T) {
	ctx := context.Background()
	d := newTestDir(t)
	for i := range 5 {
		data := []byte(strings.Repeat("x", i+1))
		if err := d.Put(ctx, AttachmentKey(testFolder, i, Sum(data)), data); err != nil {
			t.Fatalf("Put %d: %v", i, err)
		}
	}
	// A failed stream must not leave its temporary file behind either.
	if _, err := d.PutStream(ctx, AttachmentKey(testFolder, 9, Sum(nil)), strings.NewReader("short"), 100); err == nil {
		t.Fatalf("PutStream with a size larger than the data succeeded, want an error")
	}

	files := listFiles(t, d.Root())
	if len(files) != 5 {
		t.Errorf("storage folder contains %d files, want 5: %v", len(files), files)
	}
	for _, f := range files {
		if strings.HasPrefix(filepath.Base(f), ".") {
			t.Errorf("temporary file %s left behind", f)
		}
	}
}

func TestDirConcurrentPutSameKey(t *testing.T) {
	ctx := context.Background()
	d := newTestDir(t)
	data := bytes.Repeat([]byte("attachment bytes "), 4096)
	key := AttachmentKey(testFolder, 0, Sum(data))

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

func TestDirConcurrentPutDifferentBytes(t *testing.T) {
	ctx := context.Background()
	d := newTestDir(t)
	key := RawKey(testFolder)

	var wg sync.WaitGroup
	results := make([]error, 8)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = d.Put(ctx, key, bytes.Repeat([]byte{byte('a' + i)}, 64<<10))
		}()
	}
	wg.Wait()

	winner := -1
	for i, err := range results {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("writers %d and %d both stored different bytes under one key", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, ErrConflict):
			t.Errorf("writer %d: error %v, want nil or ErrConflict", i, err)
		}
	}
	if winner < 0 {
		t.Fatalf("no writer succeeded")
	}
	got, err := d.Get(ctx, key)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if !bytes.Equal(got, bytes.Repeat([]byte{byte('a' + winner)}, 64<<10)) {
		t.Errorf("stored object is not the bytes of the writer that succeeded (%d)", winner)
	}
}

func TestDirPutStreamHashesWhileWriting(t *testing.T) {
	ctx := context.Background()
	d := newTestDir(t)
	data := bytes.Repeat([]byte("0123456789"), 100_000)

	for _, size := range []int64{int64(len(data)), -1} {
		key := AttachmentKey(testFolder, int(size&1), Sum(data))
		// io.MultiReader hides the methods of bytes.Reader, so the store
		// reads a plain stream.
		info, err := d.PutStream(ctx, key, io.MultiReader(bytes.NewReader(data)), size)
		if err != nil {
			t.Fatalf("PutStream with size %d: %v", size, err)
		}
		want := ObjectInfo{Key: key, SHA256: Sum(data), Size: int64(len(data))}
		if info != want {
			t.Errorf("PutStream with size %d = %+v, want %+v", size, info, want)
		}
		got, err := d.Get(ctx, key)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("Get(%q) returned %d bytes (error %v), want the %d bytes streamed", key, len(got), err, len(data))
		}
	}
}

func TestDirPutStreamSizeMismatch(t *testing.T) {
	ctx := context.Background()
	d := newTestDir(t)
	tests := []struct {
		name    string
		data    string
		size    int64
		wantErr string
	}{
		{"longer than size", "0123456789", 4, "more than the 4 bytes"},
		{"shorter than size", "0123", 10, "fewer than the 10"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := "exports/" + strings.ReplaceAll(tt.name, " ", "-")
			_, err := d.PutStream(ctx, key, strings.NewReader(tt.data), tt.size)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("PutStream = %v, want an error containing %q", err, tt.wantErr)
			}
			if _, err := d.Get(ctx, key); !errors.Is(err, ErrNotFound) {
				t.Errorf("Get after the failed PutStream: error %v, want ErrNotFound", err)
			}
		})
	}
}

func TestDirGetMissingKey(t *testing.T) {
	d := newTestDir(t)
	_, err := d.Get(context.Background(), AttachmentKey(testFolder, 0, Sum([]byte("never stored"))))
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("Get of a missing key: error %v, want one wrapping ErrNotFound", err)
	}
}

func TestDirPresignGetUnsupported(t *testing.T) {
	d := newTestDir(t)
	_, err := d.PresignGet(context.Background(), RawKey(testFolder), time.Minute)
	if !errors.Is(err, ErrPresignUnsupported) {
		t.Fatalf("PresignGet: error %v, want ErrPresignUnsupported", err)
	}
	if !strings.Contains(err.Error(), "S3") {
		t.Errorf("error %q does not say that presigning needs S3", err)
	}
}

func TestDirCanceledContext(t *testing.T) {
	d := newTestDir(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	data := []byte("x")
	key := AttachmentKey(testFolder, 0, Sum(data))

	if err := d.Put(ctx, key, data); !errors.Is(err, context.Canceled) {
		t.Errorf("Put with a canceled context: error %v, want context.Canceled", err)
	}
	if _, err := d.Get(ctx, key); !errors.Is(err, context.Canceled) {
		t.Errorf("Get with a canceled context: error %v, want context.Canceled", err)
	}
}

func TestValidateKey(t *testing.T) {
	tests := []struct {
		name    string
		key     string
		wantErr string // substring of the error; empty for a valid key
	}{
		{"raw key", RawKey(testFolder), ""},
		{"attachment key", AttachmentKey(testFolder, 3, Sum([]byte("x"))), ""},
		{"escaped tenant", "caf=C3=A9/2024/03/05/0123456789abcdef/raw.eml", ""},
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
		{"percent", "a%2Fb", `'%'`},
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
