package processors

import (
	"math"
	"regexp"
	"strings"
	"unicode"
)

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
	// the first two starting with "eyJ") count too. An AWS key ID must end
	// at a word boundary and a Google key where its token ends (see
	// endsGoogleKey), so that a longer token is not cut after the key's
	// length.
	secretPrefixRe = regexp.MustCompile(`\b(?:` +
		`(?:sk|pk|rk)_(?:live|test)_[0-9A-Za-z]{10,}` +
		`|(?:AKIA|ASIA)[0-9A-Z]{16}\b` +
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
	re:           regexp.MustCompile(`(?i)^(?:authorization\s*:\s*(?:bearer|basic|token|digest)?\s*([A-Za-z0-9\-._~+/]{8,}=*)|bearer\s+([A-Za-z0-9\-._~+/]{16,}=*))`),
	startsHere:   authorizationAt,
	windowEnd:    segmentEnd(authorizationScoped),
	segmentStart: segmentBegin(authorizationScoped),
}

// secretPrefixAnchored is secretPrefixRe anchored at an issuer prefix.
var secretPrefixAnchored = &anchoredRegexp{
	re: regexp.MustCompile(`^(?:` +
		`(?:sk|pk|rk)_(?:live|test)_[0-9A-Za-z]{10,}` +
		`|(?:AKIA|ASIA)[0-9A-Z]{16}\b` +
		`|gh[pousr]_[0-9A-Za-z]{30,}` +
		`|github_pat_[0-9A-Za-z_]{30,}` +
		`|xox[abporse]-[0-9A-Za-z-]{10,}` +
		`|glpat-[0-9A-Za-z_-]{20,}` +
		`|AIza[0-9A-Za-z_-]{35}` +
		`|sk-(?:proj-)?[0-9A-Za-z_-]{20,}` +
		`|eyJ[0-9A-Za-z_-]{8,}\.eyJ[0-9A-Za-z_-]{8,}\.[0-9A-Za-z_-]{8,}` +
		`)`),
	startsHere:   secretPrefixAt,
	windowEnd:    segmentEnd(secretPrefixScoped),
	segmentStart: segmentBegin(secretPrefixScoped),
}

// secretAssignAnchored is secretAssignRe anchored at a key name. Every key
// name is letters, "_" and "-", followed by an optional quote, white space
// and ":" or "=", which assignmentFollows checks before the pattern runs.
var secretAssignAnchored = &anchoredRegexp{
	re: regexp.MustCompile(`(?i)^(?:api[_-]?key|apikey|access[_-]?key|secret[_-]?key|private[_-]?key|access[_-]?token|auth[_-]?token|refresh[_-]?token|client[_-]?secret|secret|token|key)["']?\s*[:=]\s*["']?([0-9A-Za-z_\-./+]{16,}={0,2})`),
	startsHere: func(s string, k int) bool {
		return assignedKeyWords(s, k) &&
			assignmentFollows(s, k)
	},
	windowEnd:    segmentEnd(secretAssignScoped),
	segmentStart: segmentBegin(secretAssignScoped),
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

func findSecrets(found []piiMatch, s string, ix *redactIndex) []piiMatch {
	for _, loc := range authorizationAnchored.findAll(s, ix.anchors, ix.filter) {
		for g := 1; g <= 2; g++ {
			if loc[2*g] >= 0 {
				found = append(found, piiMatch{loc[2*g], loc[2*g+1], s[loc[2*g]:loc[2*g+1]]})
			}
		}
	}
	for _, loc := range secretPrefixAnchored.findAll(s, ix.anchors, ix.filter) {
		if endsGoogleKey(s, loc[0], loc[1]) {
			found = append(found, piiMatch{loc[0], loc[1], s[loc[0]:loc[1]]})
		}
	}
	for _, loc := range secretAssignAnchored.findAll(s, ix.anchors, ix.filter) {
		value := s[loc[2]:loc[3]]
		if looksRandom(value) {
			found = append(found, piiMatch{loc[2], loc[3], value})
		}
	}
	return found
}

// endsGoogleKey reports false for a Google API key s[start:end] that a
// character of [0-9A-Za-z_-] follows, the rest of a longer token, and
// true for every other match. \b would not do, because a key may end
// with "-", after which \b holds only before a word character.
func endsGoogleKey(s string, start, end int) bool {
	if !strings.HasPrefix(s[start:end], "AIza") || end == len(s) {
		return true
	}
	return !isASCIIWordByte(s[end]) && s[end] != '-'
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
	// The values of secretAssignRe are ASCII but for the Kelvin sign and
	// the long s, which (?i) adds to its letters. Those count in the last
	// two slots.
	var letter, digit bool
	var counts [130]int
	runes := 0
	for _, r := range v {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
			letter = true
		case r >= '0' && r <= '9':
			digit = true
		}
		switch {
		case r < 128:
			counts[r]++
		case r == '\u212a':
			counts[128]++
		default:
			counts[129]++
		}
		runes++
	}
	if !letter || !digit {
		return false
	}

	n := float64(runes)
	entropy := 0.0
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			entropy -= p * math.Log2(p)
		}
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
		re:           regexp.MustCompile(`(?i)^(?:password|passwort|passwd|pass ?code|pwd|pin)["']?[ \t]*[:=](?:[ \t]|&nbsp;|<[^>\n]{0,80}>)*([^\s<]+)`),
		startsHere:   passwordAssignmentAt,
		windowEnd:    lineEnd,
		segmentStart: lineStart,
		matchEnd:     passwordAssignmentEnd,
	}
	passcodeAnchored = &anchoredRegexp{
		re:           regexp.MustCompile(`(?i)^(?:pass ?code|pin)[ \t]+(?:is[ \t]+)?([0-9]{4,8})\b`),
		startsHere:   passcodeAt,
		windowEnd:    lineEnd,
		segmentStart: lineStart,
	}
	passwordProseAnchored = &anchoredRegexp{
		re:           regexp.MustCompile(`(?i)^(?:password|passwort|passwd|pwd)[ \t]+(?:is|was|would be|will be)[ \t]+(?:now[ \t]+)?(["'‘“]?)([^\s<]+)`),
		startsHere:   passwordProseAt,
		windowEnd:    lineEnd,
		segmentStart: lineStart,
	}
)

func findPasswords(found []piiMatch, s string, ix *redactIndex) []piiMatch {
	for _, re := range []*anchoredRegexp{passwordAnchored, passcodeAnchored} {
		for _, loc := range re.findAll(s, ix.anchors, ix.filter) {
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
	return findProsePasswords(found, s, ix)
}

func findProsePasswords(found []piiMatch, s string, ix *redactIndex) []piiMatch {
	for _, loc := range passwordProseAnchored.findAll(s, ix.anchors, ix.filter) {
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
