package processors

import (
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// PII kinds: the keys of InboundEmail.PII and the detectors of Redact.
const (
	PIIEmail    = "email"
	PIIPhone    = "phone"
	PIICard     = "card"
	PIIIBAN     = "iban"
	PIISSN      = "ssn"
	PIIIP       = "ip"
	PIISecret   = "secret"
	PIIPassword = "password"
)

// piiMatch is one finding: the byte range to replace and a normalized value,
// so the same item written two ways counts once.
type piiMatch struct {
	start, end int
	value      string
}

// detector finds one kind of PII. Detectors run in the order of
// piiDetectors over the output of the ones before, so a later detector
// reads a placeholder where an earlier one replaced text. Placeholders
// contain no digits, no "@" and no token characters, so no detector finds
// anything in them on a second pass.
type detector struct {
	kind        string
	placeholder string
	// find appends the matches in s to dst. It visits only the segments
	// around the offsets of ix (an index of s, or part of one).
	find  func(dst []piiMatch, s string, ix *redactIndex) []piiMatch
	scope *detectorScope
}

// piiDetectors lists the detectors in the order they run. Secrets and
// passwords go first because their values may look like any other kind.
// IBANs go before cards because an IBAN's digits may pass Luhn. Cards, SSNs
// and IP addresses go before phones because the phone rule would take their
// digit groups.
//
// The margins of each scope are the bytes outside a segment that the
// detector reads. Those are the byte before an anchor or a number for \b,
// the two bytes before a card number or around an IPv4 address, and the
// 40 bytes before a phone number where a label may stand.
var piiDetectors = [...]detector{
	{PIISecret, "[SECRET]", findSecrets, newDetectorScope(triggerAnchors, 1, 1,
		authorizationScoped, secretPrefixScoped, secretAssignScoped).withAnchors(anyAnchor)},
	{PIIPassword, "[PASSWORD]", findPasswords, newDetectorScope(triggerAnchors, 1, 1,
		passwordScoped).withAnchors(passwordMayStartAt)},
	{PIIEmail, "[EMAIL]", findEmails, newDetectorScope(triggerAts, 1, 1, emailScoped)},
	{PIIIBAN, "[IBAN]", findIBANs, newDetectorScope(triggerDigits, 1, 1, ibanScoped)},
	{PIICard, "[CARD]", findCards, newDetectorScope(triggerDigits, 2, 1, cardScoped)},
	{PIISSN, "[SSN]", findSSNs, newDetectorScope(triggerDigits, 1, 1, ssnDashedScoped, ssnLabeledScoped)},
	{PIIIP, "[IP]", findIPs, newDetectorScope(triggerDigits|triggerColons, 2, 2, ipv6Scoped, ipv4Scoped)},
	{PIIPhone, "[PHONE]", findPhones, newDetectorScope(triggerDigits, phoneLabelReach, 1, phoneCandidateScoped)},
}

// piiDetectorCount is the number of detectors.
const piiDetectorCount = len(piiDetectors)

// --- email addresses ---

var emailRe = regexp.MustCompile(`[\p{L}\p{N}._%+\-]+@[\p{L}\p{N}\-]+(?:\.[\p{L}\p{N}\-]+)*\.\p{L}{2,}`)

var emailScoped = newScopedRegexp(emailRe, wordBytes+"._%+-@", func(seg string) bool {
	return strings.IndexByte(seg, '@') >= 0
})

func findEmails(found []piiMatch, s string, ix *redactIndex) []piiMatch {
	for _, loc := range emailScoped.findAround(s, ix.ats, ix.filter) {
		found = append(found, piiMatch{loc[0], loc[1], strings.ToLower(s[loc[0]:loc[1]])})
	}
	return found
}

// --- helpers ---

// digitGroups appends to groups the byte ranges of the digit runs in
// s[start:end].
func digitGroups(groups [][2]int, s string, start, end int) [][2]int {
	for i := start; i < end; {
		if !isDigit(s[i]) {
			i++
			continue
		}
		j := i
		for j < end && isDigit(s[j]) {
			j++
		}
		groups = append(groups, [2]int{i, j})
		i = j
	}
	return groups
}

// onlyDigits returns the ASCII digits of s, as a part of s when they are
// all of it.
func onlyDigits(s string) string {
	n := countDigits(s)
	if n == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(n)
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// appendDigits appends the ASCII digits of s to dst.
func appendDigits(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			dst = append(dst, s[i])
		}
	}
	return dst
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// startsWord reports whether s[i] begins a word: i is 0 or the rune before
// it is neither a letter, a digit nor "_".
func startsWord(s string, i int) bool {
	if i == 0 {
		return true
	}
	r, _ := utf8.DecodeLastRuneInString(s[:i])
	return !isWordRune(r)
}

// endsWord reports whether a word ends at i: i is len(s) or the rune at i
// is neither a letter, a digit nor "_".
func endsWord(s string, i int) bool {
	if i >= len(s) {
		return true
	}
	r, _ := utf8.DecodeRuneInString(s[i:])
	return !isWordRune(r)
}

func isWordRune(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }

// dropOverlaps sorts matches by start and keeps the first of any that
// overlap, preferring the longer one when two start together.
func dropOverlaps(ms []piiMatch) []piiMatch {
	cmp := func(a, b piiMatch) int {
		if a.start != b.start {
			return a.start - b.start
		}
		return b.end - a.end
	}
	if !slices.IsSortedFunc(ms, cmp) {
		slices.SortStableFunc(ms, cmp)
	}
	kept := ms[:0]
	last := -1
	for _, m := range ms {
		if m.start < last {
			continue
		}
		kept = append(kept, m)
		last = m.end
	}
	return kept
}
