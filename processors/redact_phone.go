package processors

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// --- phone numbers ---

// phoneLabelReach is how many bytes before a phone number validPhone
// searches for a label such as "phone:" or "order".
const phoneLabelReach = 40

var (
	// phoneCandidateRe matches runs of digit groups joined by one
	// separator (space, dot, dash or slash) or by parentheses around an
	// area code, with an optional leading "+".
	phoneCandidateRe = regexp.MustCompile(`\+?\(?[0-9]+(?:(?:\) ?|[ .\-/]\(?|\()[0-9]+)*`)
)

// phoneCandidateScoped finds the candidates of findPhones. A segment with
// fewer than 8 digits holds no phone number, because every rule needs 8.
//
// Its triggers are digit runs, and it visits a candidate from its first
// run only when 8 digits follow, joined as the pattern joins groups: by
// one or two of ") .-/(". A candidate with fewer digits holds no phone
// number, so skipping it changes nothing that findPhones returns.
var phoneCandidateScoped = newScopedRegexp(phoneCandidateRe, "0123456789+() .-/", func(seg string) bool {
	return countDigits(seg) >= 8
}).withStart(func(s string, p int) bool {
	return chainDigits(s, p, 2, phoneSeparators, 8) >= 8
}).withScan(scanPhoneCandidates)

// findPhones recognizes a phone number by shape, because phone numbers have
// no checksum. A candidate counts when it is:
//   - international: "+" or "00" and 8 to 15 digits (the E.164 maximum);
//   - national with a trunk prefix: starts with "0" or an area code in
//     parentheses, has 10 to 12 digits in groups of at least two, with
//     separators (020 7946 0018, 030 1234567, 06 12 34 56 78);
//   - North American: 555-123-4567, (555) 123-4567 and 1-800 forms;
//   - any run of 8 to 15 digits right after a label such as "phone:",
//     "tel", "mobile" or "call me at".
//
// Dates (2024-05-12, 12.05.2024, 05/12/24), numbers under 8 digits, digit
// runs without separators or "+" and numbers right after a reference label
// (order, invoice, ticket, account, "#") are left alone.
func findPhones(found []piiMatch, s string, ix *redactIndex) []piiMatch {
	var buf [16]span
	var groups [32][2]int
	for _, sp := range phoneCandidateScoped.spansAround(s, ix.digitRuns, ix.filter, buf[:0]) {
		if !endsWord(s, sp.end) {
			continue
		}
		found = phonesInCandidate(found, s, sp.start, digitGroups(groups[:0], s, sp.start, sp.end))
	}
	return found
}

// phonesInCandidate looks for phone numbers in one candidate. It tries the
// longest run of digit groups from the start first, then shorter ones, so
// that a number followed by another ("020 7946 0018 2024") is still found.
// After a match, or after a date at the start of the candidate, it starts
// again at the next group.
func phonesInCandidate(found []piiMatch, s string, candStart int, groups [][2]int) []piiMatch {
	for i := 0; i < len(groups); {
		start := groups[i][0]
		if i == 0 {
			start = candStart
		} else if s[start-1] == '(' {
			start--
		}

		next := -1
		if phoneStartOK(s, start) {
			for j := len(groups) - 1; j >= i; j-- {
				end := groups[j][1]
				if strings.Count(s[start:end], "(") != strings.Count(s[start:end], ")") {
					continue
				}
				if validPhone(s, start, end) {
					found = append(found, piiMatch{start, end, onlyDigits(s[start:end])})
					next = j + 1
					break
				}
			}
		}
		if next < 0 && i == 0 && len(groups) > 3 && startsWithDate(s[start:]) {
			next = 3 // skip the date's three groups
		}
		if next < 0 {
			break
		}
		i = next
	}
	return found
}

func phoneStartOK(s string, start int) bool {
	if start == 0 {
		return true
	}
	r, _ := utf8.DecodeLastRuneInString(s[:start])
	return !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune("._-/@+", r)
}

