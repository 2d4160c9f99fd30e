// Package files is the import source: it reads messages from single files,
// folders, mbox files and Maildirs on the local disk.
//
// Which files are imported:
//
//   - A path passed to Walk is always read, even when its name is hidden or
//     it is a README.
//   - Inside a folder, read recursively in lexical order, every regular file
//     is read except hidden entries (names starting with '.') and files
//     whose names start with README, LICENSE or COPYING in any case. The
//     content does not matter: a picture or a text file is imported like a
//     message, and the parser sends what is not mail to the dead-letter
//     topic with its raw bytes and the reason. Symbolic links to regular
//     files are followed, links to folders are not.
//   - A file whose first line starts with "From " is an mbox file. It is
//     split into one item per message, and mboxrd quoting (">From " in
//     bodies) is undone. Every other file is one message.
//   - A folder with cur, new and tmp subfolders is a Maildir: every regular
//     file in cur and then in new, except hidden ones, is one message.
package files

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// MaxMessageSize is the largest message, in bytes, that Walk reads into
// memory. A larger one stops the walk with an error that names it.
const MaxMessageSize = 64 << 20

// Item is one message read from disk.
type Item struct {
	// Name locates the message: the file path for a single message or a
	// Maildir file, and path#N for the Nth message of an mbox file,
	// counting from 1.
	Name string
	// Raw is the message as RFC 5322 bytes, without the mbox "From " line.
	Raw []byte
}

// Walk reads every message under paths, in order, and calls fn with each.
// It stops at the first error, from fn or from reading, and returns it;
// errors from fn are returned unchanged.
func Walk(ctx context.Context, paths []string, fn func(Item) error) error {
	if fn == nil {
		return errors.New("files.Walk: fn is nil; pass a function to receive each message")
	}
	w := &walker{ctx: ctx, emit: fn}
	return w.walkPaths(paths)
}

// Count returns how many messages Walk would pass to fn for paths. It
// reads mbox files through to count their messages but keeps no message in
// memory.
func Count(paths []string) (int, error) {
	n := 0
	w := &walker{
		ctx:       context.Background(),
		countOnly: true,
		emit: func(Item) error {
			n++
			return nil
		},
	}
	if err := w.walkPaths(paths); err != nil {
		return 0, err
	}
	return n, nil
}

// walker holds what one Walk or Count call shares.
type walker struct {
	ctx context.Context
	// countOnly skips reading message bytes: Item.Raw is nil.
	countOnly bool
	emit      func(Item) error
}

func (w *walker) walkPaths(paths []string) error {
	if len(paths) == 0 {
		return errors.New("no mail paths given; pass .eml files, folders, mbox files or Maildirs")
	}
	for _, path := range paths {
		if err := w.walkPath(path); err != nil {
			return err
		}
	}
	return nil
}

// walkPath reads one path given by the caller. Unlike entries found inside
// folders, it is read even when hidden or named like a README.
func (w *walker) walkPath(path string) error {
	if path == "" {
		return errors.New("empty mail path; pass a .eml file, a folder, an mbox file or a Maildir")
	}
	info, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("mail path %s does not exist; check the spelling and the working folder", path)
	}
	if err != nil {
		return fmt.Errorf("reading mail path %s: %w", path, err)
	}

	switch {
	case info.IsDir():
		return w.walkFolder(path)
	case info.Mode().IsRegular():
		return w.walkFile(path)
	default:
		return fmt.Errorf("mail path %s is a %s, not a regular file or a folder; pass a .eml file, a folder, an mbox file or a Maildir", path, info.Mode().Type())
	}
}

// walkFolder reads a Maildir, or else every entry of a folder in lexical
// order, recursing into subfolders.
func (w *walker) walkFolder(folder string) error {
	if isMaildir(folder) {
		return w.walkMaildir(folder)
	}

	entries, err := os.ReadDir(folder)
	if err != nil {
		return fmt.Errorf("listing folder %s: %w", folder, err)
	}
	for _, entry := range entries {
		if skipEntry(entry.Name(), entry.IsDir()) {
			continue
		}
		path := filepath.Join(folder, entry.Name())
		if err := w.walkEntry(path, entry); err != nil {
			return err
		}
	}
	return nil
}

// walkEntry reads one entry found inside a folder. Symbolic links to
// regular files are followed; links to folders are not, which rules out
// cycles.
func (w *walker) walkEntry(path string, entry fs.DirEntry) error {
	switch {
	case entry.IsDir():
		return w.walkFolder(path)
	case entry.Type().IsRegular():
		return w.walkFile(path)
	case entry.Type()&fs.ModeSymlink != 0:
		info, err := os.Stat(path)
		if err != nil || !info.Mode().IsRegular() {
			return nil
		}
		return w.walkFile(path)
	}
	return nil
}

// skippedPrefixes start, in lower case, the names of the documentation files
// that a folder walk leaves out: they come with mail collections and test
// corpora but are never mail.
var skippedPrefixes = []string{"readme", "license", "copying"}

// skipEntry reports whether a folder entry is hidden, or is a file named
// README*, LICENSE* or COPYING*. Folders with such names are read.
func skipEntry(name string, isDir bool) bool {
	if strings.HasPrefix(name, ".") {
		return true
	}
	if isDir {
		return false
	}
	lower := strings.ToLower(name)
	for _, prefix := range skippedPrefixes {
		if strings.HasPrefix(lower, prefix) {
			return true
		}
	}
	return false
}
