package processors

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// keywordMatcher finds whole words or phrases from a list, ignoring case.
// A keyword that starts or ends with a letter or digit matches only next to
// a non-word character on that side, so "order" matches "Order 12" but not
// "border", while "order #" also matches "order #12". The words of a phrase
// may be separated by any white space ("cannot  log\nin").
//
// The rules are those of the regular expression
// (?i)(?:^|[^\p{L}\p{N}_])(keyword)(?:$|[^\p{L}\p{N}_]) in Go's regexp
// package, with \s+ between the words and each boundary only on a side
// where the keyword has a letter, digit or "_": case is compared by simple
// Unicode case folding, white space is [\t\n\f\r ], and when several
// keywords occur, the one whose match (boundary character included) starts
// first wins, ties going to the earlier keyword in the list. The matcher
// reaches that result in one pass over the text with an Aho–Corasick
// automaton on folded text.
type keywordMatcher struct {
	keywords []string // as configured
	names    []string // lower-case and trimmed, as find returns them
	patterns []keywordPattern
	set      *keywordSet // the automaton of this matcher alone
}

// keywordPattern is a keyword prepared for matching.
type keywordPattern struct {
	text       string // the words folded by foldRune, joined by one space
	wordBefore bool   // the keyword starts with a word character
	wordAfter  bool   // the keyword ends with a word character
}

func newKeywordMatcher(keywords []string) *keywordMatcher {
	m := &keywordMatcher{
		keywords: keywords,
		names:    make([]string, len(keywords)),
		patterns: make([]keywordPattern, len(keywords)),
	}
	for i, k := range keywords {
		m.names[i] = strings.ToLower(strings.TrimSpace(k))

		k = replaceApostrophes(strings.TrimSpace(k))
		words := strings.Fields(k)
		for j, w := range words {
			words[j] = foldText(w)
		}
		first, _ := utf8.DecodeRuneInString(k)
		last, _ := utf8.DecodeLastRuneInString(k)
		m.patterns[i] = keywordPattern{
			text:       strings.Join(words, " "),
			wordBefore: isWordRune(first),
			wordAfter:  isWordRune(last),
		}
	}
	m.set = newKeywordSet([]*keywordMatcher{m})
	return m
}

// find returns the first keyword found in s, in lower case as the list
// spells it, or "".
func (m *keywordMatcher) find(s string) string {
	return m.set.find(m, m.set.scan(foldText(s)))
}

// keywordSet is one automaton for the keywords of several matchers, so
// that one pass over a text serves every keyword condition of a ruleset.
// It is immutable and safe for concurrent use.
type keywordSet struct {
	patterns []keywordPattern
	// ids maps a matcher to the pattern index of each of its keywords.
	ids          map[*keywordMatcher][]int
	ac           *acAutomaton
	emptyPattern []int // patterns without words, which match at offset 0
}

func newKeywordSet(matchers []*keywordMatcher) *keywordSet {
	set := &keywordSet{ids: make(map[*keywordMatcher][]int, len(matchers))}
	for _, m := range matchers {
		if _, dup := set.ids[m]; dup {
			continue
		}
		ids := make([]int, len(m.patterns))
		for i, p := range m.patterns {
			ids[i] = len(set.patterns)
			if p.text == "" {
				set.emptyPattern = append(set.emptyPattern, ids[i])
			}
			set.patterns = append(set.patterns, p)
		}
		set.ids[m] = ids
	}

	texts := make([]string, len(set.patterns))
	for i, p := range set.patterns {
		texts[i] = p.text
	}
	set.ac = newACAutomaton(texts)
	return set
}

// scan returns, for each pattern of the set, the offset in folded where its
// first match starts, boundary character included, or -1. folded is the
// output of foldText.
func (set *keywordSet) scan(folded string) []int {
	starts := make([]int, len(set.patterns))
	for i := range starts {
		starts[i] = -1
	}
	if folded == "" {
		return starts
	}
	for _, p := range set.emptyPattern {
		starts[p] = 0
	}

	remaining := len(set.patterns) - len(set.emptyPattern)
	set.ac.scan(folded, func(p, start, end int) bool {
		if starts[p] >= 0 {
			return true
		}
		// The occurrences of one pattern come in order, so the first one
		// whose boundaries hold is its leftmost match.
		if at, ok := set.patterns[p].matchAt(folded, start, end); ok {
			starts[p] = at
			remaining--
		}
		return remaining > 0
	})
	return starts
}

// matchAt checks the word boundaries of an occurrence of p at
// folded[start:end] and returns where the match starts: at the boundary
// character before the keyword when p needs one, as the regular expression
// in the keywordMatcher comment consumes it.
func (p *keywordPattern) matchAt(folded string, start, end int) (int, bool) {
	at := start
	if p.wordBefore && start > 0 {
		r, size := utf8.DecodeLastRuneInString(folded[:start])
		if isRegexpWordRune(r) {
			return 0, false
		}
		at -= size
	}
	if p.wordAfter && end < len(folded) {
		if r, _ := utf8.DecodeRuneInString(folded[end:]); isRegexpWordRune(r) {
			return 0, false
		}
	}
	return at, true
}

