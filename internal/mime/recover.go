package mime

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
)

// message is a raw message split into its top-level header block and body,
// after the repairs that enmime cannot make itself.
type message struct {
	Fields   fields
	Body     []byte
	Warnings []string
}

// splitMessage reads the top-level header block of raw. It strips a leading
// mbox "From " line and joins folded lines. A line without a colon continues
// the field before it, unless the body evidently starts there without the
// blank line that should precede it.
func splitMessage(raw []byte) message {
	var msg message
	raw = bytes.TrimPrefix(raw, []byte("\xef\xbb\xbf"))
	raw, stripped := stripMboxFromLine(raw)
	if stripped {
		msg.Warnings = append(msg.Warnings, `leading mbox "From " line removed`)
	}

	// folded collects the continuation lines of the last field, each after
	// a space, until flush appends them to its value. Appending to the
	// value line by line would copy it again for every line.
	var folded []byte
	fold := func(text string) {
		folded = append(folded, ' ')
		folded = append(folded, strings.TrimSpace(text)...)
	}
	flush := func() {
		if len(folded) > 0 {
			msg.Fields[len(msg.Fields)-1].Value += string(folded)
			folded = folded[:0]
		}
	}

	rest := raw
	for len(rest) > 0 {
		line, next := cutLine(rest)
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			flush()
			msg.Body = next
			return msg
		}
		text := strings.TrimRight(string(line), "\r\n")
		if (text[0] == ' ' || text[0] == '\t') && len(msg.Fields) > 0 {
			fold(text)
			rest = next
			continue
		}

		flush()
		switch {
		case fieldName(text) != "":
			name := fieldName(text)
			value := text[strings.IndexByte(text, ':')+1:]
			msg.Fields = append(msg.Fields, field{Name: name, Value: strings.TrimSpace(value)})
		case len(msg.Fields) == 0 || bodyStartsHere(rest, msg.Fields):
			msg.Warnings = append(msg.Warnings, "no blank line between header and body; body starts at the first line that is not a header field")
			msg.Body = rest
			return msg
		default:
			msg.Warnings = append(msg.Warnings, fmt.Sprintf("header line without a colon after %s joined to that field", msg.Fields[len(msg.Fields)-1].Name))
			fold(text)
		}
		rest = next
	}
	flush()
	return msg
}

// skipLeadingWhitespace drops blank lines and indentation before the first
// header field of a message, which some exporters write. Without it the
// whole message would read as a body with no header. Input whose first
// non-blank line is not a header field is returned unchanged.
func skipLeadingWhitespace(raw []byte) ([]byte, bool) {
	trimmed := bytes.TrimLeft(raw, " \t\r\n")
	if len(trimmed) == len(raw) {
		return raw, false
	}
	line, _ := cutLine(trimmed)
	if fieldName(strings.TrimRight(string(line), "\r\n")) == "" {
		return raw, false
	}
	return trimmed, true
}

// stripMboxFromLine removes the "From sender date" separator line that
// mbox files put before each message.
func stripMboxFromLine(raw []byte) ([]byte, bool) {
	if !bytes.HasPrefix(raw, []byte("From ")) {
		return raw, false
	}
	_, rest := cutLine(raw)
	return rest, true
}

// cutLine returns the first line of b with its line ending, and the rest.
func cutLine(b []byte) ([]byte, []byte) {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i+1], b[i+1:]
	}
	return b, nil
}

// fieldName returns the name of a header field line, or "" when the line is
// not one. Spaces before the colon are tolerated and trimmed.
func fieldName(line string) string {
	colon := strings.IndexByte(line, ':')
	if colon <= 0 {
		return ""
	}
	name := strings.TrimRight(line[:colon], " \t")
	if name == "" {
		return ""
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c >= 0x7f {
			return ""
		}
	}
	return name
}

// bodyStartsHere reports whether the header block ends at rest although no
// blank line precedes it: a boundary delimiter of the declared multipart
// boundary follows before any blank line.
func bodyStartsHere(rest []byte, fs fields) bool {
	boundary := boundaryParam(fs.get("Content-Type"))
	if boundary == "" {
		return false
	}
	delimiter := "--" + boundary
	for len(rest) > 0 {
		line, next := cutLine(rest)
		text := strings.TrimRight(string(line), "\r\n \t")
		if text == "" {
			return false
		}
		if strings.HasPrefix(text, delimiter) {
			return true
		}
		rest = next
	}
	return false
}

// boundaryPattern finds a boundary parameter, quoted or not, in a
// Content-Type value whose other parameters may be malformed.
var boundaryPattern = regexp.MustCompile(`(?i)boundary\s*=\s*("[^"]*"?|'[^']*'?|[^;\s]+)`)

// boundaryPatternAt is boundaryPattern anchored at the start of the input.
var boundaryPatternAt = regexp.MustCompile(`^(?:` + boundaryPattern.String() + `)`)

// boundaryParamsIn returns the value (group 1 of boundaryPattern) of every
// boundary parameter in content, as boundaryPattern.FindAllSubmatch does
// but without running the regular expression over every byte of a large
// body. Every match starts with the word "boundary" in any case, and no
// non-ASCII letter case-folds to one of its letters, so the expression only
// runs, anchored, where an ASCII case-insensitive search finds that word.
func boundaryParamsIn(content []byte) [][]byte {
	const word = "boundary"
	var values [][]byte
	for pos := 0; pos < len(content); {
		i := indexFoldASCII(content[pos:], word)
		if i < 0 {
			break
		}
		start := pos + i
		loc := boundaryPatternAt.FindSubmatchIndex(content[start:])
		if loc == nil {
			pos = start + 1
			continue
		}
		values = append(values, content[start+loc[2]:start+loc[3]])
		pos = start + loc[1]
	}
	return values
}

