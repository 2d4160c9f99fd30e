package processors

import "strings"

// The functions in this file decide, from the few bytes after a keyword,
// whether one of the anchored patterns can match there, so that the
// regular expression runs only where a match is likely. Each accepts
// every offset where its pattern matches, and the tests compare the
// anchored patterns with the original ones over random texts.
//
// Each also returns false when s ends before it can decide. That is what
// the pattern does at the end of the text, and redactState relies on it
// when it reads a text cut right before a placeholder, whose "[" fails
// every check here.

// passwordLabel is a set of the password patterns whose label list
// contains the label at some offset.
type passwordLabel uint8

const (
	labelAssignment passwordLabel = 1 << iota // passwordRe
	labelPasscode                             // passcodeRe
	labelProse                                // passwordProseRe
)

// passwordLabelAt returns the length of the password label at s[k], as
// prefixFold compares, and the patterns that list it, or 0. At most one
// label fits: "password", "passwort", "passwd", "passcode" and
// "pass code" part after "pass".
func passwordLabelAt(s string, k int) (int, passwordLabel) {
	rest := s[k:]
	if len(rest) < 3 || rest[0]|0x20 != 'p' {
		return 0, 0
	}
	if n := prefixFold(rest, "pass"); n > 0 {
		for _, l := range []struct {
			tail string
			in   passwordLabel
		}{
			{"word", labelAssignment | labelProse}, {"wort", labelAssignment | labelProse},
			{"wd", labelAssignment | labelProse}, {"code", labelAssignment | labelPasscode},
			{" code", labelAssignment | labelPasscode},
		} {
			if m := prefixFold(rest[n:], l.tail); m > 0 {
				return n + m, l.in
			}
		}
		return 0, 0
	}
	if n := prefixFold(rest, "pwd"); n > 0 {
		return n, labelAssignment | labelProse
	}
	if n := prefixFold(rest, "pin"); n > 0 {
		return n, labelAssignment | labelPasscode
	}
	return 0, 0
}

// passwordAssignmentAt reports whether passwordRe may match at s[k]: a
// label, an optional quote, spaces or tabs and ":" or "=".
func passwordAssignmentAt(s string, k int) bool {
	n, in := passwordLabelAt(s, k)
	if in&labelAssignment == 0 {
		return false
	}
	i := k + n
	if i < len(s) && (s[i] == '"' || s[i] == '\'') {
		i++
	}
	i = skipSpaceTab(s, i)
	return i < len(s) && (s[i] == ':' || s[i] == '=')
}

// passwordAssignmentEnd returns an offset that no match of passwordRe
// starting at s[k] ends after. After the separator, the pattern takes
// spaces, tabs, "&nbsp;" and tags of up to 80 bytes, then the value up to
// white space or "<". Taking as many of the first as there are gives the
// furthest end, because a value that started earlier, at the "&" of an
// "&nbsp;", would end at the same white space or "<".
func passwordAssignmentEnd(s string, k int) int {
	n, in := passwordLabelAt(s, k)
	if in&labelAssignment == 0 {
		return k
	}
	i := k + n
	if i < len(s) && (s[i] == '"' || s[i] == '\'') {
		i++
	}
	i = skipSpaceTab(s, i)
	if i >= len(s) || s[i] != ':' && s[i] != '=' {
		return i
	}
	for i++; i < len(s); {
		if s[i] == ' ' || s[i] == '\t' {
			i++
		} else if m := prefixFold(s[i:], "&nbsp;"); m > 0 {
			i += m
		} else if j := tagEnd(s, i); j > 0 {
			i = j
		} else {
			break
		}
	}
	for i < len(s) && strings.IndexByte(asciiSpace, s[i]) < 0 && s[i] != '<' {
		i++
	}
	return i
}

// tagEnd returns the end of the tag <[^>\n]{0,80}> at s[i], or 0.
func tagEnd(s string, i int) int {
	if s[i] != '<' {
		return 0
	}
	for j := i + 1; j < len(s) && j <= i+81; j++ {
		switch s[j] {
		case '>':
			return j + 1
		case '\n':
			return 0
		}
	}
	return 0
}

// passcodeAt reports whether passcodeRe may match at s[k]: a label,
// spaces or tabs and a digit or the "i" of "is".
func passcodeAt(s string, k int) bool {
	n, in := passwordLabelAt(s, k)
	if in&labelPasscode == 0 {
		return false
	}
	i := skipSpaceTab(s, k+n)
	return i > k+n && i < len(s) && (isDigit(s[i]) || s[i]|0x20 == 'i')
}

// passwordProseAt reports whether passwordProseRe may match at s[k]: a
// label, spaces or tabs and the first letter of "is", "was", "would be"
// or "will be".
func passwordProseAt(s string, k int) bool {
	n, in := passwordLabelAt(s, k)
	if in&labelProse == 0 {
		return false
	}
	i := skipSpaceTab(s, k+n)
	return i > k+n && i < len(s) && (s[i]|0x20 == 'i' || s[i]|0x20 == 'w')
}

