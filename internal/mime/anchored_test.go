package mime

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

func firstBytesString(first [utf8.RuneSelf]bool) string {
	var sb strings.Builder
	for c, ok := range first {
		if ok {
			sb.WriteByte(byte(c))
		}
	}
	return sb.String()
}

func TestFirstASCIIBytes(t *testing.T) {
	var every strings.Builder
	for b := range utf8.RuneSelf {
		every.WriteByte(byte(b))
	}
	cases := []struct {
		expr string
		want string
	}{
		{`^[-_]{10,}$`, "-_"},
		{`(?i)^(on|le)\s`, "LOlo"},
		{`(?i)^\*?(from|от)\s*:`, "*Ff"},
		{`(?i)^(sent|kind)`, "KSks"},
		{`^a*$`, every.String()}, // matches the empty string
	}
	for _, c := range cases {
		first, err := firstASCIIBytes(c.expr)
		if err != nil {
			t.Fatalf("firstASCIIBytes(%q) error: %v", c.expr, err)
		}
		if got := firstBytesString(first); got != c.want {
			t.Errorf("firstASCIIBytes(%q) = %q, want %q", c.expr, got, c.want)
		}
	}
}

func TestFirstASCIIBytesRejectsUnanchored(t *testing.T) {
	for _, expr := range []string{`abc`, `(^a)|b`, `(?m)^a`} {
		if _, err := firstASCIIBytes(expr); err == nil {
			t.Errorf("firstASCIIBytes(%q) returned no error for a pattern not anchored at the start of the text", expr)
		}
	}
}

// TestAnchoredPatternsMatchLikeRegexp checks every anchored pattern of the
// reply extraction against its plain regexp on random lines built from the
// words the patterns look for, with random first bytes.
func TestAnchoredPatternsMatchLikeRegexp(t *testing.T) {
	type pair struct {
		anchored *anchoredPattern
		plain    *regexp.Regexp
	}
	patterns := map[string]*anchoredPattern{
		"quoteHeaderStart": quoteHeaderStart,
		"originalMessage":  originalMessage,
		"separatorLine":    separatorLine,
		"fieldLine":        fieldLine,
		"sentOrDateLine":   sentOrDateLine,
		"sentFromDevice":   sentFromDevice,
		"signOff":          signOff,
	}
	words := []string{
		"On", "le", "AM", "el día", "w dniu", "From", "*Von", "от", "ОТ", "Sent", "ſent", "Date", "Envoyé le",
		"отправлено", "-----", "_____", "Original Message", "sent from my", "Kind regards", "\u212aind regards",
		"thanks", "Grüße", " ", "\t", ":", "*", ",", "!", "x", "iPhone",
	}
	pairs := map[string]pair{}
	for name, p := range patterns {
		pairs[name] = pair{p, regexp.MustCompile(p.String())}
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		var sb strings.Builder
		if r.IntN(3) == 0 {
			sb.WriteByte(byte(r.IntN(utf8.RuneSelf)))
		}
		for range r.IntN(6) {
			sb.WriteString(words[r.IntN(len(words))])
		}
		line := sb.String()
		for name, p := range pairs {
			if got, want := p.anchored.MatchString(line), p.plain.MatchString(line); got != want {
				t.Fatalf("%s.MatchString(%q) = %v, regexp returns %v", name, line, got, want)
			}
		}
	}
}
