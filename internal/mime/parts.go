package mime

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"strconv"
	"strings"

	"github.com/gogs/chardet"
	"github.com/jhillyerd/enmime/v2"

	"mailtriage/schemas"
)

// maxDepth bounds the nesting of attached messages and recovered multiparts
// that are parsed again, so that hostile input cannot recurse without end.
const maxDepth = 8

// body collects what the leaf parts of one message contribute to the
// contract, in message order.
type body struct {
	Texts       []string
	HTMLs       []string
	Attachments []schemas.Attachment
	Parts       [][]byte
	Warnings    []string
	depth       int

	// detections contains chardet's outcome for text/plain parts whose
	// content is not valid UTF-8 (see readPartTree).
	detections map[*enmime.Part]charsetDetection
}

// detectorFor returns the detector that decodeCharset uses for the content
// of p: the outcome readPartTree stored for p, or a new chardet run.
func (b *body) detectorFor(p *enmime.Part) detectFunc {
	detection, ok := b.detections[p]
	if !ok {
		return detectText
	}
	return func([]byte) (*chardet.Result, error) { return detection.result, detection.err }
}

func (b *body) warn(format string, args ...any) {
	b.Warnings = append(b.Warnings, fmt.Sprintf(format, args...))
}

// walkChildren visits the children of a multipart part. prefix is the
// part path of the parent ("" for the message itself).
func (b *body) walkChildren(parent *enmime.Part, prefix string) {
	index := 0
	for child := parent.FirstChild; child != nil; child = child.NextSibling {
		index++
		b.walkPart(child, childPath(prefix, index))
	}
}

func childPath(prefix string, index int) string {
	if prefix == "" {
		return strconv.Itoa(index)
	}
	return prefix + "." + strconv.Itoa(index)
}

// walkPart sorts one part into body text, HTML or attachments.
func (b *body) walkPart(p *enmime.Part, path string) {
	switch {
	case p.FirstChild != nil:
		b.walkChildren(p, path)
	case strings.HasPrefix(p.ContentType, "multipart/"):
		b.recoverNestedMultipart(p, path)
	case isBodyText(p):
		b.addText(p)
	default:
		b.addAttachment(p, path)
	}
}

// isBodyText reports whether a leaf is inline body text: text/plain (also
// a part with no Content-Type, per RFC 2045) or text/html, not marked as an
// attachment and without a filename. A named text part is an attachment.
func isBodyText(p *enmime.Part) bool {
	switch p.ContentType {
	case "", "text/plain", "text/html":
	default:
		return false
	}
	return p.Disposition != "attachment" && partFilename(p) == ""
}

// addText converts a body text part to UTF-8 and appends it.
func (b *body) addText(p *enmime.Part) {
	charset := charsetParam(p.Header.Get("Content-Type"))
	if charset == "" && p.ContentType == "text/html" {
		charset = charsetFromHTML(p.Content)
	}
	text, warning := decodeCharsetDetected(p.Content, charset, b.detectorFor(p))
	if warning != "" {
		b.warn("%s", warning)
	}

	text = normalizeNewlines(text)
	if p.ContentType == "text/html" {
		b.HTMLs = append(b.HTMLs, text)
	} else {
		b.Texts = append(b.Texts, text)
	}
}

// addAttachment records a leaf that is not body text, with the bytes the
// caller stores.
func (b *body) addAttachment(p *enmime.Part, path string) {
	contentType := p.ContentType
	if contentType == "" {
		contentType = "text/plain"
	}
	sum := sha256.Sum256(p.Content)
	attachment := schemas.Attachment{
		Filename:    partFilename(p),
		ContentType: contentType,
		Size:        int64(len(p.Content)),
		ContentID:   strings.Trim(strings.TrimSpace(p.ContentID), "<>"),
		Inline:      p.Disposition == "inline",
		SHA256:      hex.EncodeToString(sum[:]),
		Part:        path,
	}
	if contentType == "message/rfc822" || contentType == "message/global" {
		attachment.Text = b.attachedMessageText(p.Content, path)
	}
	b.Attachments = append(b.Attachments, attachment)
	b.Parts = append(b.Parts, p.Content)
}

// attachedMessageText parses an attached message and returns its text,
// followed by the text of the messages attached to it (a digest has only
// those).
func (b *body) attachedMessageText(raw []byte, path string) string {
	if b.depth >= maxDepth {
		b.warn("attached message at part %s nested too deep; its text is not extracted", path)
		return ""
	}
	inner := parseMessage(raw, b.depth+1)
	texts := []string{inner.Email.Text}
	for _, attachment := range inner.Email.Attachments {
		texts = append(texts, attachment.Text)
	}
	return joinParts(texts)
}

// recoverNestedMultipart handles a nested multipart part that enmime kept
// as one leaf because its boundary parameter is missing or wrong: the
// boundary is found in the content and the part is parsed again. A part
// without any delimiter line is kept as plain text.
func (b *body) recoverNestedMultipart(p *enmime.Part, path string) {
	boundary := findBoundary(p.Content, boundaryParam(p.Header.Get("Content-Type")))
	if boundary == "" || b.depth >= maxDepth {
		b.warn("multipart part %s has no delimiter line; kept as plain text", path)
		text, _ := decodeCharset(p.Content, "")
		b.Texts = append(b.Texts, normalizeNewlines(text))
		return
	}

	b.warn("multipart part %s: boundary %q found in the content and used", path, boundary)
	contentType := fmt.Sprintf("%s; boundary=\"%s\"", p.ContentType, boundary)
	header := "Content-Type: " + contentType + "\r\n\r\n"
	content, _ := insertMissingPartHeaders(p.Content, boundary)
	root, detections, err := readPartTree(newPartParser(contentType), append([]byte(header), content...))
	if err != nil {
		b.warn("multipart part %s could not be read (%v); kept as plain text", path, err)
		text, _ := decodeCharset(p.Content, "")
		b.Texts = append(b.Texts, normalizeNewlines(text))
		return
	}
	b.collectErrors(root)
	if b.detections == nil {
		b.detections = detections
	} else {
		maps.Copy(b.detections, detections)
	}
	b.depth++
	b.walkChildren(root, path)
	b.depth--
}

// collectErrors turns the problems enmime recorded on a part tree into
// warnings.
func (b *body) collectErrors(root *enmime.Part) {
	_ = root.DepthMatchAll(func(p *enmime.Part) bool {
		for _, e := range p.Errors {
			b.warn("%s: %s", e.Name, e.Detail)
		}
		return false
	})
}

// markReferencedInline sets Inline on attachments whose Content-ID the HTML
// references through a cid: URL.
func (b *body) markReferencedInline() {
	html := strings.Join(b.HTMLs, "\n")
	for i := range b.Attachments {
		cid := b.Attachments[i].ContentID
		if cid != "" && strings.Contains(html, "cid:"+cid) {
			b.Attachments[i].Inline = true
		}
	}
}

// normalizeNewlines turns CRLF and lone CR line endings into LF.
func normalizeNewlines(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\r", "\n")
}

// joinParts joins body parts with one blank line between them.
func joinParts(parts []string) string {
	if len(parts) == 1 {
		return parts[0]
	}
	trimmed := make([]string, 0, len(parts))
	for _, part := range parts {
		if part = strings.TrimRight(part, "\n"); strings.TrimSpace(part) != "" {
			trimmed = append(trimmed, part)
		}
	}
	return strings.Join(trimmed, "\n\n")
}
