package processors

import (
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// referenceNormalizeBody is normalizeBody as first written, one string
// built rune by rune. Fingerprints are stored in the dedupe state, so the
// chunked normalization must produce the same bytes.
func referenceNormalizeBody(s string) string {
	s = norm.NFC.String(s)
	var b strings.Builder
	for _, r := range s {
		if unicode.IsSpace(r) || r == '\u200b' || r == '\u200c' || r == '\u200d' || r == '\ufeff' {
			continue
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// referenceFingerprint is Fingerprint as first written.
func referenceFingerprint(messageID, text, html string) string {
	body := sha256.New()
	body.Write([]byte(referenceNormalizeBody(text)))
	body.Write([]byte{0})
	body.Write([]byte(referenceNormalizeBody(html)))
	h := sha256.New()
	h.Write([]byte(messageID))
	h.Write([]byte{0})
	h.Write(body.Sum(nil))
	return hex.EncodeToString(h.Sum(nil))
}

// randomBodyText returns up to maxLen bytes mixing ASCII, capitals, every
// kind of white space the normalization drops, decomposed accents,
// non-Latin letters and invalid UTF-8.
func randomBodyText(rng *rand.Rand, maxLen int) string {
	pieces := []string{
		"a", "Z", "Hello World", " ", "\t", "\r\n", "\v", "\f", "\u00a0", "\u0085", "\u2003", "\u3000",
		"\u200b", "\u200c", "\u200d", "\ufeff", "e\u0301", "E\u0301", "É", "ß", "İ", "Σ", "ς", "Ǆ",
		"К", "日本", "😀", "\xff", "\xe2\x82", "\xc3", "<p>", "1234", "_", "\u212a",
	}
	var b strings.Builder
	n := rng.IntN(maxLen + 1)
	for b.Len() < n {
		b.WriteString(pieces[rng.IntN(len(pieces))])
	}
	return b.String()
}

func TestNormalizeBodyMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for i := range 1000 {
		// Lengths around and beyond normalizeChunk cross chunk borders.
		s := randomBodyText(rng, []int{40, normalizeChunk + 8, 3 * normalizeChunk}[i%3])
		if got, want := normalizeBody(s), referenceNormalizeBody(s); got != want {
			t.Fatalf("normalizeBody(%q) = %q, want %q", s, got, want)
		}
		html := randomBodyText(rng, 200)
		if got, want := Fingerprint("id", s, html), referenceFingerprint("id", s, html); got != want {
			t.Fatalf("Fingerprint of text %q and html %q = %s, want %s", s, html, got, want)
		}
	}
	for _, e := range benchMail(benchMixSize) {
		if got, want := Fingerprint(e.MessageID, e.Text, e.HTML), referenceFingerprint(e.MessageID, e.Text, e.HTML); got != want {
			t.Fatalf("Fingerprint of %s = %s, want %s", e.MessageID, got, want)
		}
	}
}
