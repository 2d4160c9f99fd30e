package processors

import (
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
)

// scopedRegexp runs a detector's regular expression only over the parts of
// a text where it can match, and finds the same matches as running it over
// the whole text. Go's regexp has no DFA, so a pattern with (?i) or many
// alternatives runs its NFA or backtracker over every byte of the input.
// Yet most of a message holds bytes that no match of a given pattern can
// contain.
//
// A text is cut into segments at the bytes that no match can contain.
// Each match then lies inside one segment, and because the pattern uses no
// ^ or $ and every byte that \b counts as a word character stays inside,
// matching a segment alone finds the same matches at the same places. The
// prefilter then skips the segments that cannot hold a match the detector
// keeps. The tests check both rules for every scoped pattern.
type scopedRegexp struct {
	re *regexp.Regexp
	// inside[c] is true for the bytes a match may contain. Bytes of
	// non-ASCII runes always are, so segments never split a rune.
	inside [256]bool
	// keep reports whether a segment can hold a match that the detector
	// keeps; it returns false only when none can. Nil keeps every segment.
	keep func(seg string) bool
	// startOK, when set, reports whether a match may hold the trigger at
	// s[p] (see findAround). It returns false only when none can, and
	// every segment holding a match holds a trigger it accepts.
	startOK func(s string, p int) bool
	// scan, when set, appends to dst what re finds in seg, faster; the
	// pattern then has no groups.
	scan func(seg string, dst []span) []span
}

// withScan sets sr.scan and returns sr.
func (sr *scopedRegexp) withScan(scan func(seg string, dst []span) []span) *scopedRegexp {
	sr.scan = scan
	return sr
}

// withStart sets sr.startOK and returns sr.
func (sr *scopedRegexp) withStart(startOK func(s string, p int) bool) *scopedRegexp {
	sr.startOK = startOK
	return sr
}

// wordBytes are the bytes that \b counts as word characters. A pattern
// with \b keeps them inside segments, so that \b at a segment's edge reads
// the same as in the whole text: a byte that is not a word character.
const wordBytes = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_"

// asciiSpace is the class \s of Go's regexp.
const asciiSpace = " \t\n\f\r"

// newScopedRegexp scopes re: insideASCII lists the ASCII bytes that a
// match may contain, besides wordBytes when re uses \b, and keep is the
// prefilter.
func newScopedRegexp(re *regexp.Regexp, insideASCII string, keep func(string) bool) *scopedRegexp {
	sr := &scopedRegexp{re: re, keep: keep}
	for c := 0x80; c < 0x100; c++ {
		sr.inside[c] = true
	}
	if usesWordBoundary(re) {
		insideASCII += wordBytes
	}
	for i := 0; i < len(insideASCII); i++ {
		sr.inside[insideASCII[i]] = true
	}
	return sr
}

// usesWordBoundary reports whether re contains \b or \B.
func usesWordBoundary(re *regexp.Regexp) bool {
	tree, err := syntax.Parse(re.String(), syntax.Perl)
	if err != nil {
		// re compiled from the same text, so this does not happen.
		panic(err)
	}
	var walk func(*syntax.Regexp) bool
	walk = func(n *syntax.Regexp) bool {
		if n.Op == syntax.OpWordBoundary || n.Op == syntax.OpNoWordBoundary {
			return true
		}
		return slices.ContainsFunc(n.Sub, walk)
	}
	return walk(tree)
}

