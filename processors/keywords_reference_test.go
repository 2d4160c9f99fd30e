package processors

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

// referenceFoldText is foldText as first written, one Builder call per
// byte or rune. foldText copies unchanged runs at once and must give the
// same text.
func referenceFoldText(s string) string {
	var b strings.Builder
	space := false
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			i++
			if isRegexpSpace(c) {
				if !space {
					b.WriteByte(' ')
				}
				space = true
				continue
			}
			space = false
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			b.WriteByte(c)
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		space = false
		b.WriteRune(foldRune(apostrophe(r)))
	}
	return b.String()
}

func TestFoldTextMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 17))
	extra := []string{"\u2019", "\u2018", "\u02bc", "  ", " \n ", "\ufffd", "ſ", "can’t", "\x80"}
	for i := range 3000 {
		s := randomBodyText(rng, 120)
		if i%2 == 0 {
			s += extra[rng.IntN(len(extra))] + randomBodyText(rng, 40)
		}
		if got, want := foldText(s), referenceFoldText(s); got != want {
			t.Fatalf("foldText(%q) = %q, want %q", s, got, want)
		}
	}
	for _, e := range benchMail(benchMixSize) {
		for _, s := range []string{e.Subject, e.Text, e.ReplyText} {
			if got, want := foldText(s), referenceFoldText(s); got != want {
				t.Fatalf("foldText of a text of %s differs from the reference", e.MessageID)
			}
		}
	}
}
