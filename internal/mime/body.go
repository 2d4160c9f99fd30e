package mime

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/jhillyerd/enmime/v2"
)

// readBody parses the body of msg into text, HTML and attachments. enmime
// gets only the content header fields, rewritten where they would make it
// fail or drop parts.
func readBody(msg message, depth int) *body {
	b := &body{depth: depth}
	if len(bytes.TrimSpace(msg.Body)) == 0 {
		return b
	}

	header, content, contentType := b.prepareForEnmime(msg)
	parser := newPartParser(contentType)
	root, detections, err := readPartTree(parser, append(header, content...))
	if err != nil {
		b.warn("MIME structure could not be read (%v); body kept as plain text", err)
		b.addPlainBody(msg.Body, charsetParam(msg.Fields.get("Content-Type")))
		return b
	}

	b.detections = detections
	b.collectEnvelopeErrors(parser, root)
	if root.FirstChild != nil {
		b.walkChildren(root, "")
	} else {
		b.walkPart(root, "1")
	}
	b.markReferencedInline()
	return b
}

// contentFields are the header fields enmime reads from the top level.
var contentFields = []string{"Content-Type", "Content-Transfer-Encoding", "Content-Disposition", "Content-ID"}

// prepareForEnmime returns the header block and body to hand to enmime, and
// the Content-Type value that the header block holds. For
// a multipart message it checks the boundary against the body: a missing,
// quoted, folded or illegal boundary parameter is replaced by the boundary
// the body uses, and a multipart without any delimiter line is read as
// plain text. Parts that start without a header block get the blank line
// that enmime needs to keep them.
func (b *body) prepareForEnmime(msg message) ([]byte, []byte, string) {
	contentType := msg.Fields.get("Content-Type")
	content := msg.Body

	if mt := mediaType(contentType); strings.HasPrefix(mt, "multipart/") {
		contentType = b.repairBoundary(contentType, mt, content)
	}
	if strings.HasPrefix(mediaType(contentType), "multipart/") {
		content = b.repairPartHeaders(content, boundaryParam(contentType))
	}

	var header bytes.Buffer
	for _, name := range contentFields {
		value := msg.Fields.get(name)
		if name == "Content-Type" {
			value = contentType
		}
		if value != "" {
			fmt.Fprintf(&header, "%s: %s\r\n", name, value)
		}
	}
	header.WriteString("\r\n")
	return header.Bytes(), content, contentType
}

// repairBoundary returns the Content-Type to give enmime for a multipart
// message whose body is content.
func (b *body) repairBoundary(contentType, mt string, content []byte) string {
	declared := boundaryParam(contentType)
	found := findBoundary(content, declared)
	switch {
	case found == "":
		b.warn("%s has no delimiter line in its body; body read as plain text", mt)
		return "text/plain; charset=" + charsetOrASCII(charsetParam(contentType))
	case declared == "":
		b.warn("%s has no boundary parameter; boundary %q found in the body and used", mt, found)
	case found != declared:
		b.warn("%s boundary parameter %q does not match the body; boundary %q used", mt, declared, found)
	case contentTypeNeedsRewrite(contentType, declared):
		b.warn("%s boundary parameter is malformed; rewritten as %q", mt, declared)
	default:
		return contentType
	}
	return fmt.Sprintf("%s; boundary=\"%s\"", mt, found)
}

// contentTypeNeedsRewrite reports whether enmime would read a boundary
// other than the one that the body uses.
func contentTypeNeedsRewrite(contentType, boundary string) bool {
	_, params, _, err := parseMediaTypeLeniently(contentType)
	return err != nil || params["boundary"] != boundary
}

func charsetOrASCII(charset string) string {
	if charset == "" {
		return "us-ascii"
	}
	return charset
}

// repairPartHeaders inserts the missing blank line before the body of parts
// that have no header block, for the top-level boundary and every boundary
// declared in content.
func (b *body) repairPartHeaders(content []byte, topBoundary string) []byte {
	boundaries := []string{topBoundary}
	for _, value := range boundaryParamsIn(content) {
		boundaries = append(boundaries, strings.Trim(string(value), `"' `))
	}

	seen := map[string]bool{}
	for _, boundary := range boundaries {
		if boundary == "" || seen[boundary] {
			continue
		}
		seen[boundary] = true

		var inserted int
		content, inserted = insertMissingPartHeaders(content, boundary)
		if inserted > 0 {
			b.warn("%d MIME part(s) with boundary %q had no header block; read as text/plain", inserted, boundary)
		}
	}
	return content
}

// collectEnvelopeErrors converts the errors and warnings enmime collects in
// Envelope.Errors into warnings. enmime's note that the text came from HTML
// is left out because parseMessage adds its own.
func (b *body) collectEnvelopeErrors(parser *enmime.Parser, root *enmime.Part) {
	envelope, err := parser.EnvelopeFromPart(root)
	if err != nil {
		b.collectErrors(root)
		return
	}
	for _, e := range envelope.Errors {
		if e.Name == enmime.ErrorPlainTextFromHTML {
			continue
		}
		b.warn("%s: %s", e.Name, e.Detail)
	}
}

// addPlainBody keeps a body that could not be read as MIME as plain text.
func (b *body) addPlainBody(content []byte, charset string) {
	text, warning := decodeCharset(content, charset)
	if warning != "" {
		b.warn("%s", warning)
	}
	b.Texts = append(b.Texts, normalizeNewlines(text))
}
