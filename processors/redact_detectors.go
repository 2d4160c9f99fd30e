package processors

import (
	"math"
	"net/netip"
	"regexp"
	"sort"
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
	// find returns the matches in s. ix indexes s, and find may leave
	// it unused.
	find func(s string, ix *redactIndex) []piiMatch
}

// piiDetectors lists the detectors in the order they run. Secrets and
// passwords go first because their values may look like any other kind.
// IBANs go before cards because an IBAN's digits may pass Luhn. Cards, SSNs
// and IP addresses go before phones because the phone rule would take their
// digit groups.
var piiDetectors = []detector{
	{PIISecret, "[SECRET]", findSecrets},
	{PIIPassword, "[PASSWORD]", findPasswords},
	{PIIEmail, "[EMAIL]", findEmails},
	{PIIIBAN, "[IBAN]", findIBANs},
	{PIICard, "[CARD]", findCards},
	{PIISSN, "[SSN]", findSSNs},
	{PIIIP, "[IP]", findIPs},
	{PIIPhone, "[PHONE]", findPhones},
}

// --- secrets ---

var (
	// authorizationRe matches the credentials of an Authorization header or
	// of a bare "Bearer <token>".
	authorizationRe = regexp.MustCompile(`(?i)\bauthorization\s*:\s*(?:bearer|basic|token|digest)?\s*([A-Za-z0-9\-._~+/]{8,}=*)|\bbearer\s+([A-Za-z0-9\-._~+/]{16,}=*)`)

	// secretPrefixRe matches tokens whose prefix names the issuer. The
	// prefixes are Stripe's sk_, pk_ and rk_ (live or test), AWS access key
	// IDs (AKIA, ASIA), GitHub's ghp_, gho_, ghu_, ghs_, ghr_ and
	// github_pat_, Slack's xoxb-, xoxp- and kin, GitLab's glpat-, Google API
	// keys (AIza) and "sk-" API keys. JSON Web Tokens (three base64url parts,
	// the first two starting with "eyJ") count too.
	secretPrefixRe = regexp.MustCompile(`\b(?:` +
		`(?:sk|pk|rk)_(?:live|test)_[0-9A-Za-z]{10,}` +
		`|(?:AKIA|ASIA)[0-9A-Z]{16}` +
		`|gh[pousr]_[0-9A-Za-z]{30,}` +
		`|github_pat_[0-9A-Za-z_]{30,}` +
		`|xox[abporse]-[0-9A-Za-z-]{10,}` +
		`|glpat-[0-9A-Za-z_-]{20,}` +
		`|AIza[0-9A-Za-z_-]{35}` +
		`|sk-(?:proj-)?[0-9A-Za-z_-]{20,}` +
		`|eyJ[0-9A-Za-z_-]{8,}\.eyJ[0-9A-Za-z_-]{8,}\.[0-9A-Za-z_-]{8,}` +
		`)`)

	// secretAssignRe matches a value assigned to a key-like name, as in
	// "api_key=…", "token: …" or "client_secret = …".
	secretAssignRe = regexp.MustCompile(`(?i)\b(?:api[_-]?key|apikey|access[_-]?key|secret[_-]?key|private[_-]?key|access[_-]?token|auth[_-]?token|refresh[_-]?token|client[_-]?secret|secret|token|key)["']?\s*[:=]\s*["']?([0-9A-Za-z_\-./+]{16,}={0,2})`)
)

