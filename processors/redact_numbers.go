package processors

import (
	"bytes"
	"net/netip"
	"regexp"
	"strings"
)

// --- IBANs ---

// ibanRe matches a candidate IBAN: a country code, two check digits and up
// to 30 letters or digits, optionally in space-separated groups. Only upper
// case is recognized.
var ibanRe = regexp.MustCompile(`\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,30}`)

// ibanLength is the IBAN length of each country in the IBAN registry.
// A candidate from a country not listed here is left alone.
var ibanLength = map[string]int{
	"AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22,
	"BH": 22, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22,
	"DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27,
	"GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28,
	"IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20,
	"LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24,
	"ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24,
	"PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SC": 31,
	"SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24,
	"TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}

// ibanScoped visits an IBAN from its check digits, the digit run that
// follows the country code.
var ibanScoped = newScopedRegexp(ibanRe, " ", hasIBANStart).withStart(func(s string, p int) bool {
	return p >= 2 && isUpper(s[p-2]) && isUpper(s[p-1]) && p+1 < len(s) && isDigit(s[p+1])
}).withScan(scanIBANs)

func findIBANs(found []piiMatch, s string, ix *redactIndex) []piiMatch {
	var buf [16]span
	for _, sp := range ibanScoped.spansAround(s, ix.digitRuns, ix.filter, buf[:0]) {
		// The pattern may take words that follow the IBAN ("... 00 THANKS"),
		// so try ever shorter runs of whole groups.
		start, end := sp.start, sp.end
		for {
			if endsWord(s, end) && validIBAN(s[start:end]) {
				found = append(found, piiMatch{start, end, strings.ReplaceAll(s[start:end], " ", "")})
				break
			}
			cut := strings.LastIndexByte(s[start:end], ' ')
			if cut < 0 {
				break
			}
			end = start + cut
		}
	}
	return found
}

// validIBAN checks an IBAN written with or without spaces, which it
// ignores. It checks the country's length and the ISO 7064 mod-97 check:
// with the first four characters moved to the end and letters replaced by
// 10..35, the number modulo 97 is 1.
func validIBAN(spaced string) bool {
	var buf [34]byte
	iban := buf[:0]
	for i := 0; i < len(spaced); i++ {
		if spaced[i] == ' ' {
			continue
		}
		if len(iban) == len(buf) {
			return false // longer than any IBAN
		}
		iban = append(iban, spaced[i])
	}
	if len(iban) < 4 {
		return false
	}
	if want, ok := ibanLength[string(iban[:2])]; !ok || len(iban) != want {
		return false
	}
	rem := 0
	for _, c := range append(iban[4:], iban[:4]...) {
		switch {
		case c >= '0' && c <= '9':
			rem = (rem*10 + int(c-'0')) % 97
		case c >= 'A' && c <= 'Z':
			rem = (rem*100 + int(c-'A') + 10) % 97
		default:
			return false
		}
	}
	return rem == 1
}

// --- payment cards ---

// cardRe matches 13 to 19 digits, optionally separated by single spaces or
// dashes.
var cardRe = regexp.MustCompile(`\b[0-9](?:[ -]?[0-9]){12,18}\b`)

// cardScoped visits a card number from its first digit, where \b holds and
// 13 digits follow, single spaces or dashes apart.
var cardScoped = newScopedRegexp(cardRe, " -", func(seg string) bool { return countDigits(seg) >= 13 }).
	withStart(func(s string, p int) bool {
		return wordBoundaryAt(s, p) && chainDigits(s, p, 1, cardSeparators, 13) >= 13
	}).withScan(scanCards)

func findCards(found []piiMatch, s string, ix *redactIndex) []piiMatch {
	var buf [16]span
	for _, sp := range cardScoped.spansAround(s, ix.digitRuns, ix.filter, buf[:0]) {
		// Digits joined to a number before them ("DE89 3704 ...") are part
		// of something longer, such as an IBAN.
		start := sp.start
		if start >= 2 && (s[start-1] == ' ' || s[start-1] == '-') && isDigit(s[start-2]) {
			continue
		}
		// A card number followed by another number ("4111 ... 1111 2025")
		// becomes valid only without the trailing group.
		for end := sp.end; end > start; {
			var digits [32]byte
			if cardLayout(s[start:end]) && validCard(appendDigits(digits[:0], s[start:end])) {
				found = append(found, piiMatch{start, end, onlyDigits(s[start:end])})
				break
			}
			cut := strings.LastIndexAny(s[start:end], " -")
			if cut < 0 {
				break
			}
			end = start + cut
		}
	}
	return found
}

// cardLayout accepts the ways card numbers are written: no separators, or
// one separator character between groups of four with a shorter last group
// (4-4-4-4, 4-4-4-4-3), or the American Express and Diners layouts 4-6-5
// and 4-6-4. Other groupings are dates, phone numbers or references.
func cardLayout(s string) bool {
	sep := strings.IndexAny(s, " -")
	if sep < 0 {
		return true
	}
	var lens [32]int
	groups := 0
	for g := range strings.SplitSeq(s, s[sep:sep+1]) {
		if len(g) == 0 || leadingDigits(g) != len(g) || groups == len(lens) {
			return false // mixed separators
		}
		lens[groups] = len(g)
		groups++
	}
	if groups == 3 && lens[0] == 4 && lens[1] == 6 && (lens[2] == 5 || lens[2] == 4) {
		return true
	}
	for i, n := range lens[:groups] {
		last := i == groups-1
		if (!last && n != 4) || (last && n > 4) {
			return false
		}
	}
	return true
}

// validCard accepts 13 to 19 digits that pass the Luhn check, start with
// 2 to 6 and are not one digit repeated. The first digits of the major
// networks are 2 and 5 (Mastercard), 3 (American Express, Diners, JCB),
// 4 (Visa) and 6 (Discover, Maestro, UnionPay). The prefix rule keeps order
// and account numbers that start with 0, 1, 7, 8 or 9 out even when they
// happen to pass Luhn.
func validCard(digits []byte) bool {
	if len(digits) < 13 || len(digits) > 19 || digits[0] < '2' || digits[0] > '6' {
		return false
	}
	if bytes.Count(digits, digits[:1]) == len(digits) {
		return false
	}
	sum := 0
	double := false
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// --- US social security numbers ---

var (
	// ssnDashedRe matches the written form 123-45-6789.
	ssnDashedRe = regexp.MustCompile(`\b([0-9]{3})-([0-9]{2})-([0-9]{4})\b`)
	// ssnLabeledRe matches nine digits, bare or spaced, after "SSN" or
	// "social security number"; without the label such digits are too
	// often something else.
	ssnLabeledRe = regexp.MustCompile(`(?i)\b(?:ssn|social security(?: number| no\.?)?)[ \t]*(?:#|no\.?|number)?[ \t]*[:#]?[ \t]*(([0-9]{3}) ?([0-9]{2}) ?([0-9]{4}))\b`)
)

var (
	ssnDashedScoped = newScopedRegexp(ssnDashedRe, "-", func(seg string) bool {
		return countDigits(seg) >= 9 && strings.IndexByte(seg, '-') >= 0
	}).withStart(func(s string, p int) bool {
		return wordBoundaryAt(s, p) && digitGroupsAt(s, p, '-', true, 3, 2, 4)
	})
	ssnLabeledScoped = newScopedRegexp(ssnLabeledRe, " \t.#:", func(seg string) bool {
		return countDigits(seg) >= 9 && containsAnyFold(seg, "ssn", "social security")
	}).withStart(func(s string, p int) bool {
		return digitGroupsAt(s, p, ' ', false, 3, 2, 4)
	})
)

func findSSNs(found []piiMatch, s string, ix *redactIndex) []piiMatch {
	for _, loc := range ssnDashedScoped.findAround(s, ix.digitRuns, ix.filter) {
		if validSSN(s[loc[2]:loc[3]], s[loc[4]:loc[5]], s[loc[6]:loc[7]]) {
			found = append(found, piiMatch{loc[0], loc[1], onlyDigits(s[loc[0]:loc[1]])})
		}
	}
	for _, loc := range ssnLabeledScoped.findAround(s, ix.digitRuns, ix.filter) {
		if validSSN(s[loc[4]:loc[5]], s[loc[6]:loc[7]], s[loc[8]:loc[9]]) {
			found = append(found, piiMatch{loc[2], loc[3], onlyDigits(s[loc[2]:loc[3]])})
		}
	}
	return found
}

// validSSN applies the Social Security Administration's rules: the area is
// never 000, 666 or 900-999, the group never 00 and the serial never 0000.
func validSSN(area, group, serial string) bool {
	return area != "000" && area != "666" && area[0] != '9' && group != "00" && serial != "0000"
}

// --- IP addresses ---

var (
	ipv4Re = regexp.MustCompile(`\b(?:[0-9]{1,3}\.){3}[0-9]{1,3}\b`)
	// ipv6CandidateRe matches runs of hex digits, colons and dots (for an
	// embedded IPv4 address) with at least two colons; netip decides.
	ipv6CandidateRe = regexp.MustCompile(`[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*`)
)

var (
	ipv6Scoped = newScopedRegexp(ipv6CandidateRe, "0123456789ABCDEFabcdef:.", func(seg string) bool {
		return strings.Count(seg, ":") >= 2
	})
	ipv4Scoped = newScopedRegexp(ipv4Re, ".", func(seg string) bool {
		return countDigits(seg) >= 4 && strings.Count(seg, ".") >= 3
	}).withStart(func(s string, p int) bool {
		return wordBoundaryAt(s, p) && dottedQuadAt(s, p)
	}).withScan(scanIPv4s)
)

func findIPs(found []piiMatch, s string, ix *redactIndex) []piiMatch {
	for _, loc := range ipv6Scoped.findAround(s, ix.colons, ix.filter) {
		start, end := loc[0], loc[1]
		for end > start && s[end-1] == '.' {
			end--
		}
		cand := s[start:end]
		// A decimal digit is required so that words such as "dead::beef" and
		// the "::" of C++ or Rust paths stay, and the neighbors must not be
		// word characters ("std::vector").
		if !strings.ContainsAny(cand, "0123456789") || !startsWord(s, start) || !endsWord(s, end) {
			continue
		}
		addr, err := netip.ParseAddr(cand)
		if err != nil || !addr.Is6() {
			continue
		}
		found = append(found, piiMatch{start, end, addr.String()})
	}

	var buf [16]span
	for _, sp := range ipv4Scoped.spansAround(s, ix.digitRuns, ix.filter, buf[:0]) {
		start, end := sp.start, sp.end
		// Skip part of a longer dotted number such as a version "1.2.3.4.5".
		if (start >= 2 && s[start-1] == '.' && isDigit(s[start-2])) ||
			(end+1 < len(s) && s[end] == '.' && isDigit(s[end+1])) {
			continue
		}
		addr, err := netip.ParseAddr(s[start:end])
		if err != nil {
			continue
		}
		found = append(found, piiMatch{start, end, addr.String()})
	}
	return found
}
