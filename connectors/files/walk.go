// Package files is the import source: it reads messages from single files,
// folders, mbox files and Maildirs on the local disk.
//
// Which files are messages:
//
//   - A file whose first line starts with "From " is an mbox file. It is split
//     into one item per message, and mboxrd quoting (">From " in bodies) is
//     undone.
//   - A file named *.eml is one message, whatever it contains, so that a
//     broken message still reaches the dead-letter topic with its raw bytes.
//   - Any other file is one message when its first line is a header field: a
//     name of printable ASCII without spaces, then a colon. Other files are
//     skipped inside folders and rejected when passed as a path.
//   - A folder with cur, new and tmp subfolders is a Maildir: every regular
//     file in cur and then in new is one message.
//
// Folders are read recursively in lexical order. Inside them, hidden entries
// (names starting with '.') and files named README* in any case are
// skipped. A path passed to Walk is read even when its name is hidden.
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
// folders, it is read even when hidden, and a file that is not a message is
// an error.
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
		return w.walkFile(path, true)
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
		if skipEntry(entry.Name()) {
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
		return w.walkFile(path, false)
	case entry.Type()&fs.ModeSymlink != 0:
		info, err := os.Stat(path)
		if err != nil || !info.Mode().IsRegular() {
			return nil
		}
		return w.walkFile(path, false)
	}
	return nil
}

// skipEntry reports whether a folder entry is hidden or a README.
func skipEntry(name string) bool {
	return strings.HasPrefix(name, ".") || strings.HasPrefix(strings.ToLower(name), "readme")
}