// The scoped secret patterns. Each prefilter requires what every match
// contains: a header or scheme name, an issuer prefix, or a key name
// followed by ":" or "=".
var (
	authorizationScoped = newScopedRegexp(authorizationRe, asciiSpace+":-._~+/=", func(seg string) bool {
		return containsAnyWordFold(seg, "authorization", "bearer")
	})
	secretPrefixes = newLiteralSet("_live_", "_test_", "AKIA", "ASIA",
		"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "xox", "glpat-", "AIza", "sk-", "eyJ")
	secretPrefixScoped = newScopedRegexp(secretPrefixRe, "-.", secretPrefixes.in)
	secretAssignScoped = newScopedRegexp(secretAssignRe, `"'`+asciiSpace+":=-./+", hasAssignedKey)
)

// authorizationAnchored is authorizationRe anchored at "authorization" or
// "bearer". A match never leaves its authorizationScoped segment.
var authorizationAnchored = &anchoredRegexp{
	re:         regexp.MustCompile(`(?i)^(?:authorization\s*:\s*(?:bearer|basic|token|digest)?\s*([A-Za-z0-9\-._~+/]{8,}=*)|bearer\s+([A-Za-z0-9\-._~+/]{16,}=*))`),
	startsHere: startsWithFold("authorization", "bearer"),
	windowEnd:  segmentEnd(authorizationScoped),
}

// secretPrefixAnchored is secretPrefixRe anchored at an issuer prefix.
var secretPrefixAnchored = &anchoredRegexp{
	re: regexp.MustCompile(`^(?:` +
		`(?:sk|pk|rk)_(?:live|test)_[0-9A-Za-z]{10,}` +
		`|(?:AKIA|ASIA)[0-9A-Z]{16}` +
		`|gh[pousr]_[0-9A-Za-z]{30,}` +
		`|github_pat_[0-9A-Za-z_]{30,}` +
		`|xox[abporse]-[0-9A-Za-z-]{10,}` +
		`|glpat-[0-9A-Za-z_-]{20,}` +
		`|AIza[0-9A-Za-z_-]{35}` +
		`|sk-(?:proj-)?[0-9A-Za-z_-]{20,}` +
		`|eyJ[0-9A-Za-z_-]{8,}\.eyJ[0-9A-Za-z_-]{8,}\.[0-9A-Za-z_-]{8,}` +
		`)`),
	startsHere: startsWithLiteral(literalKeywords...),
	windowEnd:  segmentEnd(secretPrefixScoped),
}

// secretAssignAnchored is secretAssignRe anchored at a key name. Every key
// name is letters, "_" and "-", followed by an optional quote, white space
// and ":" or "=", which assignmentFollows checks before the pattern runs.
var secretAssignAnchored = &anchoredRegexp{
	re: regexp.MustCompile(`(?i)^(?:api[_-]?key|apikey|access[_-]?key|secret[_-]?key|private[_-]?key|access[_-]?token|auth[_-]?token|refresh[_-]?token|client[_-]?secret|secret|token|key)["']?\s*[:=]\s*["']?([0-9A-Za-z_\-./+]{16,}={0,2})`),
	startsHere: func(s string, k int) bool {
		return startsWithFold("api", "access", "secret", "private", "auth", "refresh", "client", "token", "key")(s, k) &&
			assignmentFollows(s, k)
	},
	windowEnd: segmentEnd(secretAssignScoped),
}

// assignmentFollows reports whether the word at s[k] is followed by an
// optional quote, white space and ":" or "=". The word may contain ASCII
// letters, "_", "-" and non-ASCII bytes (for U+212A and U+017F).
func assignmentFollows(s string, k int) bool {
	i := k
	for i < len(s) && (isASCIIWordByte(s[i]) || s[i] == '-' || s[i] >= 0x80) {
		i++
	}
	if i < len(s) && (s[i] == '"' || s[i] == '\'') {
		i++
	}
	for i < len(s) && strings.IndexByte(asciiSpace, s[i]) >= 0 {
		i++
	}
	return i < len(s) && (s[i] == ':' || s[i] == '=')
}

func findSecrets(s string, ix *redactIndex) []piiMatch {
	var found []piiMatch
	for _, loc := range authorizationAnchored.findAll(s, ix.keywords) {
		for g := 1; g <= 2; g++ {
			if loc[2*g] >= 0 {
				found = append(found, piiMatch{loc[2*g], loc[2*g+1], s[loc[2*g]:loc[2*g+1]]})
			}
		}
	}
	for _, loc := range secretPrefixAnchored.findAll(s, ix.keywords) {
		found = append(found, piiMatch{loc[0], loc[1], s[loc[0]:loc[1]]})
	}
	for _, loc := range secretAssignAnchored.findAll(s, ix.keywords) {
		value := s[loc[2]:loc[3]]
		if looksRandom(value) {
			found = append(found, piiMatch{loc[2], loc[3], value})
		}
	}
	return found
}

// looksRandom reports whether a value assigned to a key name is a
// generated token rather than a word, a path or code such as
// "bucketInfo.getKeys". Such a value contains letters and digits, and its
// characters carry at least 3 bits of Shannon entropy each. A random
// 16-character base62 string averages about 3.8 bits, "aaaa1111aaaa1111"
// has 1.
//
// NOTE: a random token without any digit (about 6% of 16-character base62
// strings) is left alone unless its prefix or an Authorization header
// marks it.
func looksRandom(v string) bool {
	var letter, digit bool
	counts := map[rune]int{}
	for _, r := range v {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
			letter = true
		case r >= '0' && r <= '9':
			digit = true
		}
		counts[r]++
	}
	if !letter || !digit {
		return false
	}

	n := float64(utf8.RuneCountInString(v))
	entropy := 0.0
	for _, c := range counts {
		p := float64(c) / n
		entropy -= p * math.Log2(p)
	}
	return entropy >= 3.0
}