// allExcept returns every ASCII byte except those in excluded, for
// patterns whose matches may contain nearly anything.
func allExcept(excluded string) string {
	var b strings.Builder
	for c := byte(0); c < 0x80; c++ {
		if strings.IndexByte(excluded, c) < 0 {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// findAll returns what re.FindAllStringSubmatchIndex(s, -1) returns.
func (sr *scopedRegexp) findAll(s string) [][]int {
	var found [][]int
	for i := 0; i < len(s); {
		if !sr.inside[s[i]] {
			i++
			continue
		}
		j := i + 1
		for j < len(s) && sr.inside[s[j]] {
			j++
		}
		if sr.keep == nil || sr.keep(s[i:j]) {
			found = sr.appendMatches(found, s, i, j)
		}
		i = j
	}
	return found
}

// --- prefilters ---

// indexFold returns the offset of the first occurrence of word in s at or
// after from, as (?i) in Go's regexp matches it, and the occurrence's
// length in s, or -1 and 0. word is lower-case ASCII. Among ASCII letters
// only "k" and "s" have a case variant outside ASCII under simple
// folding: the Kelvin sign U+212A and the long s U+017F.
func indexFold(s, word string, from int) (int, int) {
	first := word[0]
	for i := from; i < len(s); i++ {
		c := s[i]
		// c|0x20 lower-cases an ASCII letter. The lead bytes of U+212A
		// and U+017F are 0xE2 and 0xC5.
		if c|0x20 != first && !(first == 'k' && c == 0xE2) && !(first == 's' && c == 0xC5) {
			continue
		}
		if n := prefixFold(s[i:], word); n > 0 {
			return i, n
		}
	}
	return -1, 0
}

// prefixFold returns the length of the prefix of s that matches word as
// indexFold compares, or 0.
func prefixFold(s, word string) int {
	j := 0
	for i := 0; i < len(word); i++ {
		w := word[i]
		if j >= len(s) {
			return 0
		}
		c := s[j]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		switch {
		case c == w:
			j++
		case w == 'k' && strings.HasPrefix(s[j:], "\u212a"):
			j += len("\u212a")
		case w == 's' && strings.HasPrefix(s[j:], "\u017f"):
			j += len("\u017f")
		default:
			return 0
		}
	}
	return j
}

// containsAnyFold reports whether s contains one of words, as indexFold
// compares.
func containsAnyFold(s string, words ...string) bool {
	for _, w := range words {
		if i, _ := indexFold(s, w, 0); i >= 0 {
			return true
		}
	}
	return false
}

// containsAnyWordFold is containsAnyFold for occurrences where \b holds
// before the word: at the start of s or after a byte that is not an ASCII
// letter, digit or "_". That equals \b only when the word's first letter
// has no case variant outside ASCII, so words must not start with "k" or
// "s".
func containsAnyWordFold(s string, words ...string) bool {
	for _, w := range words {
		for i, _ := indexFold(s, w, 0); i >= 0; i, _ = indexFold(s, w, i+1) {
			if i == 0 || !isASCIIWordByte(s[i-1]) {
				return true
			}
		}
	}
	return false
}

func isASCIIWordByte(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// hasAssignedKey reports whether s contains "key", "token" or "secret"
// (as indexFold compares) followed by an optional quote, white space and
// ":" or "=", as every key name of secretAssignRe ends.
func hasAssignedKey(s string) bool {
	for _, w := range []string{"key", "token", "secret"} {
		for i, n := indexFold(s, w, 0); i >= 0; i, n = indexFold(s, w, i+1) {
			rest := s[i+n:]
			if rest != "" && (rest[0] == '"' || rest[0] == '\'') {
				rest = rest[1:]
			}
			rest = strings.TrimLeft(rest, asciiSpace)
			if rest != "" && (rest[0] == ':' || rest[0] == '=') {
				return true
			}
		}
	}
	return false
}

// literalSet reports whether a text contains one of a set of byte strings,
// in one pass.
type literalSet struct{ ac *acAutomaton }

func newLiteralSet(literals ...string) *literalSet {
	return &literalSet{ac: newACAutomaton(literals)}
}

func (l *literalSet) in(s string) bool {
	found := false
	l.ac.scan(s, func(_, _, _ int) bool {
		found = true
		return false
	})
	return found
}

// countDigits returns the number of ASCII digits in s.
func countDigits(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			n++
		}
	}
	return n
}

// hasIBANStart reports whether s contains two ASCII capitals followed by
// two digits, as every IBAN starts.
func hasIBANStart(s string) bool {
	for i := 0; i+3 < len(s); i++ {
		if isUpper(s[i]) && isUpper(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+3]) {
			return true
		}
	}
	return false
}

func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }
