package processors

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
	"unsafe"
)

// regexpKeywordFinder is the regular expression that keywordMatcher's
// comment describes, as the matcher was first written. The tests compare
// the automaton with it.
type regexpKeywordFinder struct {
	keywords []string
	re       *regexp.Regexp // one capture group per keyword, in order
}

func newRegexpKeywordFinder(keywords []string) *regexpKeywordFinder {
	const (
		wordBefore = `(?:^|[^\p{L}\p{N}_])`
		wordAfter  = `(?:$|[^\p{L}\p{N}_])`
	)
	quotes := strings.NewReplacer("\u2019", "'", "\u2018", "'", "\u02bc", "'")
	alternatives := make([]string, len(keywords))
	for i, k := range keywords {
		k = quotes.Replace(strings.TrimSpace(k))
		words := strings.Fields(k)
		for j, w := range words {
			words[j] = regexp.QuoteMeta(w)
		}
		alt := "(" + strings.Join(words, `\s+`) + ")"
		if first, _ := utf8.DecodeRuneInString(k); isWordRune(first) {
			alt = wordBefore + alt
		}
		if last, _ := utf8.DecodeLastRuneInString(k); isWordRune(last) {
			alt += wordAfter
		}
		alternatives[i] = alt
	}
	re := regexp.MustCompile(`(?i)` + strings.Join(alternatives, "|"))
	return &regexpKeywordFinder{keywords: keywords, re: re}
}

func (k *regexpKeywordFinder) find(s string) string {
	if s == "" {
		return ""
	}
	quotes := strings.NewReplacer("\u2019", "'", "\u2018", "'", "\u02bc", "'")
	m := k.re.FindStringSubmatchIndex(quotes.Replace(s))
	if m == nil {
		return ""
	}
	for i := range k.keywords {
		if m[2*(i+1)] >= 0 {
			return strings.ToLower(strings.TrimSpace(k.keywords[i]))
		}
	}
	return ""
}

// keywordLists are keyword lists with the cases that need care: phrases,
// keywords that end or start with a symbol, keywords that contain one
// another, duplicates in other spellings and runes with unusual case
// folding.
var keywordLists = [][]string{
	DefaultUrgentKeywords,
	DefaultHighKeywords,
	{"password", "login", "log in", "sign in", "2fa", "locked", "locked out", "unauthorized access"},
	{"order", "orders", "order #", "my order", "#1", "Order", "ORDER #"},
	{"can't log in", "can’t login", "o'clock", "'quoted'"},
	{"straße", "STRASSE", "ſtop", "Kelvin", "İstanbul", "ıi", "σ", "ΣΑΣ", "\u0345x"},
	{"-flag", "c++", "a.b", "x_y", "(parens)", "[ok]", "²", "Ⅻ"},
	{"in", "i", "n", "in in", "in  in  in"},
	{"", "  ", "x"},
}

// keywordTextTokens build the texts of the comparison tests.
var keywordTextTokens = []string{
	" ", " ", "  ", "\n", "\t", "\r\n", "\f", "\v", "\u00a0", "\u2003", "-", "#", "'", "’", "‘", "ʼ", ".", "_", "+", "(", ")", "[", "]",
	"order", "Order", "ORDERS", "border", "orders", "#1", "#12", "1", "x", "in", "I", "N", "İ", "ı", "ſ", "K", "k", "σ", "ς", "Σ", "ͅ", "Ι",
	"log", "in", "Log", "IN", "login", "sign", "2FA", "locked", "out", "password", "can't", "can’t", "cannot", "o'clock", "quoted",
	"straße", "STRAẞE", "strasse", "stop", "Kelvin", "istanbul", "c++", "a.b", "x_y", "parens", "ok", "²", "Ⅻ", "ⅻ", "a", "b",
	"urgent", "URGENT", "is", "down", "went", "asap", "not", "working", "é", "É", "\xff", "\xc3", "\u00ad", "日本", "ok1",
}

func randomKeywordText(rng *rand.Rand) string {
	var b strings.Builder
	for range rng.IntN(14) {
		b.WriteString(keywordTextTokens[rng.IntN(len(keywordTextTokens))])
	}
	return b.String()
}

