package blobstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Dir is a Store over a local folder: the object under key "a/b" is the
// file <root>/a/b. PutStream writes to a temporary file in the target
// folder, hashing as it writes, and syncs it. It then links the file into
// place only when the key is free, so a reader never sees a partial object
// and a key never changes its bytes. Dir is safe for concurrent use, also
// by several processes sharing one folder.
type Dir struct {
	root string
}

// NewDir returns a Dir rooted at root, creating the folder when it does not
// exist.
func NewDir(root string) (*Dir, error) {
	if root == "" {
		return nil, fmt.Errorf("object storage folder is empty; pass the path of a folder to keep raw messages and attachments in")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("resolving object storage folder %q: %w", root, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("creating object storage folder %q: %w; check that the parent folder exists and is writable", abs, err)
	}
	return &Dir{root: abs}, nil
}

// Root returns the absolute path of the storage folder.
func (d *Dir) Root() string { return d.root }

// Put stores data under key. It succeeds without writing when key already
// holds the same bytes and fails with ErrConflict when it contains others.
func (d *Dir) Put(ctx context.Context, key string, data []byte) error {
	_, err := d.PutStream(ctx, key, bytes.NewReader(data), int64(len(data)))
	return err
}

// PutStream stores the bytes of r under key and returns their SHA-256 and
// size. size is the expected byte count, or -1 when unknown. It succeeds
// without changing the object when key already contains the same bytes and
// fails with ErrConflict when it contains others.
func (d *Dir) PutStream(ctx context.Context, key string, r io.Reader, size int64) (ObjectInfo, error) {
	if err := ctx.Err(); err != nil {
		return ObjectInfo{}, fmt.Errorf("storing %q: %w", key, err)
	}
	path, err := d.path(key)
	if err != nil {
		return ObjectInfo{}, err
	}
	folder := filepath.Dir(path)
	if err := os.MkdirAll(folder, 0o755); err != nil {
		return ObjectInfo{}, fmt.Errorf("storing %q: creating folder %s: %w", key, folder, err)
	}

	tmpName, info, err := writeTemp(ctx, folder, r, size)
	if tmpName != "" {
		defer os.Remove(tmpName) // also after a successful link or rename
	}
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("storing %q: %w", key, err)
	}
	info.Key = key

	if err := publish(tmpName, path); errors.Is(err, fs.ErrExist) {
		return compareExisting(path, info)
	} else if err != nil {
		return ObjectInfo{}, fmt.Errorf("storing %q: %w", key, err)
	}
	if err := syncFolder(folder); err != nil {
		return ObjectInfo{}, fmt.Errorf("storing %q: %w", key, err)
	}
	return info, nil
}

// Get returns the bytes stored under key, or an error wrapping ErrNotFound.
func (d *Dir) Get(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("reading %q: %w", key, err)
	}
	path, err := d.path(key)
	if err != nil {
		return nil, err
	}

	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("reading %q from %s: %w", key, d.root, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("reading %q: %w", key, err)
	}
	return data, nil
}

// PresignGet always fails with an error wrapping ErrPresignUnsupported,
// because a local folder has no server to sign URLs for.
func (d *Dir) PresignGet(ctx context.Context, key string, ttl time.Duration) (string, error) {
	return "", fmt.Errorf("presigning a download URL for %q: %w: presigned URLs need S3-compatible storage, so configure an S3 store in place of the local folder %s", key, ErrPresignUnsupported, d.root)
}

// path validates key and returns the file that contains its object.
func (d *Dir) path(key string) (string, error) {
	if err := ValidateKey(key); err != nil {
		return "", err
	}
	return filepath.Join(d.root, filepath.FromSlash(key)), nil
}

// writeTemp copies r into a new hidden temporary file in folder, syncs it
// and returns its name and the digest and size of what it wrote. Key
// segments never start with '.', so the temporary name cannot collide with
// a key. The name is returned also on error, for the caller to remove.
func writeTemp(ctx context.Context, folder string, r io.Reader, size int64) (string, ObjectInfo, error) {
	tmp, err := os.CreateTemp(folder, ".tmp-*")
	if err != nil {
		return "", ObjectInfo{}, fmt.Errorf("creating a temporary file in %s: %w", folder, err)
	}
	tmpName := tmp.Name()

	info, err := copyHashed(ctx, tmp, r, size)
	if err != nil {
		tmp.Close()
		return tmpName, ObjectInfo{}, fmt.Errorf("writing %s: %w", tmpName, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return tmpName, ObjectInfo{}, fmt.Errorf("syncing %s: %w", tmpName, err)
	}
	if err := tmp.Close(); err != nil {
		return tmpName, ObjectInfo{}, fmt.Errorf("closing %s: %w", tmpName, err)
	}
	if err := os.Chmod(tmpName, 0o644); err != nil {
		return tmpName, ObjectInfo{}, fmt.Errorf("setting permissions of %s: %w", tmpName, err)
	}
	return tmpName, info, nil
}

// publish gives the temporary file tmpName the name path unless path
// exists, in which case it returns an error wrapping fs.ErrExist. A hard
// link makes the check and the naming one atomic step.
func publish(tmpName, path string) error {
	err := os.Link(tmpName, path)
	if err == nil || errors.Is(err, fs.ErrExist) {
		return err
	}

	// NOTE: on a file system without hard links, the check and the rename
	// are two steps, so two writers racing on one key with different bytes
	// can both succeed and the later one wins.
	if _, statErr := os.Lstat(path); statErr == nil {
		return fs.ErrExist
	}
	if err := os.Rename(tmpName, path); err != nil {
		return fmt.Errorf("renaming %s to %s: %w", tmpName, path, err)
	}
	return nil
}

// compareExisting returns info when the file at path has the digest and
// size in info, and an error wrapping ErrConflict otherwise.
func compareExisting(path string, info ObjectInfo) (ObjectInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("storing %q: reading the object already stored: %w", info.Key, err)
	}
	defer f.Close()

	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("storing %q: reading the object already stored: %w", info.Key, err)
	}
	stored := hex.EncodeToString(h.Sum(nil))
	if stored != info.SHA256 || n != info.Size {
		return ObjectInfo{}, fmt.Errorf("storing %q (SHA-256 %s, %d bytes): %w: the stored object has SHA-256 %s and %d bytes; store the new bytes under another key",
			info.Key, info.SHA256, info.Size, ErrConflict, stored, n)
	}
	return info, nil
}

// syncFolder makes a new name in folder durable.
func syncFolder(folder string) error {
	f, err := os.Open(folder)
	if err != nil {
		return fmt.Errorf("opening folder %s to sync it: %w", folder, err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("syncing folder %s: %w", folder, err)
	}
	return nil
}
