package processors

import (
	"regexp"
	"slices"
	"strings"
)

// redactIndex lists the offsets in one text where the digit-based and the
// keyword-based detectors start looking, so that each detector visits only
// the segments around them instead of every byte of the text.
//
// It is built with one scan when a text first enters redactText, and
// update keeps it valid after each replacement without scanning again.
// A replacement drops the offsets inside the replaced ranges and shifts
// the offsets after them. Placeholders contain no digit, but "[PASSWORD]"
// and "[SECRET]" contain keywords, and a new digit run or keyword may start
// right after a placeholder.
type redactIndex struct {
	s string
	// digitRuns holds the offset of the first digit of every run of
	// ASCII digits, in increasing order.
	digitRuns []int
	// keywords holds, in increasing order, the offsets where \b holds
	// and one of foldKeywords (as prefixFold compares) or of
	// literalKeywords starts.
	keywords []int
}

// foldKeywords are the lower-case words that the matches of the
// authorization, password and key assignment patterns start with.
var foldKeywords = []string{
	"authorization", "bearer", "pass", "pwd", "pin",
	"api", "access", "secret", "private", "auth", "refresh", "client", "token", "key",
}

// literalKeywords are the issuer prefixes that secretPrefixRe's matches
// start with, in their only case.
var literalKeywords = []string{
	"sk_", "pk_", "rk_", "AKIA", "ASIA", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_",
	"xox", "glpat-", "AIza", "sk-", "eyJ",
}

// Bits of indexByteClass.
const (
	classDigit   = 1 << iota // an ASCII digit
	classWord                // an ASCII word character, as \b counts them
	classKeyword             // the first byte of a keyword
)

// indexByteClass holds the class bits of each byte.
var indexByteClass = func() (table [256]uint8) {
	for c := range 256 {
		if isDigit(byte(c)) {
			table[c] |= classDigit
		}
		if isASCIIWordByte(byte(c)) {
			table[c] |= classWord
		}
		if len(keywordsByFirstByte[c]) > 0 {
			table[c] |= classKeyword
		}
	}
	return table
}()

// newRedactIndex scans s once.
func newRedactIndex(s string) *redactIndex {
	ix := &redactIndex{s: s}
	var prev uint8
	for i := 0; i < len(s); i++ {
		class := indexByteClass[s[i]]
		if class&^prev&classDigit != 0 {
			ix.digitRuns = append(ix.digitRuns, i)
		}
		// A keyword starts where \b holds: at a word character after a
		// byte that is not one, or at a Kelvin sign or long s after one.
		if class&classKeyword != 0 && (class^prev)&classWord != 0 && keywordAt(s, i) {
			ix.keywords = append(ix.keywords, i)
		}
		prev = class
	}
	return ix
}

// keyword is one entry of keywordsByFirstByte.
type keyword struct {
	word string
	fold bool // compare as prefixFold does, else byte for byte
}

// keywordsByFirstByte lists, for each byte, the keywords whose first rune
// can start with it. Under (?i), "k" and "s" also match the Kelvin sign
// U+212A and the long s U+017F, whose first bytes are 0xE2 and 0xC5.
var keywordsByFirstByte = func() (table [256][]keyword) {
	for _, w := range foldKeywords {
		first := w[0]
		table[first] = append(table[first], keyword{w, true})
		table[first-'a'+'A'] = append(table[first-'a'+'A'], keyword{w, true})
		switch first {
		case 'k':
			table[0xE2] = append(table[0xE2], keyword{w, true})
		case 's':
			table[0xC5] = append(table[0xC5], keyword{w, true})
		}
	}
	for _, w := range literalKeywords {
		table[w[0]] = append(table[w[0]], keyword{w, false})
	}
	return table
}()