// validPhone applies the rules of findPhones to s[start:end]. The digit
// count decides most candidates before any pattern runs: every rule needs
// 8 to 15 digits after the international prefix.
func validPhone(s string, start, end int) bool {
	cand := s[start:end]
	digits := countDigits(cand)

	// A date starts with a digit, so "+" candidates need no date check.
	if cand[0] == '+' {
		return digits >= 8 && digits <= 15 && cand[strings.IndexFunc(cand, isDigitRune)] != '0'
	}
	if digits < 8 || digits > 15+2 {
		return false
	}
	if startsWithDate(strings.TrimPrefix(cand, "(")) {
		return false
	}
	if strings.HasPrefix(cand, "00") && thirdDigit(cand) != '0' {
		return digits-2 >= 8 && digits-2 <= 15
	}
	if digits > 15 {
		return false
	}

	before := s[max(0, start-phoneLabelReach):start]
	if endsWithPhoneReference(before) {
		return false
	}
	if endsWithPhoneLabel(before) || isNANP(cand) {
		return true
	}
	return (cand[0] == '0' || cand[0] == '(') && digits >= 10 && digits <= 12 && pairedGroups(cand)
}

// pairedGroups reports whether s has at least two digit runs and none of
// them is a single digit.
func pairedGroups(s string) bool {
	groups := 0
	for i := 0; i < len(s); {
		if !isDigit(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		if j-i < 2 {
			return false
		}
		groups++
		i = j
	}
	return groups > 1
}

// startsWithDate reports whether s starts with a date: three digit groups
// of 1 to 4, 1 to 2 and 1 to 4 digits joined by one repeated separator
// (".", "-" or "/"), followed by the end of s, a space or "T".
func startsWithDate(s string) bool {
	first := leadingDigits(s)
	if first < 1 || first > 4 || first == len(s) {
		return false
	}
	sep := s[first]
	if sep != '.' && sep != '-' && sep != '/' {
		return false
	}
	s = s[first+1:]
	second := leadingDigits(s)
	if second < 1 || second > 2 || second == len(s) || s[second] != sep {
		return false
	}
	s = s[second+1:]
	third := leadingDigits(s)
	if third < 1 || third > 4 {
		return false
	}
	return third == len(s) || s[third] == ' ' || s[third] == 'T'
}

// isNANP reports whether s is a whole North American number, with the
// area code and exchange starting with 2 to 9: 555-123-4567,
// (555) 123-4567, 555 123.4567 and 1-800-555-0199.
func isNANP(s string) bool {
	if len(s) >= 2 && s[0] == '1' && isNANPSeparator(s[1]) {
		s = s[2:]
	}
	if strings.HasPrefix(s, "(") {
		if len(s) < 5 || !isNANPGroup(s[1:4]) || s[4] != ')' {
			return false
		}
		s = strings.TrimPrefix(s[5:], " ")
	} else {
		if len(s) < 4 || !isNANPGroup(s[:3]) || !isNANPSeparator(s[3]) {
			return false
		}
		s = s[4:]
	}
	return len(s) == 8 && isNANPGroup(s[:3]) && isNANPSeparator(s[3]) && leadingDigits(s[4:]) == 4
}

// isNANPGroup reports whether g is three digits, the first 2 to 9.
func isNANPGroup(g string) bool {
	return g[0] >= '2' && g[0] <= '9' && isDigit(g[1]) && isDigit(g[2])
}

func isNANPSeparator(c byte) bool { return c == ' ' || c == '.' || c == '-' }

// leadingDigits returns the number of ASCII digits at the start of s.
func leadingDigits(s string) int {
	n := 0
	for n < len(s) && isDigit(s[n]) {
		n++
	}
	return n
}

func isDigitRune(r rune) bool { return r >= '0' && r <= '9' }

// thirdDigit returns the third ASCII digit of s, or 0 when s has fewer.
func thirdDigit(s string) byte {
	seen := 0
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			if seen == 2 {
				return s[i]
			}
			seen++
		}
	}
	return 0
}
