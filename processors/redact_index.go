package processors

import (
	"math/bits"
	"slices"
	"strings"
)

// redactIndex lists the offsets in one text where the detectors start
// looking, so that each detector visits only the segments around them
// instead of every byte of the text.
//
// build fills it with one scan of the text, and apply keeps it valid after
// replacements without scanning again. A replacement drops the offsets
// inside the replaced range and shifts the offsets after it. Placeholders
// contain no digit, "@" or ":", but "[PASSWORD]" is an anchor, and a new
// digit run or anchor may start right after a placeholder.
type redactIndex struct {
	s string
	// digitRuns holds the offset of the first digit of every run of
	// ASCII digits, in increasing order.
	digitRuns []int
	// anchors holds, in increasing order, the offsets where anchorAt
	// holds: where a match of the authorization, issuer prefix, key
	// assignment or password patterns may start.
	anchors []int
	// ats and colons hold the offsets of every "@" and ":", in increasing
	// order.
	ats    []int
	colons []int
	// found collects anchors out of order while build runs.
	found []int
	// filter, when not nil, limits the segments that detectors read.
	filter *spanFilter
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

// anchorAt reports whether a match of the keyword patterns may start at
// s[k]: \b holds there, a keyword starts there, and it is one that
// build finds cheaply. Checking every word for a keyword would cost more
// than the rest of Redact, so build looks for each kind by a rarer mark:
//
//   - a word that starts with "b", "p" or "A": "bearer", the password
//     labels, "pk_", "AKIA", "ASIA", "AIza" and capitalized key names;
//   - a key name followed by an optional quote, white space and ":" or
//     "=" (assignmentFollows), found from the ":" or "=": every match of
//     the key assignment pattern and of "authorization:";
//   - an issuer prefix, found from its "_", "-" or "J".
//
// Every match of the keyword patterns starts at such an offset.
func anchorAt(s string, k int) bool {
	if !wordBoundaryAt(s, k) || !keywordAt(s, k) {
		return false
	}
	switch s[k] {
	case 'b', 'B', 'p', 'P', 'A':
		return true
	}
	return issuerPrefixAt(s, k) || assignmentFollows(s, k)
}

// issuerMarks are the offsets of the "_", "-" or "J" in the issuer
// prefixes that need one. "sk_", "rk_", "sk-" and "eyJ" have it at 2,
// "gh?_" at 3, "xox?-" at 4, "glpat-" at 5 and "github_pat_" at 6 and 10.
// The prefixes that start with "p" or "A" need none.
var issuerMarks = []int{2, 3, 4, 5, 6, 10}

// issuerPrefixAt reports whether an issuer prefix with a mark starts at
// s[k].
func issuerPrefixAt(s string, k int) bool {
	rest := s[k:]
	if len(rest) < 3 {
		return false
	}
	switch rest[0] {
	case 's', 'r':
		return rest[1] == 'k' && (rest[2] == '_' || rest[2] == '-' && rest[0] == 's')
	case 'e':
		return rest[1] == 'y' && rest[2] == 'J'
	case 'g':
		if len(rest) >= 4 && rest[1] == 'h' && strings.IndexByte("pousr", rest[2]) >= 0 && rest[3] == '_' {
			return true
		}
		return strings.HasPrefix(rest, "github_pat_") || strings.HasPrefix(rest, "glpat-")
	case 'x':
		return len(rest) >= 5 && rest[1] == 'o' && rest[2] == 'x' && strings.IndexByte("abporse", rest[3]) >= 0 && rest[4] == '-'
	}
	return false
}

// newRedactIndex returns the index of s.
func newRedactIndex(s string) *redactIndex {
	ix := &redactIndex{}
	ix.build(s)
	return ix
}

// build makes ix the index of s, reusing its slices.
func (ix *redactIndex) build(s string) {
	ix.s = s
	ix.digitRuns = ix.digitRuns[:0]
	ix.anchors = ix.anchors[:0]
	ix.ats = appendByteOffsets(ix.ats[:0], s, '@')
	ix.colons = appendByteOffsets(ix.colons[:0], s, ':')
	ix.scanDigitsAndWords(s)

	// The anchors found from the bytes after them, out of order.
	ix.found = ix.found[:0]
	for _, p := range ix.colons {
		ix.found = appendAssignedKeys(ix.found, s, p)
	}
	for from := 0; ; {
		j := strings.IndexByte(s[from:], '=')
		if j < 0 {
			break
		}
		ix.found = appendAssignedKeys(ix.found, s, from+j)
		from += j + 1
	}
	for _, c := range []byte{'_', '-', 'J'} {
		for from := 0; ; {
			j := strings.IndexByte(s[from:], c)
			if j < 0 {
				break
			}
			p := from + j
			for _, off := range issuerMarks {
				if k := p - off; k >= 0 && anchorAt(s, k) {
					ix.found = append(ix.found, k)
				}
			}
			from = p + 1
		}
	}
	ix.anchors = mergeOffsets(ix.anchors, ix.found)
}

// appendAssignedKeys appends the anchors in the key name before the ":"
// or "=" at s[p]: the word before it, past white space and one quote.
func appendAssignedKeys(dst []int, s string, p int) []int {
	j := p
	for j > 0 && strings.IndexByte(asciiSpace, s[j-1]) >= 0 {
		j--
	}
	if j > 0 && (s[j-1] == '"' || s[j-1] == '\'') {
		j--
	}
	w := j
	for w > 0 && isAssignedKeyByte(s[w-1]) {
		w--
	}
	for k := w; k < j; k++ {
		if anchorAt(s, k) {
			dst = append(dst, k)
		}
	}
	return dst
}

// isAssignedKeyByte reports whether c may be part of a key name that
// assignmentFollows reads: an ASCII word character, "-" or a byte of a
// non-ASCII rune.
func isAssignedKeyByte(c byte) bool { return isASCIIWordByte(c) || c == '-' || c >= 0x80 }

// mergeOffsets adds the offsets of extra (in any order, maybe repeated)
// to sorted, keeping it sorted and without repeats.
func mergeOffsets(sorted, extra []int) []int {
	if len(extra) == 0 {
		return sorted
	}
	slices.Sort(extra)
	n := len(sorted)
	for i, off := range extra {
		if i == 0 || off != extra[i-1] {
			sorted = append(sorted, off)
		}
	}
	if n > 0 {
		slices.Sort(sorted)
		sorted = slices.Compact(sorted)
	}
	return sorted
}

// scanDigitsAndWords adds the digit runs of s and the anchors at words
// that start with "b", "p" or "A".
func (ix *redactIndex) scanDigitsAndWords(s string) {
	// The scan reads 8 bytes at a time and computes, for each byte, a flag
	// in its high bit: is it a digit, is it a word character, is it one of
	// the letters. A digit run starts at a digit after a byte that is not
	// one, and a word where a word character follows a byte that is not
	// one.
	var prevDigit, prevWord uint64 // the flags of the byte before the block, moved to byte 0
	i := 0
	for ; i+8 <= len(s); i += 8 {
		x := load64(s, i)
		lower := x | 0x2020202020202020 // lower-case letters; no other byte lands on 'a'..'z'
		digit := bytesBetween(x, '0'-1, '9'+1)
		word := digit | bytesBetween(lower, 'a'-1, 'z'+1) | bytesBetween(x, '_'-1, '_'+1)
		letters := bytesBetween(lower, 'b'-1, 'b'+1) | bytesBetween(lower, 'p'-1, 'p'+1) | bytesBetween(x, 'A'-1, 'A'+1)
		runStarts := digit &^ (digit<<8 | prevDigit)
		starts := letters & word &^ (word<<8 | prevWord)
		prevDigit = digit >> 56
		prevWord = word >> 56

		for ; runStarts != 0; runStarts &= runStarts - 1 {
			ix.digitRuns = append(ix.digitRuns, i+bits.TrailingZeros64(runStarts)>>3)
		}
		for ; starts != 0; starts &= starts - 1 {
			k := i + bits.TrailingZeros64(starts)>>3
			if k+1 >= len(s) {
				break
			}
			// keywordAt's first test, inlined: most words fail it.
			if c := s[k+1]; keywordSecondBytes[s[k]][c>>6]&(1<<(c&63)) != 0 && keywordAt(s, k) {
				ix.anchors = append(ix.anchors, k)
			}
		}
	}
	for ; i < len(s); i++ {
		if isDigit(s[i]) && (i == 0 || !isDigit(s[i-1])) {
			ix.digitRuns = append(ix.digitRuns, i)
		}
		if c := s[i] | 0x20; (c == 'b' || c == 'p' || s[i] == 'A') && anchorAt(s, i) {
			ix.anchors = append(ix.anchors, i)
		}
	}
}

// Constants of the byte-parallel scan: a uint64 holds 8 bytes of text,
// the first in its low byte.
const (
	swarOnes = 0x0101010101010101
	swarHigh = 0x8080808080808080
	swarLow7 = 0x7f7f7f7f7f7f7f7f
)

// load64 returns s[i:i+8] as a little-endian uint64. The compiler turns
// it into one load.
func load64(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// bytesBetween returns the high bit of each byte of x that is greater
// than lo and less than hi, for lo < 0x80 and hi <= 0x80, so only ASCII
// bytes match. Masking each byte to 7 bits first keeps the subtraction
// and the addition from carrying into the next byte.
func bytesBetween(x uint64, lo, hi byte) uint64 {
	low := x & swarLow7
	return (swarOnes*(127+uint64(hi)) - low) & ^x & (low + swarOnes*(127-uint64(lo))) & swarHigh
}

// appendByteOffsets appends the offsets of every c in s to dst.
func appendByteOffsets(dst []int, s string, c byte) []int {
	for from := 0; ; {
		j := strings.IndexByte(s[from:], c)
		if j < 0 {
			return dst
		}
		dst = append(dst, from+j)
		from += j + 1
	}
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
	if i+1 >= len(s) {
		return false
	}
	first, second := s[i], s[i+1]
	if keywordSecondBytes[first][second/64]&(1<<(second%64)) == 0 {
		return false
	}
	rest := s[i:]
	for _, k := range keywordsByFirstByte[first] {
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
