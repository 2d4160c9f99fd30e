package files

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// isMaildir reports whether folder has the cur, new and tmp subfolders of a
// Maildir.
func isMaildir(folder string) bool {
	for _, sub := range []string{"cur", "new", "tmp"} {
		info, err := os.Stat(filepath.Join(folder, sub))
		if err != nil || !info.IsDir() {
			return false
		}
	}
	return true
}

// walkMaildir emits every regular file in cur and then in new, each in
// lexical order, skipping hidden names. By the Maildir contract each such
// file is one message, even one that starts with "From ". tmp holds
// deliveries still in progress and is not read. Maildir++ subfolders start
// with '.' and are skipped like other hidden entries; pass one as a path of
// its own to read it.
func (w *walker) walkMaildir(folder string) error {
	for _, sub := range []string{"cur", "new"} {
		dir := filepath.Join(folder, sub)
		entries, err := os.ReadDir(dir)
		if err != nil {
			return fmt.Errorf("listing Maildir folder %s: %w", dir, err)
		}
		for _, entry := range entries {
			if strings.HasPrefix(entry.Name(), ".") {
				continue
			}
			path := filepath.Join(dir, entry.Name())
			info, err := os.Stat(path)
			if err != nil || !info.Mode().IsRegular() {
				continue
			}
			if err := w.readMaildirFile(path); err != nil {
				return err
			}
		}
	}
	return nil
}

func (w *walker) readMaildirFile(path string) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("opening Maildir message %s: %w", path, err)
	}
	defer f.Close()
	return w.readSingle(path, f, f)
}