// keywordSecondBytes is a set of byte pairs, a bit per pair: bit b%64 of
// keywordSecondBytes[a][b/64] is set when some keyword can start with the
// bytes a and b, so that most words are rejected after two bytes.
var keywordSecondBytes = func() (set [256][4]uint64) {
	add := func(a, b byte) { set[a][b/64] |= 1 << (b % 64) }
	firsts := func(c byte, fold bool) []byte {
		if !fold || c < 'a' || c > 'z' {
			return []byte{c}
		}
		out := []byte{c, c - 'a' + 'A'}
		switch c {
		case 'k':
			out = append(out, 0xE2)
		case 's':
			out = append(out, 0xC5)
		}
		return out
	}
	for c := range 256 {
		for _, k := range keywordsByFirstByte[c] {
			// A first rune of more than one byte is U+212A (E2 84 AA)
			// or U+017F (C5 BF).
			switch c {
			case 0xE2:
				add(0xE2, 0x84)
				continue
			case 0xC5:
				add(0xC5, 0xBF)
				continue
			}
			for _, second := range firsts(k.word[1], k.fold) {
				add(byte(c), second)
			}
		}
	}
	return set
}()

// keywordAt reports whether one of the keywords starts at s[i], ignoring
// the \b before it, which the caller checks.
func keywordAt(s string, i int) bool {
	candidates := keywordsByFirstByte[s[i]]
	if len(candidates) == 0 || i+1 >= len(s) {
		return false
	}
	if second := s[i+1]; keywordSecondBytes[s[i]][second/64]&(1<<(second%64)) == 0 {
		return false
	}
	rest := s[i:]
	for _, k := range candidates {
		if k.fold && prefixFold(rest, k.word) > 0 || !k.fold && strings.HasPrefix(rest, k.word) {
			return true
		}
	}
	return false
}

// wordBoundaryAt reports whether \b of Go's regexp holds at s[i]: the
// bytes before and at i differ in being ASCII word characters. A byte of a
// multi-byte rune is never one, as the rune is not.
func wordBoundaryAt(s string, i int) bool {
	before := i > 0 && isASCIIWordByte(s[i-1])
	at := i < len(s) && isASCIIWordByte(s[i])
	return before != at
}

// update makes ix describe out, the text that replacing matches (sorted and
// non-overlapping, each by placeholder) made from ix.s.
func (ix *redactIndex) update(out string, matches []piiMatch, placeholder string) {
	ix.digitRuns = shiftOffsets(ix.digitRuns, matches, placeholder, nil, func(end int) bool {
		return end < len(out) && isDigit(out[end])
	})
	inner := newRedactIndex(placeholder).keywords
	ix.keywords = shiftOffsets(ix.keywords, matches, placeholder, inner, func(end int) bool {
		return end < len(out) && wordBoundaryAt(out, end) && keywordAt(out, end)
	})
	ix.s = out
}

// shiftOffsets moves offsets from the old text to the new one. Offsets
// inside a replaced range or right after it go, and the others shift by
// the length change. For each placeholder, the offsets inner (relative to
// the placeholder) are added, and so is the offset right after it when
// startsAt reports true there, because the byte before it changed.
func shiftOffsets(offsets []int, matches []piiMatch, placeholder string, inner []int, startsAt func(newOffset int) bool) []int {
	kept := make([]int, 0, len(offsets)+len(inner)*len(matches)+1)
	delta := 0
	k := 0
	for mi, m := range matches {
		for k < len(offsets) && offsets[k] < m.start {
			kept = append(kept, offsets[k]+delta)
			k++
		}
		for k < len(offsets) && offsets[k] <= m.end {
			k++
		}
		for _, off := range inner {
			kept = append(kept, m.start+delta+off)
		}
		delta += len(placeholder) - (m.end - m.start)
		adjacent := mi+1 < len(matches) && matches[mi+1].start == m.end
		if end := m.end + delta; !adjacent && startsAt(end) {
			kept = append(kept, end)
		}
	}
	for ; k < len(offsets); k++ {
		kept = append(kept, offsets[k]+delta)
	}
	return kept
}