// --- passwords ---

var (
	// passwordRe matches "password: value", "pwd=value", "passcode: value"
	// and the like. The value runs to the next white space on the same line;
	// HTML tags and &nbsp; between the separator and the value are skipped.
	passwordRe = regexp.MustCompile(`(?i)\b(?:password|passwort|passwd|pass ?code|pwd|pin)["']?[ \t]*[:=](?:[ \t]|&nbsp;|<[^>\n]{0,80}>)*([^\s<]+)`)

	// passcodeRe matches a numeric code written after "passcode" or "PIN"
	// without a separator, as in "passcode 482913" or "PIN is 4821".
	passcodeRe = regexp.MustCompile(`(?i)\b(?:pass ?code|pin)[ \t]+(?:is[ \t]+)?([0-9]{4,8})\b`)

	// passwordProseRe matches a password given in a sentence, as in "my
	// password is hunter2" or "the new password was 'Sup3r!'". Prose such as
	// "my password is incorrect" is common, so findPasswords keeps a value
	// only when it is quoted or holds a digit or a symbol.
	passwordProseRe = regexp.MustCompile(`(?i)\b(?:password|passwort|passwd|pwd)[ \t]+(?:is|was|would be|will be)[ \t]+(?:now[ \t]+)?(["'‘“]?)([^\s<]+)`)

	placeholderRe = regexp.MustCompile(`^\[[A-Z]+\]$`)
)

// The scoped password patterns. A value after a tag may follow any byte
// but a line break, and every label contains "pass", "pwd" or "pin".
var (
	passwordScoped = newScopedRegexp(passwordRe, allExcept("\n"), func(seg string) bool {
		return strings.ContainsAny(seg, ":=") && containsAnyWordFold(seg, "pass", "pwd", "pin")
	})
	passcodeScoped = newScopedRegexp(passcodeRe, " \t", func(seg string) bool {
		return countDigits(seg) >= 4 && containsAnyWordFold(seg, "pass", "pin")
	})
	passwordProseScoped = newScopedRegexp(passwordProseRe, allExcept("\n"), func(seg string) bool {
		return containsAnyWordFold(seg, "pass", "pwd")
	})
)

// The password patterns anchored at their labels. No match crosses a line
// break.
var (
	passwordAnchored = &anchoredRegexp{
		re:         regexp.MustCompile(`(?i)^(?:password|passwort|passwd|pass ?code|pwd|pin)["']?[ \t]*[:=](?:[ \t]|&nbsp;|<[^>\n]{0,80}>)*([^\s<]+)`),
		startsHere: startsWithFold("pass", "pwd", "pin"),
		windowEnd:  lineEnd,
	}
	passcodeAnchored = &anchoredRegexp{
		re:         regexp.MustCompile(`(?i)^(?:pass ?code|pin)[ \t]+(?:is[ \t]+)?([0-9]{4,8})\b`),
		startsHere: startsWithFold("pass", "pin"),
		windowEnd:  lineEnd,
	}
	passwordProseAnchored = &anchoredRegexp{
		re:         regexp.MustCompile(`(?i)^(?:password|passwort|passwd|pwd)[ \t]+(?:is|was|would be|will be)[ \t]+(?:now[ \t]+)?(["'‘“]?)([^\s<]+)`),
		startsHere: startsWithFold("pass", "pwd"),
		windowEnd:  lineEnd,
	}
)

func findPasswords(s string, ix *redactIndex) []piiMatch {
	var found []piiMatch
	for _, re := range []*anchoredRegexp{passwordAnchored, passcodeAnchored} {
		for _, loc := range re.findAll(s, ix.keywords) {
			start, end := loc[2], loc[3]
			// Leave sentence punctuation after the value in place.
			for end > start+1 && strings.ContainsRune(`.,;:!?)"'`, rune(s[end-1])) {
				end--
			}
			value := s[start:end]
			if placeholderRe.MatchString(value) {
				continue
			}
			found = append(found, piiMatch{start, end, value})
		}
	}
	return append(found, findProsePasswords(s, ix)...)
}

