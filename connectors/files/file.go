package files

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
)

// mboxSeparator starts the first line of an mbox file.
const mboxSeparator = "From "

// walkFile reads one regular file: an mbox file is split into its
// messages, and any other file is one message, whatever it contains.
// Whether that content is mail is for the parser to decide, so that a file
// which is not mail still reaches the dead-letter topic with the reason.
func (w *walker) walkFile(path string) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("opening %s: %w", path, err)
	}
	defer f.Close()

	r := bufio.NewReaderSize(f, 64<<10)
	head, err := r.Peek(len(mboxSeparator))
	if err != nil && err != io.EOF {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	if bytes.Equal(head, []byte(mboxSeparator)) {
		return w.readMbox(path, r)
	}
	return w.readSingle(path, r, f)
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