// find returns the keyword of m that matches first according to starts,
// the output of scan, in lower case as m's list spells it, or "".
func (set *keywordSet) find(m *keywordMatcher, starts []int) string {
	best, bestStart := -1, 0
	for i, p := range set.ids[m] {
		if at := starts[p]; at >= 0 && (best < 0 || at < bestStart) {
			best, bestStart = i, at
		}
	}
	if best < 0 {
		return ""
	}
	return m.names[best]
}

// foldText prepares s for keyword matching. It maps each rune to the
// representative of its simple case-folding orbit (the lower-case letter
// for ASCII), the typographic apostrophes U+2018, U+2019 and U+02BC to "'",
// each byte of invalid UTF-8 to U+FFFD, and each run of [\t\n\f\r ] to one
// space. Offsets in the result keep the order of the runes of s, which is
// all the keyword rules compare.
func foldText(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	// s[start:i] is the run of bytes that folding leaves as they are, which
	// is copied at once when a byte that changes ends it.
	start := 0
	for i := 0; i < len(s); {
		// Most bytes of mail are ASCII that folding keeps: skip them first.
		if foldKeeps[s[i]] {
			space = false
			for i++; i < len(s) && foldKeeps[s[i]]; i++ {
			}
			continue
		}
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == ' ' && !space:
				space = true
			case isRegexpSpace(c):
				b.WriteString(s[start:i])
				if !space {
					b.WriteByte(' ')
				}
				space = true
				start = i + 1
			case 'A' <= c && c <= 'Z':
				b.WriteString(s[start:i])
				b.WriteByte(c + 'a' - 'A')
				space = false
				start = i + 1
			default:
				space = false
			}
			i++
			continue
		}

		r, size := utf8.DecodeRuneInString(s[i:])
		space = false
		// An invalid byte decodes to U+FFFD with size 1 and is replaced.
		if f := foldRune(apostrophe(r)); f != r || size == 1 {
			b.WriteString(s[start:i])
			b.WriteRune(f)
			start = i + size
		}
		i += size
	}
	b.WriteString(s[start:])
	return b.String()
}

// foldKeeps marks the bytes that foldText copies unchanged whatever comes
// before them: ASCII other than white space and capital letters.
var foldKeeps = func() (keeps [256]bool) {
	for c := range utf8.RuneSelf {
		keeps[c] = !isRegexpSpace(byte(c)) && !('A' <= c && c <= 'Z')
	}
	return keeps
}()

// foldRune returns the representative of r's orbit under unicode.SimpleFold,
// the set of runes that Go's (?i) matches for r: its smallest rune, or the
// lower-case letter when that is an ASCII capital. "K", "k" and the Kelvin
// sign U+212A all give "k", while "İ" (U+0130), which has no simple fold,
// stays itself.
func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		return r
	}
	least := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		least = min(least, f)
	}
	if 'A' <= least && least <= 'Z' {
		least += 'a' - 'A'
	}
	return least
}

// apostrophe maps the typographic apostrophes to "'", so that "can’t" in a
// message matches the keyword "can't".
func apostrophe(r rune) rune {
	switch r {
	case '\u2019', '\u2018', '\u02bc':
		return '\''
	}
	return r
}

func replaceApostrophes(s string) string { return strings.Map(apostrophe, s) }

// isRegexpSpace reports whether c is in Go's regexp class \s.
func isRegexpSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'
}

// foldLetters is what Go's regexp adds to \p{L} under (?i): the runes
// outside the letter category whose case folds to a letter, such as the
// combining iota U+0345.
var foldLetters = unicode.FoldCategory["L"]

// isRegexpWordRune reports whether r is in the class [\p{L}\p{N}_] as Go's
// regexp compiles it under (?i). The class is closed under case folding,
// so r may be the folded form of the rune in the text.
func isRegexpWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return r == '_' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'
	}
	return unicode.IsLetter(r) || unicode.Is(unicode.N, r) || unicode.Is(foldLetters, r)
}

// foldCache holds the folded form of the last two texts that keyword
// matching read for one message, enough for its subject and body, so that
// Classify and Route fold each of them once. An entry serves only the
// same text: a changed field is folded again. The zero value is empty and
// a nil *foldCache folds every time. It is not safe for concurrent use.
type foldCache struct {
	entries [2]foldedText
	next    int // the entry to overwrite next
}

type foldedText struct{ text, folded string }

func (c *foldCache) fold(s string) string {
	if c == nil || s == "" {
		return foldText(s)
	}
	for _, e := range c.entries {
		// Comparing a field with itself is cheap: on amd64 the runtime
		// compares the pointers before the bytes, and comparing bytes
		// still costs less than folding.
		if e.folded != "" && e.text == s {
			return e.folded
		}
	}
	folded := foldText(s)
	c.entries[c.next] = foldedText{s, folded}
	c.next = (c.next + 1) % len(c.entries)
	return folded
}