func TestKeywordMatcherAgreesWithRegexp(t *testing.T) {
	fixed := []string{
		"", "x", "Order 12", "border", "order #12", "cannot  log\nin", "cannot log\vin", "cannot log\u00a0in",
		"I can’t  log in", "İstanbul", "istanbul", "ſtop", "KELVIN", "STRASSE straẞe", "#1", "a#1", "x_order",
		"ordeR", "\xfforder\xff", "é order", "éorder", "in in in in", "in\tin", "ΣΑΣ σας", "\u0345x", "ιx", "Ιx",
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, list := range keywordLists {
		ref := newRegexpKeywordFinder(list)
		m := newKeywordMatcher(list)
		texts := append([]string(nil), fixed...)
		for range 3000 {
			texts = append(texts, randomKeywordText(rng))
		}
		for _, text := range texts {
			if got, want := m.find(text), ref.find(text); got != want {
				t.Errorf("keywords %q in %q: find = %q, want %q as the regexp finds", list, text, got, want)
			}
		}
	}
}

func TestKeywordSetServesEachMatcher(t *testing.T) {
	var matchers []*keywordMatcher
	for _, list := range keywordLists {
		matchers = append(matchers, newKeywordMatcher(list))
	}
	set := newKeywordSet(matchers)

	rng := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		text := randomKeywordText(rng)
		starts := set.scan(foldText(text))
		for i, m := range matchers {
			if got, want := set.find(m, starts), m.find(text); got != want {
				t.Errorf("list %d in %q: shared set finds %q, the matcher alone %q", i, text, got, want)
			}
		}
	}
}

func TestFoldTextExamples(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Hello World", "hello world"},
		{"a \t\r\n\f b", "a b"},
		{"a\vb\u00a0c", "a\vb\u00a0c"},
		{"Can’t ‘x’ ʼy", "can't 'x' 'y"},
		{"\u212a ſ ẞ İ", "k s ß İ"},
		{"\xff", "\uFFFD"},
	}
	for _, tt := range tests {
		if got := foldText(tt.in); got != tt.want {
			t.Errorf("foldText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestFoldRuneOrbits checks every rune: foldRune gives one value per
// unicode.SimpleFold orbit, and that value belongs to the orbit (or is
// the lower-case form of its ASCII capital), so two runes fold alike
// exactly when (?i) matches one with the other.
func TestFoldRuneOrbits(t *testing.T) {
	for r := rune(0); r <= unicode.MaxRune; r++ {
		want := foldRune(r)
		inOrbit := want == r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if got := foldRune(f); got != want {
				t.Fatalf("foldRune(%U) = %U but foldRune(%U) = %U, same orbit", f, got, r, want)
			}
			inOrbit = inOrbit || f == want
		}
		if !inOrbit {
			t.Fatalf("foldRune(%U) = %U, which is not in the rune's orbit", r, want)
		}
	}
}

// TestRegexpWordRuneClass checks every rune against the class that the
// regexp of keywordMatcher's comment uses for a word boundary.
func TestRegexpWordRuneClass(t *testing.T) {
	nonWord := regexp.MustCompile(`(?i)^[^\p{L}\p{N}_]$`)
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if !utf8.ValidRune(r) {
			continue
		}
		want := !nonWord.MatchString(string(r))
		if got := isRegexpWordRune(r); got != want {
			t.Fatalf("isRegexpWordRune(%U) = %v, want %v", r, got, want)
		}
		if got := isRegexpWordRune(foldRune(r)); got != want {
			t.Fatalf("isRegexpWordRune(foldRune(%U)) = %v, want %v", r, got, want)
		}
	}
}

func TestFoldCacheReusesText(t *testing.T) {
	var c foldCache
	subject, body := "Cannot LOG in", strings.Repeat("Body ", 10)
	first := c.fold(subject)
	c.fold(body)
	if again := c.fold(subject); again != first || !sameString(again, first) {
		t.Errorf("second fold of the subject = %q, want the cached %q", again, first)
	}
	if got := c.fold("Other"); got != "other" {
		t.Errorf("fold of a new text = %q, want %q", got, "other")
	}
	var nilCache *foldCache
	if got := nilCache.fold("ABC"); got != "abc" {
		t.Errorf("nil cache fold = %q, want %q", got, "abc")
	}
}

// sameString reports whether a and b share their bytes, as a cached
// string does.
func sameString(a, b string) bool {
	return len(a) == len(b) && unsafe.StringData(a) == unsafe.StringData(b)
}

func FuzzKeywordMatcher(f *testing.F) {
	for _, s := range []string{"Order #12", "cannot  log\nin", "İstanbul ſtop", "x\xffin", "ΣΑΣ σας"} {
		f.Add(s, "order #")
	}
	f.Fuzz(func(t *testing.T, text, keyword string) {
		if !utf8.ValidString(keyword) {
			t.Skip("the regexp rejects a keyword that is not UTF-8")
		}
		list := append([]string{keyword}, keywordLists[3]...)
		if got, want := newKeywordMatcher(list).find(text), newRegexpKeywordFinder(list).find(text); got != want {
			t.Errorf("keywords %q in %q: find = %q, want %q", list, text, got, want)
		}
	})
}