// byteOffsets returns the offsets of every occurrence of the bytes in set
// in s, in increasing order.
func byteOffsets(s string, set string) []int {
	var offsets []int
	for i := 0; i < len(set); i++ {
		for from := 0; ; {
			j := strings.IndexByte(s[from:], set[i])
			if j < 0 {
				break
			}
			offsets = append(offsets, from+j)
			from += j + 1
		}
	}
	if len(set) > 1 {
		slices.Sort(offsets)
	}
	return offsets
}

// findAround returns what findAll(s) returns, visiting only the segments
// that contain one of triggers (sorted offsets). Every segment that keep
// accepts must contain a trigger, and triggers outside every segment are
// skipped.
func (sr *scopedRegexp) findAround(s string, triggers []int) [][]int {
	var found [][]int
	end := 0 // the end of the last segment visited
	for _, p := range triggers {
		if p < end || !sr.inside[s[p]] {
			continue
		}
		i := p
		for i > end && sr.inside[s[i-1]] {
			i--
		}
		j := p + 1
		for j < len(s) && sr.inside[s[j]] {
			j++
		}
		end = j
		seg := s[i:j]
		if sr.keep != nil && !sr.keep(seg) {
			continue
		}
		for _, loc := range sr.re.FindAllStringSubmatchIndex(seg, -1) {
			for k := range loc {
				if loc[k] >= 0 {
					loc[k] += i
				}
			}
			found = append(found, loc)
		}
	}
	return found
}

// anchoredRegexp finds the matches of a pattern of the form \b(?:w1|w2…)…
// by trying, at each offset where one of the words starts, the same
// pattern anchored there. That returns what FindAllStringSubmatchIndex
// over the whole text returns, because every match starts at such an
// offset, and the leftmost-first match that starts there is the anchored
// pattern's match.
type anchoredRegexp struct {
	// re is the pattern with its leading \b replaced by ^; findAll checks
	// \b itself.
	re *regexp.Regexp
	// startsHere reports whether a match can start at s[k]: one of the
	// words starts there, and what must follow it does. It may accept
	// offsets where no match starts but must accept every one where one
	// does.
	startsHere func(s string, k int) bool
	// windowEnd returns an offset that no match starting at k reaches
	// past, such as the end of the line for patterns that never cross one.
	windowEnd func(s string, k int) int
}

// findAll returns the matches in s, given starts: sorted offsets that
// include every offset where \b holds and one of the pattern's words
// starts.
func (ar *anchoredRegexp) findAll(s string, starts []int) [][]int {
	var found [][]int
	end := 0
	for _, k := range starts {
		if k < end || !ar.startsHere(s, k) || !wordBoundaryAt(s, k) {
			continue
		}
		loc := ar.re.FindStringSubmatchIndex(s[k:ar.windowEnd(s, k)])
		if loc == nil {
			continue
		}
		for i := range loc {
			if loc[i] >= 0 {
				loc[i] += k
			}
		}
		found = append(found, loc)
		end = loc[1]
	}
	return found
}

// startsWithFold returns a startsHere function that accepts offsets where
// one of the lower-case words starts, as prefixFold compares.
func startsWithFold(words ...string) func(s string, k int) bool {
	return func(s string, k int) bool {
		for _, w := range words {
			if prefixFold(s[k:], w) > 0 {
				return true
			}
		}
		return false
	}
}

// startsWithLiteral returns a startsHere function that accepts offsets
// where one of prefixes starts.
func startsWithLiteral(prefixes ...string) func(s string, k int) bool {
	return func(s string, k int) bool {
		for _, p := range prefixes {
			if strings.HasPrefix(s[k:], p) {
				return true
			}
		}
		return false
	}
}

// segmentEnd returns a windowEnd function for a pattern whose matches stay
// inside the segments of sr.
func segmentEnd(sr *scopedRegexp) func(s string, k int) int {
	return func(s string, k int) int {
		for k < len(s) && sr.inside[s[k]] {
			k++
		}
		return k
	}
}

// lineEnd returns the offset of the first line feed at or after k, or
// len(s).
func lineEnd(s string, k int) int {
	if i := strings.IndexByte(s[k:], '\n'); i >= 0 {
		return k + i
	}
	return len(s)
}