// indexFoldASCII returns the index of the first occurrence of the lower-case
// ASCII word in b, matched without regard to ASCII case, or -1.
func indexFoldASCII(b []byte, word string) int {
	lower, upper := word[0], word[0]-'a'+'A'
	nextLower, nextUpper := -1, -1 // next position of each form at or after i
	for i := 0; i+len(word) <= len(b); i++ {
		if nextLower < i {
			nextLower = indexByteFrom(b, lower, i)
		}
		if nextUpper < i {
			nextUpper = indexByteFrom(b, upper, i)
		}
		i = min(nextLower, nextUpper)
		if i < 0 || i+len(word) > len(b) {
			return -1
		}
		if equalFoldASCII(b[i:i+len(word)], word) {
			return i
		}
	}
	return -1
}

// indexByteFrom returns the index of the first c in b at or after from, or
// len(b) when there is none, so that min picks the other form.
func indexByteFrom(b []byte, c byte, from int) int {
	if i := bytes.IndexByte(b[from:], c); i >= 0 {
		return from + i
	}
	return len(b)
}

// equalFoldASCII reports whether b equals the lower-case ASCII word when
// ASCII letters in b are lowered.
func equalFoldASCII(b []byte, word string) bool {
	for i := range len(word) {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != word[i] {
			return false
		}
	}
	return true
}

// boundaryParam returns the boundary parameter of a Content-Type value with
// quotes (also doubled or single quotes) removed, or "".
func boundaryParam(contentType string) string {
	m := boundaryPattern.FindStringSubmatch(contentType)
	if m == nil {
		return ""
	}
	return strings.Trim(m[1], `"' `)
}

// delimiterLine matches a line that may be a multipart delimiter.
var delimiterLine = regexp.MustCompile(`(?m)^--([^\s]{1,70}?)(--)?[ \t]*\r?$`)

// findBoundary returns the boundary that body actually uses. declared is
// the boundary from the Content-Type header, possibly empty or mangled by
// folding or quoting. It returns "" when the body has no delimiter line.
func findBoundary(body []byte, declared string) string {
	if declared != "" && hasDelimiter(body, declared) {
		return declared
	}

	counts := map[string]int{}
	var order []string
	for _, m := range delimiterLine.FindAllSubmatch(body, -1) {
		candidate := string(m[1])
		if counts[candidate] == 0 {
			order = append(order, candidate)
		}
		counts[candidate]++
	}

	squeezed := strings.Join(strings.Fields(declared), "")
	for _, candidate := range order {
		if squeezed != "" && candidate == squeezed {
			return candidate
		}
	}
	for _, candidate := range order {
		if counts[candidate] >= 2 || counts[candidate+"--"] > 0 {
			return candidate
		}
	}
	if len(order) > 0 {
		return order[0]
	}
	return ""
}

// hasDelimiter reports whether a line of body starts with "--" + boundary.
func hasDelimiter(body []byte, boundary string) bool {
	delimiter := []byte("--" + boundary)
	for rest := body; len(rest) > 0; {
		line, next := cutLine(rest)
		if bytes.HasPrefix(line, delimiter) {
			return true
		}
		rest = next
	}
	return false
}

// mediaTypePattern finds a type/subtype at the start of a Content-Type value.
var mediaTypePattern = regexp.MustCompile(`^\s*([A-Za-z0-9!#$&^_.+-]+)\s*/\s*([A-Za-z0-9!#$&^_.+-]+)`)

// mediaType returns the lower-case type/subtype of a Content-Type value, or
// "" when it has none.
func mediaType(contentType string) string {
	m := mediaTypePattern.FindStringSubmatch(contentType)
	if m == nil {
		return ""
	}
	return strings.ToLower(m[1] + "/" + m[2])
}

// insertMissingPartHeaders adds the blank line that must separate a part's
// (here empty) header block from its body, for every delimiter of boundary
// followed directly by a line that is not a header field. Without it,
// enmime drops the part. It returns body itself when nothing is inserted.
func insertMissingPartHeaders(body []byte, boundary string) ([]byte, int) {
	delimiter := []byte("--" + boundary)
	closing := []byte("--" + boundary + "--")
	var out []byte
	copied := 0 // body[:copied] is in out
	inserted := 0
	for rest := body; len(rest) > 0; {
		line, next := cutLine(rest)
		rest = next

		isOpening := bytes.HasPrefix(line, delimiter) && !bytes.HasPrefix(line, closing)
		if !isOpening || len(rest) == 0 {
			continue
		}
		first, _ := cutLine(rest)
		trimmed := strings.TrimRight(string(first), "\r\n")
		if trimmed != "" && fieldName(trimmed) == "" && trimmed[0] != ' ' && trimmed[0] != '\t' {
			end := len(body) - len(rest) // the opening line ends here
			out = append(out, body[copied:end]...)
			out = append(out, "\r\n"...)
			copied = end
			inserted++
		}
	}
	if inserted == 0 {
		return body, 0
	}
	return append(out, body[copied:]...), inserted
}