func findProsePasswords(s string, ix *redactIndex) []piiMatch {
	var found []piiMatch
	for _, loc := range passwordProseAnchored.findAll(s, ix.keywords) {
		quoted := loc[3] > loc[2]
		start, end := loc[4], loc[5]
		for end > start+1 && strings.ContainsRune(`.,;:!?)"'’”`, rune(s[end-1])) {
			if !quoted && s[end-1] == '!' && end == loc[5] && strings.IndexFunc(s[start:end-1], isPasswordSymbol) < 0 {
				break
			}
			end--
		}
		value := s[start:end]
		if placeholderRe.MatchString(value) {
			continue
		}
		if !quoted && strings.IndexFunc(value, isPasswordSymbol) < 0 {
			continue
		}
		found = append(found, piiMatch{start, end, value})
	}
	return found
}

// isPasswordSymbol reports whether r is a digit or a symbol, which words
// of ordinary prose do not contain.
func isPasswordSymbol(r rune) bool {
	return unicode.IsDigit(r) || (!unicode.IsLetter(r) && r < 0x80 && r > ' ')
}

// --- email addresses ---

var emailRe = regexp.MustCompile(`[\p{L}\p{N}._%+\-]+@[\p{L}\p{N}\-]+(?:\.[\p{L}\p{N}\-]+)*\.\p{L}{2,}`)

var emailScoped = newScopedRegexp(emailRe, wordBytes+"._%+-@", func(seg string) bool {
	return strings.IndexByte(seg, '@') >= 0
})

// findEmails ignores ix, so scrubAddresses may pass nil.
func findEmails(s string, _ *redactIndex) []piiMatch {
	var found []piiMatch
	for _, loc := range emailScoped.findAround(s, byteOffsets(s, "@")) {
		found = append(found, piiMatch{loc[0], loc[1], strings.ToLower(s[loc[0]:loc[1]])})
	}
	return found
}

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

var ibanScoped = newScopedRegexp(ibanRe, " ", hasIBANStart)

func findIBANs(s string, ix *redactIndex) []piiMatch {
	var found []piiMatch
	for _, loc := range ibanScoped.findAround(s, ix.digitRuns) {
		// The pattern may take words that follow the IBAN ("... 00 THANKS"),
		// so try ever shorter runs of whole groups.
		start, end := loc[0], loc[1]
		for {
			if endsWord(s, end) {
				compact := strings.ReplaceAll(s[start:end], " ", "")
				if validIBAN(compact) {
					found = append(found, piiMatch{start, end, compact})
					break
				}
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

// validIBAN checks the country length and the ISO 7064 mod-97 check: with
// the first four characters moved to the end and letters replaced by
// 10..35, the number modulo 97 is 1.
func validIBAN(iban string) bool {
	if want, ok := ibanLength[iban[:2]]; !ok || len(iban) != want {
		return false
	}
	rearranged := iban[4:] + iban[:4]
	rem := 0
	for i := 0; i < len(rearranged); i++ {
		c := rearranged[i]
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

var cardScoped = newScopedRegexp(cardRe, " -", func(seg string) bool { return countDigits(seg) >= 13 })

func findCards(s string, ix *redactIndex) []piiMatch {
	var found []piiMatch
	for _, loc := range cardScoped.findAround(s, ix.digitRuns) {
		// Digits joined to a number before them ("DE89 3704 ...") are part
		// of something longer, such as an IBAN.
		if start := loc[0]; start >= 2 && (s[start-1] == ' ' || s[start-1] == '-') && isDigit(s[start-2]) {
			continue
		}
		// A card number followed by another number ("4111 ... 1111 2025")
		// becomes valid only without the trailing group.
		for end := loc[1]; end > loc[0]; {
			digits := onlyDigits(s[loc[0]:end])
			if cardLayout(s[loc[0]:end]) && validCard(digits) {
				found = append(found, piiMatch{loc[0], end, digits})
				break
			}
			cut := strings.LastIndexAny(s[loc[0]:end], " -")
			if cut < 0 {
				break
			}
			end = loc[0] + cut
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
	groups := strings.Split(s, s[sep:sep+1])
	lens := make([]int, len(groups))
	for i, g := range groups {
		if len(g) == 0 || len(onlyDigits(g)) != len(g) {
			return false // mixed separators
		}
		lens[i] = len(g)
	}
	if len(lens) == 3 && lens[0] == 4 && lens[1] == 6 && (lens[2] == 5 || lens[2] == 4) {
		return true
	}
	for i, n := range lens {
		last := i == len(lens)-1
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
func validCard(digits string) bool {
	if len(digits) < 13 || len(digits) > 19 || digits[0] < '2' || digits[0] > '6' {
		return false
	}
	if strings.Count(digits, digits[:1]) == len(digits) {
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
	})
	ssnLabeledScoped = newScopedRegexp(ssnLabeledRe, " \t.#:", func(seg string) bool {
		return countDigits(seg) >= 9 && containsAnyFold(seg, "ssn", "social security")
	})
)

func findSSNs(s string, ix *redactIndex) []piiMatch {
	var found []piiMatch
	for _, loc := range ssnDashedScoped.findAround(s, ix.digitRuns) {
		if validSSN(s[loc[2]:loc[3]], s[loc[4]:loc[5]], s[loc[6]:loc[7]]) {
			found = append(found, piiMatch{loc[0], loc[1], onlyDigits(s[loc[0]:loc[1]])})
		}
	}
	for _, loc := range ssnLabeledScoped.findAround(s, ix.digitRuns) {
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
	})
)

func findIPs(s string, ix *redactIndex) []piiMatch {
	var found []piiMatch
	for _, loc := range ipv6Scoped.findAround(s, byteOffsets(s, ":")) {
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

	for _, loc := range ipv4Scoped.findAround(s, ix.digitRuns) {
		start, end := loc[0], loc[1]
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

// --- phone numbers ---

var (
	// phoneCandidateRe matches runs of digit groups joined by one
	// separator (space, dot, dash or slash) or by parentheses around an
	// area code, with an optional leading "+".
	phoneCandidateRe = regexp.MustCompile(`\+?\(?[0-9]+(?:(?:\) ?|[ .\-/]\(?|\()[0-9]+)*`)

	// phoneLabelRe matches a phone label just before a number.
	phoneLabelRe = regexp.MustCompile(`(?i)\b(?:phone|tel|telephone|mobile|mob|cell|call|fax|whatsapp|sms)\b[^\p{L}\p{N}\n]{0,6}(?:(?:at|on|me at|me on|us at|us on)[ \t]+)?$`)

	// phoneReferenceRe matches a label that makes the number a reference
	// rather than a phone number ("order 555-123-4567", "#4401 234 5678").
	phoneReferenceRe = regexp.MustCompile(`(?i)(?:\b(?:order|invoice|ticket|case|ref|reference|tracking|account|acct|customer|po|sku|serial|id|no|nr|number)[ \t.:#-]*|#[ \t]*)$`)
)

// phoneCandidateScoped finds the candidates of findPhones. A segment with
// fewer than 8 digits holds no phone number, because every rule needs 8.
var phoneCandidateScoped = newScopedRegexp(phoneCandidateRe, "0123456789+() .-/", func(seg string) bool {
	return countDigits(seg) >= 8
})

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
func findPhones(s string, ix *redactIndex) []piiMatch {
	var found []piiMatch
	for _, loc := range phoneCandidateScoped.findAround(s, ix.digitRuns) {
		if !endsWord(s, loc[1]) {
			continue
		}
		groups := digitGroups(s, loc[0], loc[1])
		found = append(found, phonesInCandidate(s, loc[0], groups)...)
	}
	return found
}

// phonesInCandidate looks for phone numbers in one candidate. It tries the
// longest run of digit groups from the start first, then shorter ones, so
// that a number followed by another ("020 7946 0018 2024") is still found.
// After a match, or after a date at the start of the candidate, it starts
// again at the next group.
func phonesInCandidate(s string, candStart int, groups [][2]int) []piiMatch {
	var found []piiMatch
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

	before := s[max(0, start-40):start]
	if phoneReferenceRe.MatchString(before) {
		return false
	}
	if phoneLabelRe.MatchString(before) || isNANP(cand) {
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

// --- helpers ---

// digitGroups returns the byte ranges of the digit runs in s[start:end].
func digitGroups(s string, start, end int) [][2]int {
	var groups [][2]int
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

func onlyDigits(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			b.WriteByte(s[i])
		}
	}
	return b.String()
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
	sort.SliceStable(ms, func(i, j int) bool {
		if ms[i].start != ms[j].start {
			return ms[i].start < ms[j].start
		}
		return ms[i].end > ms[j].end
	})
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
