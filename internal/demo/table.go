package demo

import (
	"io"
	"strings"
	"unicode"

	"github.com/mattn/go-runewidth"
)

// columnGap is the number of spaces between two columns.
const columnGap = 2

// ellipsis marks where shortenEnd or shortenStart cut a value.
const ellipsis = "…"

// table lays out rows of cells in columns, each padded with spaces to the
// display width of its widest cell.
//
// text/tabwriter cannot align these rows: it counts a cell's width in
// runes, so a Japanese subject, two terminal columns per character, pushes
// the rest of its row out of line. Widths here come from go-runewidth,
// which follows Unicode East Asian Width (UAX #11) per grapheme cluster and
// counts ambiguous-width characters as wide only in a CJK locale, as the
// terminals of such locales show them.
//
// As in tabwriter, the last cell of a row is not padded and does not widen
// its column, so a long reason at the end of a short dead-letter row leaves
// the other rows as they are.
type table struct {
	rows [][]string
}

func (t *table) add(cells ...string) {
	t.rows = append(t.rows, cells)
}

// write prints the rows, one line each, without trailing spaces.
func (t *table) write(w io.Writer) error {
	var widths []int
	for _, row := range t.rows {
		for i, cell := range row[:len(row)-1] {
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], displayWidth(cell))
		}
	}

	var b strings.Builder
	for _, row := range t.rows {
		for i, cell := range row {
			b.WriteString(cell)
			if i < len(row)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-displayWidth(cell)+columnGap))
			}
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// displayWidth returns the number of terminal columns s takes.
func displayWidth(s string) int {
	return runewidth.StringWidth(s)
}

// oneLine makes s fit on one line of the table: runs of whitespace become
// one space, and other control characters, which terminals would act on
// or show with no width, become U+FFFD.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return unicode.ReplacementChar
		}
		return r
	}, s)
}

// shortenEnd returns s on one line, cut to at most width columns by
// keeping its start and marking the cut with an ellipsis.
func shortenEnd(s string, width int) string {
	return runewidth.Truncate(oneLine(s), width, ellipsis)
}

// shortenStart returns s on one line, cut to at most width columns by
// keeping its end, so that file names that share a long folder prefix stay
// apart. When the kept end contains a "/", the cut moves forward to it, so
// that the line shows whole path elements such as "…/attachment.eml".
func shortenStart(s string, width int) string {
	s = oneLine(s)
	over := displayWidth(s) - width
	if over <= 0 {
		return s
	}
	over += displayWidth(ellipsis)

	// TruncateLeft cuts over columns from the start. When that splits a
	// wide character, it pads with a space to keep the width exact.
	tail := strings.TrimPrefix(runewidth.TruncateLeft(s, over, ""), " ")
	if slash := strings.IndexByte(tail, '/'); slash >= 0 && slash < len(tail)-1 {
		tail = tail[slash:]
	}
	return ellipsis + tail
}