// passwordMayStartAt reports whether one of the password patterns may
// match at s[k].
func passwordMayStartAt(s string, k int) bool {
	return passwordAssignmentAt(s, k) || passcodeAt(s, k) || passwordProseAt(s, k)
}

// authorizationAt reports whether authorizationRe may match at s[k]:
// "authorization", white space and ":", or "bearer", white space and a
// token character.
func authorizationAt(s string, k int) bool {
	if n := prefixFold(s[k:], "authorization"); n > 0 {
		i := skipASCIISpace(s, k+n)
		return i < len(s) && s[i] == ':'
	}
	if n := prefixFold(s[k:], "bearer"); n > 0 {
		i := skipASCIISpace(s, k+n)
		return i > k+n && i < len(s) && isTokenByte(s[i])
	}
	return false
}

// isTokenByte reports whether c may start a character of
// (?i)[A-Za-z0-9\-._~+/], the characters of a bearer token. Under (?i) the
// class also holds the Kelvin sign and the long s, so every byte of a
// multi-byte rune counts.
func isTokenByte(c byte) bool {
	return isASCIIWordByte(c) || c == '-' || c == '.' || c == '~' || c == '+' || c == '/' || c >= 0x80
}

func skipSpaceTab(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i
}

// skipASCIISpace skips the bytes of \s in Go's regexp: space, \t, \n, \f
// and \r.
func skipASCIISpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\f' || s[i] == '\r') {
		i++
	}
	return i
}

// chainDigits counts the digits of the chain that starts at s[p]: digit
// runs joined by at most maxSep bytes of seps. It stops counting at
// enough.
func chainDigits(s string, p, maxSep int, seps *byteSet, enough int) int {
	n := 0
	for i := p; i < len(s) && n < enough; {
		if isDigit(s[i]) {
			n++
			i++
			continue
		}
		j := i
		for j < len(s) && j-i < maxSep && seps[s[j]] {
			j++
		}
		if j == i || j >= len(s) || !isDigit(s[j]) || i == p {
			break
		}
		i = j
	}
	return n
}

// byteSet holds true for the bytes of a set.
type byteSet [256]bool

func newByteSet(members string) *byteSet {
	var set byteSet
	for i := 0; i < len(members); i++ {
		set[members[i]] = true
	}
	return &set
}

// The separators that join the digit groups of a card number and of a
// phone number.
var (
	cardSeparators  = newByteSet(" -")
	phoneSeparators = newByteSet(") .-/(")
)

// digitGroupsAt reports whether s[p:] starts with digit groups of the
// given sizes, joined by sep, which must be there when required is true
// and may be left out otherwise.
func digitGroupsAt(s string, p int, sep byte, required bool, sizes ...int) bool {
	i := p
	for g, size := range sizes {
		if g > 0 {
			if i < len(s) && s[i] == sep {
				i++
			} else if required {
				return false
			}
		}
		for range size {
			if i >= len(s) || !isDigit(s[i]) {
				return false
			}
			i++
		}
	}
	return true
}

// dottedQuadAt reports whether s[p:] starts with four runs of one to
// three digits joined by dots, the shape of ipv4Re.
func dottedQuadAt(s string, p int) bool {
	i := p
	for part := range 4 {
		n := leadingDigits(s[i:])
		if n < 1 || n > 3 {
			return false
		}
		i += n
		if part < 3 {
			if i >= len(s) || s[i] != '.' {
				return false
			}
			i++
		}
	}
	return true
}

// secretPrefixAt reports whether one of literalKeywords, the issuer
// prefixes that secretPrefixRe's matches start with, starts at s[k].
func secretPrefixAt(s string, k int) bool {
	rest := s[k:]
	if len(rest) < 3 {
		return false
	}
	switch rest[0] {
	case 'p':
		return rest[1] == 'k' && rest[2] == '_'
	case 'A':
		return strings.HasPrefix(rest, "AKIA") || strings.HasPrefix(rest, "ASIA") || strings.HasPrefix(rest, "AIza")
	case 'x':
		return rest[1] == 'o' && rest[2] == 'x'
	}
	return issuerPrefixAt(s, k)
}

// assignedKeyWords reports whether one of the first words of
// secretAssignRe's key names starts at s[k], as prefixFold compares.
func assignedKeyWords(s string, k int) bool {
	var words []string
	switch c := s[k]; c | 0x20 {
	case 'a':
		words = []string{"api", "access", "auth"}
	case 's':
		words = []string{"secret"}
	case 'p':
		words = []string{"private"}
	case 'r':
		words = []string{"refresh"}
	case 'c':
		words = []string{"client"}
	case 't':
		words = []string{"token"}
	case 'k':
		words = []string{"key"}
	default:
		// The Kelvin sign and the long s start "key" and "secret".
		switch c {
		case 0xE2:
			words = []string{"key"}
		case 0xC5:
			words = []string{"secret"}
		}
	}
	for _, w := range words {
		if prefixFold(s[k:], w) > 0 {
			return true
		}
	}
	return false
}
