package files

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// sniffSize is how many leading bytes decide what a file is: one header
// line of at most 998 characters plus CRLF, as RFC 5322 allows.
const sniffSize = 1000

// kind is the type of a file, decided from its name and leading bytes.
type kind int

const (
	notMessage kind = iota
	singleMessage
	mbox
)

// walkFile reads one regular file. explicit is true when the caller named
// the file, so that a file which is not a message is an error rather than
// skipped.
func (w *walker) walkFile(path string, explicit bool) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("opening %s: %w", path, err)
	}
	defer f.Close()

	r := bufio.NewReaderSize(f, 64<<10)
	head, err := r.Peek(sniffSize)
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		return fmt.Errorf("reading %s: %w", path, err)
	}

	switch detect(path, head) {
	case mbox:
		return w.readMbox(path, r)
	case singleMessage:
		return w.readSingle(path, r, f)
	}
	if !explicit {
		return nil
	}
	if len(head) == 0 {
		return fmt.Errorf("%s is empty; pass a file that contains a message, or rename it to .eml to import it anyway", path)
	}
	return fmt.Errorf(`%s is not a message: its first line is neither a header field ("Name: value") nor an mbox "From " line; pass an RFC 5322 message, an mbox file or a Maildir, or rename it to .eml to import it anyway`, path)
}

// detect classifies a file by its name and leading bytes.
func detect(path string, head []byte) kind {
	switch {
	case bytes.HasPrefix(head, []byte("From ")):
		return mbox
	case strings.EqualFold(filepath.Ext(path), ".eml"):
		return singleMessage
	case startsWithHeaderField(head):
		return singleMessage
	}
	return notMessage
}

// startsWithHeaderField reports whether head begins with a header field
// name (printable US-ASCII except colon, RFC 5322 section 3.6.8) followed
// by a colon.
func startsWithHeaderField(head []byte) bool {
	for i, c := range head {
		if c == ':' {
			return i > 0
		}
		if c < 33 || c > 126 {
			return false
		}
	}
	return false
}

// readSingle emits the whole of r, the content of file f, as one message.
// In count mode it reads only the file size, to apply the same limit.
func (w *walker) readSingle(path string, r io.Reader, f *os.File) error {
	if w.countOnly {
		info, err := f.Stat()
		if err != nil {
			return fmt.Errorf("reading the size of %s: %w", path, err)
		}
		if info.Size() > MaxMessageSize {
			return tooLarge(path)
		}
		return w.emit(Item{Name: path})
	}
	raw, err := io.ReadAll(io.LimitReader(r, MaxMessageSize+1))
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	if len(raw) > MaxMessageSize {
		return tooLarge(path)
	}
	return w.emit(Item{Name: path, Raw: raw})
}

func tooLarge(name string) error {
	return fmt.Errorf("message %s is larger than the %d MiB limit of the file import; remove it from the import or split it", name, MaxMessageSize>>20)
}
