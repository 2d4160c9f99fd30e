package mime

import (
	"fmt"
	"io"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/gogs/chardet"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/ianaindex"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
)

// minDetectConfidence is the chardet confidence (0-100) below which a
// detected charset is ignored in favour of windows-1252.
const minDetectConfidence = 50

// charsetAliases maps labels seen in real mail that are missing from the
// WHATWG and IANA indexes to a label those indexes contain.
var charsetAliases = map[string]string{
	"ks_c_5601":      "euc-kr",
	"cp932":          "shift_jis",
	"ms932":          "shift_jis",
	"x-sjis":         "shift_jis",
	"ansi_x3.4-1968": "us-ascii",
	"ascii":          "us-ascii",
	"us-askey":       "us-ascii",
	"iso-8859-8-i":   "iso-8859-8",
	"utf8":           "utf-8",
}

// lookupCharset returns the decoder for a charset label, or nil when the
// label is unknown. US-ASCII and UTF-8 both map to the UTF-8 no-op.
func lookupCharset(label string) encoding.Encoding {
	name := strings.ToLower(strings.Trim(strings.TrimSpace(label), `"'`))
	name = strings.TrimPrefix(name, "charset=")
	if alias, ok := charsetAliases[name]; ok {
		name = alias
	}
	switch name {
	case "", "us-ascii", "utf-8", "7bit", "8bit":
		return unicode.UTF8
	}
	if enc, err := htmlindex.Get(name); err == nil {
		return enc
	}
	if enc, err := ianaindex.MIME.Encoding(name); err == nil && enc != nil {
		return enc
	}
	if strings.HasPrefix(name, "cp") || strings.HasPrefix(name, "windows") {
		digits := strings.TrimLeft(name, "cpwindows-_")
		if enc, err := htmlindex.Get("windows-" + digits); err == nil {
			return enc
		}
	}
	if strings.HasPrefix(name, "x-") {
		return lookupCharset(strings.TrimPrefix(name, "x-"))
	}
	return nil
}

// decodeCharset converts b from the named charset to valid UTF-8. When the
// label is unknown or the bytes do not fit it, the charset is detected from
// the bytes instead and a warning names the charset used.
func decodeCharset(b []byte, label string) (string, string) {
	return decodeCharsetDetected(b, label, detectText)
}

// detectFunc runs chardet's text detector over b, or returns its outcome
// from an earlier run over the same bytes.
type detectFunc func(b []byte) (*chardet.Result, error)

// detectText runs chardet's text detector over b.
func detectText(b []byte) (*chardet.Result, error) {
	return chardet.NewTextDetector().DetectBest(b)
}

// decodeCharsetDetected is decodeCharset with the detector that
// decodeUnknown uses.
func decodeCharsetDetected(b []byte, label string, detect detectFunc) (string, string) {
	decodeUnknown := func(b []byte) (string, string) { return decodeUnknownDetected(b, detect) }
	enc := lookupCharset(label)
	if enc == nil {
		text, used := decodeUnknown(b)
		return text, fmt.Sprintf("unknown charset %q, decoded as %s", label, used)
	}
	if enc == unicode.UTF8 {
		if utf8.Valid(b) {
			return string(b), ""
		}
		text, used := decodeUnknown(b)
		if label == "" {
			return text, fmt.Sprintf("8-bit text without a charset, decoded as %s", used)
		}
		return text, fmt.Sprintf("text declared as %s is not valid UTF-8, decoded as %s", label, used)
	}
	if utf8.Valid(b) && !isASCII(b) {
		// Valid UTF-8 with multi-byte sequences is very unlikely to be
		// text in a legacy charset, so the label is taken to be wrong.
		return string(b), fmt.Sprintf("text declared as %s is valid UTF-8; read as UTF-8", label)
	}
	out, err := transformAll(enc, b)
	if err != nil {
		text, used := decodeUnknown(b)
		return text, fmt.Sprintf("text is not valid %s, decoded as %s", label, used)
	}
	return strings.ToValidUTF8(out, "\uFFFD"), ""
}

// decodeUnknown decodes bytes of unknown charset: valid UTF-8 stays as it
// is, otherwise chardet picks the charset, and windows-1252 (which maps
// every byte) is the last resort. It returns the text and the charset used.
func decodeUnknown(b []byte) (string, string) {
	return decodeUnknownDetected(b, detectText)
}

// decodeUnknownDetected is decodeUnknown with detect in place of chardet's
// text detector.
func decodeUnknownDetected(b []byte, detect detectFunc) (string, string) {
	if utf8.Valid(b) {
		return string(b), "utf-8"
	}
	if result, err := detect(b); err == nil && result.Confidence >= minDetectConfidence {
		if enc := lookupCharset(result.Charset); enc != nil && enc != unicode.UTF8 {
			if out, err := transformAll(enc, b); err == nil {
				return strings.ToValidUTF8(out, "\uFFFD"), strings.ToLower(result.Charset)
			}
		}
	}
	out, _ := transformAll(charmap.Windows1252, b)
	return strings.ToValidUTF8(out, "\uFFFD"), "windows-1252"
}

func transformAll(enc encoding.Encoding, b []byte) (string, error) {
	out, err := enc.NewDecoder().Bytes(b)
	if err != nil {
		return "", err
	}
	return string(out), nil
}

// charsetReader adapts lookupCharset to mime.WordDecoder.CharsetReader.
func charsetReader(label string, input io.Reader) (io.Reader, error) {
	enc := lookupCharset(label)
	if enc == nil {
		return nil, fmt.Errorf("unknown charset %q", label)
	}
	return transform.NewReader(input, enc.NewDecoder()), nil
}

var htmlMetaCharset = regexp.MustCompile(`(?i)<meta[^>]*charset\s*=\s*["']?\s*([a-z0-9_.:-]+)`)

// charsetFromHTML returns the charset named by an HTML meta tag, or "".
func charsetFromHTML(b []byte) string {
	head := b
	if len(head) > 4096 {
		head = head[:4096]
	}
	if m := htmlMetaCharset.FindSubmatch(head); m != nil {
		return string(m[1])
	}
	return ""
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}
