package blobstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Dir is a Store over a local folder: the object under key "a/b" is the
// file <root>/a/b. Writes go to a temporary file in the target folder that
// is synced and then renamed into place, so a reader never sees a partial
// object. Dir is safe for concurrent use, also by several processes sharing
// one folder.
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

// Put stores data under key. When key already exists, Put leaves it as it is
// and returns nil. For a content-addressed key (raw/<sha256>.eml or
// attachments/<sha256>), Put checks that data has that digest.
func (d *Dir) Put(ctx context.Context, key string, data []byte) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("storing %q: %w", key, err)
	}
	path, err := d.path(key)
	if err != nil {
		return err
	}
	if digest, ok := contentDigest(key); ok && digest != Sum(data) {
		return fmt.Errorf("storing %q: the data has SHA-256 %s, not the digest in the key; build the key from Sum(data)", key, Sum(data))
	}

	if _, err := os.Stat(path); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("storing %q: %w", key, err)
	}

	if err := writeAtomic(path, data); err != nil {
		return fmt.Errorf("storing %q: %w", key, err)
	}
	return nil
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

// path validates key and returns the file that holds its object.
func (d *Dir) path(key string) (string, error) {
	if err := ValidateKey(key); err != nil {
		return "", err
	}
	return filepath.Join(d.root, filepath.FromSlash(key)), nil
}

// writeAtomic writes data to a hidden temporary file beside path, syncs it
// and renames it to path. Key segments never start with '.', so the
// temporary name cannot collide with a key.
func writeAtomic(path string, data []byte) error {
	folder := filepath.Dir(path)
	if err := os.MkdirAll(folder, 0o755); err != nil {
		return fmt.Errorf("creating folder %s: %w", folder, err)
	}

	tmp, err := os.CreateTemp(folder, ".tmp-*")
	if err != nil {
		return fmt.Errorf("creating a temporary file in %s: %w", folder, err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName) // a no-op after the rename succeeded

	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", tmpName, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("syncing %s: %w", tmpName, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", tmpName, err)
	}
	if err := os.Chmod(tmpName, 0o644); err != nil {
		return fmt.Errorf("setting permissions of %s: %w", tmpName, err)
	}
	if err := os.Rename(tmpName, path); err != nil {
		return fmt.Errorf("renaming %s to %s: %w", tmpName, path, err)
	}
	return syncFolder(folder)
}

// syncFolder makes the rename in folder durable.
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
