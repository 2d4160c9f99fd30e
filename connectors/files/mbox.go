package files

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
)

// readMbox splits an mbox file into messages and emits each as path#N.
//
// A line starting with "From " begins a new message when it is the first
// line of the file or follows an empty line. That separator line is not
// part of the message. The empty line before a separator, and one at the
// end of the file, belong to the mbox framing and are dropped. In every
// other line, mboxrd quoting is undone: a line of one or more '>' followed
// by "From " loses one '>'.
//
// NOTE: an mboxo writer leaves "From " lines in bodies unquoted, so such a
// line right after an empty line splits the message in two. mboxrd and
// mboxcl writers quote them, which avoids this.
func (w *walker) readMbox(path string, r *bufio.Reader) error {
	var (
		number      int    // number of the message being read, from 1; 0 before the first separator
		message     []byte // the message being read; nil in count mode
		size        int    // bytes in the message being read
		atLineStart = true // the next chunk starts a new line
		prevBlank   = true // the previous line was empty
		inSeparator bool   // the current line is a separator, to be skipped
	)

	emit := func() error {
		name := fmt.Sprintf("%s#%d", path, number)
		if w.countOnly {
			return w.emit(Item{Name: name})
		}
		return w.emit(Item{Name: name, Raw: trimFramingBlankLine(message)})
	}

	for {
		// ReadSlice returns at most the buffer size at a time, so a long
		// line arrives in several chunks and never has to fit in memory
		// whole before the size check.
		chunk, err := r.ReadSlice('\n')
		if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
			return fmt.Errorf("reading mbox file %s: %w", path, err)
		}

		if len(chunk) > 0 {
			lineStart := atLineStart
			atLineStart = chunk[len(chunk)-1] == '\n'

			if lineStart {
				inSeparator = bytes.HasPrefix(chunk, []byte("From ")) && prevBlank
				prevBlank = isBlankLine(chunk)
			}

			switch {
			case lineStart && inSeparator:
				if number > 0 {
					if err := w.ctx.Err(); err != nil {
						return err
					}
					if err := emit(); err != nil {
						return err
					}
				}
				number++
				message, size = nil, 0
			case inSeparator:
				// The rest of a long separator line.
			default:
				if lineStart {
					chunk = unquoteFrom(chunk)
				}
				size += len(chunk)
				if size > MaxMessageSize {
					return tooLarge(fmt.Sprintf("%s#%d", path, number))
				}
				if !w.countOnly {
					message = append(message, chunk...)
				}
			}
		}

		if err == io.EOF {
			break
		}
	}

	if number == 0 {
		return nil
	}
	if err := w.ctx.Err(); err != nil {
		return err
	}
	return emit()
}

func isBlankLine(line []byte) bool {
	return string(line) == "\n" || string(line) == "\r\n"
}

// unquoteFrom removes one '>' from a line of the form >+"From ".
func unquoteFrom(line []byte) []byte {
	quoted := bytes.TrimLeft(line, ">")
	if len(quoted) < len(line) && bytes.HasPrefix(quoted, []byte("From ")) {
		return line[1:]
	}
	return line
}

// trimFramingBlankLine drops the one empty line that an mbox writer puts
// after each message.
func trimFramingBlankLine(message []byte) []byte {
	switch {
	case bytes.HasSuffix(message, []byte("\r\n\r\n")):
		return message[:len(message)-2]
	case bytes.HasSuffix(message, []byte("\n\n")):
		return message[:len(message)-1]
	}
	return message
}
