package processors

import (
	"context"
	"math"
	"net/netip"
	"regexp"
	"regexp/syntax"
	"slices"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

type refRedact struct{}

func refNewRedact() *refRedact { return &refRedact{} }

func (r *refRedact) Name() string { return "redact" }

func (r *refRedact) Process(ctx context.Context, m *Message) (Result, error) {
	seen := map[string]map[string]bool{}
	e := &m.Email

	e.Subject = refredactText(e.Subject, seen)
	e.Text = refredactText(e.Text, seen)
	e.HTML = refredactText(e.HTML, seen)
	e.ReplyText = refredactText(e.ReplyText, seen)
	for i := range e.Attachments {
		e.Attachments[i].Text = refredactText(e.Attachments[i].Text, seen)
	}

	if e.PII == nil {
		e.PII = map[string]int32{}
	}
	for kind, values := range seen {
		e.PII[kind] += int32(len(values))
	}
	return Continue, nil
}

func refRedactText(s string) (string, map[string]int) {
	seen := map[string]map[string]bool{}
	out := refredactText(s, seen)
	counts := make(map[string]int, len(seen))
	for kind, values := range seen {
		counts[kind] = len(values)
	}
	return out, counts
}

const refmaxRedactPasses = 4

func refredactText(s string, seen map[string]map[string]bool) string {
	for range refmaxRedactPasses {
		out := refredactPass(s, seen)
		if out == s {
			break
		}
		s = out
	}
	return s
}

func refredactPass(s string, seen map[string]map[string]bool) string {
	if s == "" {
		return s
	}
	for _, d := range refpiiDetectors {
		matches := refdropOverlaps(d.find(s))
		if len(matches) == 0 {
			continue
		}
		if seen[d.kind] == nil {
			seen[d.kind] = map[string]bool{}
		}
		s = refreplaceMatches(s, matches, d.placeholder, seen[d.kind])
	}
	return s
}

func refreplaceMatches(s string, matches []refpiiMatch, placeholder string, seen map[string]bool) string {
	var b strings.Builder
	b.Grow(len(s))
	last := 0
	for _, m := range matches {
		b.WriteString(s[last:m.start])
		b.WriteString(placeholder)
		last = m.end
		seen[m.value] = true
	}
	b.WriteString(s[last:])
	return b.String()
}

func refscrubAddresses(s string) string {
	matches := reffindEmails(s)
	if len(matches) == 0 {
		return s
	}
	return refreplaceMatches(s, matches, "[EMAIL]", map[string]bool{})
}

const (
	refPIIEmail    = "email"
	refPIIPhone    = "phone"
	refPIICard     = "card"
	refPIIIBAN     = "iban"
	refPIISSN      = "ssn"
	refPIIIP       = "ip"
	refPIISecret   = "secret"
	refPIIPassword = "password"
)

type refpiiMatch struct {
	start, end int
	value      string
}

type refdetector struct {
	kind        string
	placeholder string
	find        func(s string) []refpiiMatch
}

var refpiiDetectors = []refdetector{
	{refPIISecret, "[SECRET]", reffindSecrets},
	{refPIIPassword, "[PASSWORD]", reffindPasswords},
	{refPIIEmail, "[EMAIL]", reffindEmails},
	{refPIIIBAN, "[IBAN]", reffindIBANs},
	{refPIICard, "[CARD]", reffindCards},
	{refPIISSN, "[SSN]", reffindSSNs},
	{refPIIIP, "[IP]", reffindIPs},
	{refPIIPhone, "[PHONE]", reffindPhones},
}

var (
	// authorizationRe matches the credentials of an Authorization header or
	// of a bare "Bearer <token>".
	refauthorizationRe = regexp.MustCompile(`(?i)\bauthorization\s*:\s*(?:bearer|basic|token|digest)?\s*([A-Za-z0-9\-._~+/]{8,}=*)|\bbearer\s+([A-Za-z0-9\-._~+/]{16,}=*)`)

	// secretPrefixRe matches tokens whose prefix names the issuer. The
	// prefixes are Stripe's sk_, pk_ and rk_ (live or test), AWS access key
	// IDs (AKIA, ASIA), GitHub's ghp_, gho_, ghu_, ghs_, ghr_ and
	// github_pat_, Slack's xoxb-, xoxp- and kin, GitLab's glpat-, Google API
	// keys (AIza) and "sk-" API keys. JSON Web Tokens (three base64url parts,
	// the first two starting with "eyJ") count too.
	refsecretPrefixRe = regexp.MustCompile(`\b(?:` +
		`(?:sk|pk|rk)_(?:live|test)_[0-9A-Za-z]{10,}` +
		`|(?:AKIA|ASIA)[0-9A-Z]{16}\b` + // \b added with Redact's fix: a longer token was cut after 20 characters
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
	refsecretAssignRe = regexp.MustCompile(`(?i)\b(?:api[_-]?key|apikey|access[_-]?key|secret[_-]?key|private[_-]?key|access[_-]?token|auth[_-]?token|refresh[_-]?token|client[_-]?secret|secret|token|key)["']?\s*[:=]\s*["']?([0-9A-Za-z_\-./+]{16,}={0,2})`)
)

var (
	refauthorizationScoped = refnewScopedRegexp(refauthorizationRe, refasciiSpace+":-._~+/=", func(seg string) bool {
		return refcontainsAnyWordFold(seg, "authorization", "bearer")
	})
	refsecretPrefixes = refnewLiteralSet("_live_", "_test_", "AKIA", "ASIA",
		"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "xox", "glpat-", "AIza", "sk-", "eyJ")
	refsecretPrefixScoped = refnewScopedRegexp(refsecretPrefixRe, "-.", refsecretPrefixes.in)
	refsecretAssignScoped = refnewScopedRegexp(refsecretAssignRe, `"'`+refasciiSpace+":=-./+", refhasAssignedKey)
)

func reffindSecrets(s string) []refpiiMatch {
	var found []refpiiMatch
	for _, loc := range refauthorizationScoped.findAll(s) {
		for g := 1; g <= 2; g++ {
			if loc[2*g] >= 0 {
				found = append(found, refpiiMatch{loc[2*g], loc[2*g+1], s[loc[2*g]:loc[2*g+1]]})
			}
		}
	}
	for _, loc := range refsecretPrefixScoped.findAll(s) {
		if strings.HasPrefix(s[loc[0]:], "AIza") && loc[1] < len(s) && strings.IndexByte("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-", s[loc[1]]) >= 0 {
			continue // added with Redact's fix: a Google key must end where its token ends
		}
		found = append(found, refpiiMatch{loc[0], loc[1], s[loc[0]:loc[1]]})
	}
	for _, loc := range refsecretAssignScoped.findAll(s) {
		value := s[loc[2]:loc[3]]
		if reflooksRandom(value) {
			found = append(found, refpiiMatch{loc[2], loc[3], value})
		}
	}
	return found
}

func reflooksRandom(v string) bool {
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

var (
	// passwordRe matches "password: value", "pwd=value", "passcode: value"
	// and the like. The value runs to the next white space on the same line;
	// HTML tags and &nbsp; between the separator and the value are skipped.
	refpasswordRe = regexp.MustCompile(`(?i)\b(?:password|passwort|passwd|pass ?code|pwd|pin)["']?[ \t]*[:=](?:[ \t]|&nbsp;|<[^>\n]{0,80}>)*([^\s<]+)`)

	// passcodeRe matches a numeric code written after "passcode" or "PIN"
	// without a separator, as in "passcode 482913" or "PIN is 4821".
	refpasscodeRe = regexp.MustCompile(`(?i)\b(?:pass ?code|pin)[ \t]+(?:is[ \t]+)?([0-9]{4,8})\b`)

	// passwordProseRe matches a password given in a sentence, as in "my
	// password is hunter2" or "the new password was 'Sup3r!'". Prose such as
	// "my password is incorrect" is common, so findPasswords keeps a value
	// only when it is quoted or holds a digit or a symbol.
	refpasswordProseRe = regexp.MustCompile(`(?i)\b(?:password|passwort|passwd|pwd)[ \t]+(?:is|was|would be|will be)[ \t]+(?:now[ \t]+)?(["'‘“]?)([^\s<]+)`)

	refplaceholderRe = regexp.MustCompile(`^\[[A-Z]+\]$`)
)

var (
	refpasswordScoped = refnewScopedRegexp(refpasswordRe, refallExcept("\n"), func(seg string) bool {
		return strings.ContainsAny(seg, ":=") && refcontainsAnyWordFold(seg, "pass", "pwd", "pin")
	})
	refpasscodeScoped = refnewScopedRegexp(refpasscodeRe, " \t", func(seg string) bool {
		return refcountDigits(seg) >= 4 && refcontainsAnyWordFold(seg, "pass", "pin")
	})
	refpasswordProseScoped = refnewScopedRegexp(refpasswordProseRe, refallExcept("\n"), func(seg string) bool {
		return refcontainsAnyWordFold(seg, "pass", "pwd")
	})
)

func reffindPasswords(s string) []refpiiMatch {
	var found []refpiiMatch
	for _, re := range []*refscopedRegexp{refpasswordScoped, refpasscodeScoped} {
		for _, loc := range re.findAll(s) {
			start, end := loc[2], loc[3]

			for end > start+1 && strings.ContainsRune(`.,;:!?)"'`, rune(s[end-1])) {
				end--
			}
			value := s[start:end]
			if refplaceholderRe.MatchString(value) {
				continue
			}
			found = append(found, refpiiMatch{start, end, value})
		}
	}
	return append(found, reffindProsePasswords(s)...)
}

func reffindProsePasswords(s string) []refpiiMatch {
	var found []refpiiMatch
	for _, loc := range refpasswordProseScoped.findAll(s) {
		quoted := loc[3] > loc[2]
		start, end := loc[4], loc[5]
		for end > start+1 && strings.ContainsRune(`.,;:!?)"'’”`, rune(s[end-1])) {
			if !quoted && s[end-1] == '!' && end == loc[5] && strings.IndexFunc(s[start:end-1], refisPasswordSymbol) < 0 {
				break
			}
			end--
		}
		value := s[start:end]
		if refplaceholderRe.MatchString(value) {
			continue
		}
		if !quoted && strings.IndexFunc(value, refisPasswordSymbol) < 0 {
			continue
		}
		found = append(found, refpiiMatch{start, end, value})
	}
	return found
}

func refisPasswordSymbol(r rune) bool {
	return unicode.IsDigit(r) || (!unicode.IsLetter(r) && r < 0x80 && r > ' ')
}

var refemailRe = regexp.MustCompile(`[\p{L}\p{N}._%+\-]+@[\p{L}\p{N}\-]+(?:\.[\p{L}\p{N}\-]+)*\.\p{L}{2,}`)

var refemailScoped = refnewScopedRegexp(refemailRe, refwordBytes+"._%+-@", func(seg string) bool {
	return strings.IndexByte(seg, '@') >= 0
})

func reffindEmails(s string) []refpiiMatch {
	var found []refpiiMatch
	for _, loc := range refemailScoped.findAll(s) {
		found = append(found, refpiiMatch{loc[0], loc[1], strings.ToLower(s[loc[0]:loc[1]])})
	}
	return found
}

var refibanRe = regexp.MustCompile(`\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,30}`)

var refibanLength = map[string]int{
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

var refibanScoped = refnewScopedRegexp(refibanRe, " ", refhasIBANStart)

func reffindIBANs(s string) []refpiiMatch {
	var found []refpiiMatch
	for _, loc := range refibanScoped.findAll(s) {

		start, end := loc[0], loc[1]
		for {
			if refendsWord(s, end) {
				compact := strings.ReplaceAll(s[start:end], " ", "")
				if refvalidIBAN(compact) {
					found = append(found, refpiiMatch{start, end, compact})
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

func refvalidIBAN(iban string) bool {
	if want, ok := refibanLength[iban[:2]]; !ok || len(iban) != want {
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

var refcardRe = regexp.MustCompile(`\b[0-9](?:[ -]?[0-9]){12,18}\b`)

var refcardScoped = refnewScopedRegexp(refcardRe, " -", func(seg string) bool { return refcountDigits(seg) >= 13 })

func reffindCards(s string) []refpiiMatch {
	var found []refpiiMatch
	for _, loc := range refcardScoped.findAll(s) {

		if start := loc[0]; start >= 2 && (s[start-1] == ' ' || s[start-1] == '-') && refisDigit(s[start-2]) {
			continue
		}

		for end := loc[1]; end > loc[0]; {
			digits := refonlyDigits(s[loc[0]:end])
			if refcardLayout(s[loc[0]:end]) && refvalidCard(digits) {
				found = append(found, refpiiMatch{loc[0], end, digits})
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

func refcardLayout(s string) bool {
	sep := strings.IndexAny(s, " -")
	if sep < 0 {
		return true
	}
	groups := strings.Split(s, s[sep:sep+1])
	lens := make([]int, len(groups))
	for i, g := range groups {
		if len(g) == 0 || len(refonlyDigits(g)) != len(g) {
			return false
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

func refvalidCard(digits string) bool {
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

var (
	// ssnDashedRe matches the written form 123-45-6789.
	refssnDashedRe = regexp.MustCompile(`\b([0-9]{3})-([0-9]{2})-([0-9]{4})\b`)
	// ssnLabeledRe matches nine digits, bare or spaced, after "SSN" or
	// "social security number"; without the label such digits are too
	// often something else.
	refssnLabeledRe = regexp.MustCompile(`(?i)\b(?:ssn|social security(?: number| no\.?)?)[ \t]*(?:#|no\.?|number)?[ \t]*[:#]?[ \t]*(([0-9]{3}) ?([0-9]{2}) ?([0-9]{4}))\b`)
)

var (
	refssnDashedScoped = refnewScopedRegexp(refssnDashedRe, "-", func(seg string) bool {
		return refcountDigits(seg) >= 9 && strings.IndexByte(seg, '-') >= 0
	})
	refssnLabeledScoped = refnewScopedRegexp(refssnLabeledRe, " \t.#:", func(seg string) bool {
		return refcountDigits(seg) >= 9 && refcontainsAnyFold(seg, "ssn", "social security")
	})
)

func reffindSSNs(s string) []refpiiMatch {
	var found []refpiiMatch
	for _, loc := range refssnDashedScoped.findAll(s) {
		if refvalidSSN(s[loc[2]:loc[3]], s[loc[4]:loc[5]], s[loc[6]:loc[7]]) {
			found = append(found, refpiiMatch{loc[0], loc[1], refonlyDigits(s[loc[0]:loc[1]])})
		}
	}
	for _, loc := range refssnLabeledScoped.findAll(s) {
		if refvalidSSN(s[loc[4]:loc[5]], s[loc[6]:loc[7]], s[loc[8]:loc[9]]) {
			found = append(found, refpiiMatch{loc[2], loc[3], refonlyDigits(s[loc[2]:loc[3]])})
		}
	}
	return found
}

func refvalidSSN(area, group, serial string) bool {
	return area != "000" && area != "666" && area[0] != '9' && group != "00" && serial != "0000"
}

var (
	refipv4Re = regexp.MustCompile(`\b(?:[0-9]{1,3}\.){3}[0-9]{1,3}\b`)
	// ipv6CandidateRe matches runs of hex digits, colons and dots (for an
	// embedded IPv4 address) with at least two colons; netip decides.
	refipv6CandidateRe = regexp.MustCompile(`[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*`)
)

var (
	refipv6Scoped = refnewScopedRegexp(refipv6CandidateRe, "0123456789ABCDEFabcdef:.", func(seg string) bool {
		return strings.Count(seg, ":") >= 2
	})
	refipv4Scoped = refnewScopedRegexp(refipv4Re, ".", func(seg string) bool {
		return refcountDigits(seg) >= 4 && strings.Count(seg, ".") >= 3
	})
)

func reffindIPs(s string) []refpiiMatch {
	var found []refpiiMatch
	for _, loc := range refipv6Scoped.findAll(s) {
		start, end := loc[0], loc[1]
		for end > start && s[end-1] == '.' {
			end--
		}
		cand := s[start:end]

		if !strings.ContainsAny(cand, "0123456789") || !refstartsWord(s, start) || !refendsWord(s, end) {
			continue
		}
		addr, err := netip.ParseAddr(cand)
		if err != nil || !addr.Is6() {
			continue
		}
		found = append(found, refpiiMatch{start, end, addr.String()})
	}

	for _, loc := range refipv4Scoped.findAll(s) {
		start, end := loc[0], loc[1]

		if (start >= 2 && s[start-1] == '.' && refisDigit(s[start-2])) ||
			(end+1 < len(s) && s[end] == '.' && refisDigit(s[end+1])) {
			continue
		}
		addr, err := netip.ParseAddr(s[start:end])
		if err != nil {
			continue
		}
		found = append(found, refpiiMatch{start, end, addr.String()})
	}
	return found
}

var (
	// phoneCandidateRe matches runs of digit groups joined by one
	// separator (space, dot, dash or slash) or by parentheses around an
	// area code, with an optional leading "+".
	refphoneCandidateRe = regexp.MustCompile(`\+?\(?[0-9]+(?:(?:\) ?|[ .\-/]\(?|\()[0-9]+)*`)

	// phoneLabelRe matches a phone label just before a number.
	refphoneLabelRe = regexp.MustCompile(`(?i)\b(?:phone|tel|telephone|mobile|mob|cell|call|fax|whatsapp|sms)\b[^\p{L}\p{N}\n]{0,6}(?:(?:at|on|me at|me on|us at|us on)[ \t]+)?$`)

	// phoneReferenceRe matches a label that makes the number a reference
	// rather than a phone number ("order 555-123-4567", "#4401 234 5678").
	refphoneReferenceRe = regexp.MustCompile(`(?i)(?:\b(?:order|invoice|ticket|case|ref|reference|tracking|account|acct|customer|po|sku|serial|id|no|nr|number)[ \t.:#-]*|#[ \t]*)$`)
)

var refphoneCandidateScoped = refnewScopedRegexp(refphoneCandidateRe, "0123456789+() .-/", func(seg string) bool {
	return refcountDigits(seg) >= 8
})

func reffindPhones(s string) []refpiiMatch {
	var found []refpiiMatch
	for _, loc := range refphoneCandidateScoped.findAll(s) {
		if !refendsWord(s, loc[1]) {
			continue
		}
		groups := refdigitGroups(s, loc[0], loc[1])
		found = append(found, refphonesInCandidate(s, loc[0], groups)...)
	}
	return found
}

func refphonesInCandidate(s string, candStart int, groups [][2]int) []refpiiMatch {
	var found []refpiiMatch
	for i := 0; i < len(groups); {
		start := groups[i][0]
		if i == 0 {
			start = candStart
		} else if s[start-1] == '(' {
			start--
		}

		next := -1
		if refphoneStartOK(s, start) {
			for j := len(groups) - 1; j >= i; j-- {
				end := groups[j][1]
				if strings.Count(s[start:end], "(") != strings.Count(s[start:end], ")") {
					continue
				}
				if refvalidPhone(s, start, end) {
					found = append(found, refpiiMatch{start, end, refonlyDigits(s[start:end])})
					next = j + 1
					break
				}
			}
		}
		if next < 0 && i == 0 && len(groups) > 3 && refstartsWithDate(s[start:]) {
			next = 3
		}
		if next < 0 {
			break
		}
		i = next
	}
	return found
}

func refphoneStartOK(s string, start int) bool {
	if start == 0 {
		return true
	}
	r, _ := utf8.DecodeLastRuneInString(s[:start])
	return !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune("._-/@+", r)
}

func refvalidPhone(s string, start, end int) bool {
	cand := s[start:end]
	digits := refcountDigits(cand)

	if cand[0] == '+' {
		return digits >= 8 && digits <= 15 && cand[strings.IndexFunc(cand, refisDigitRune)] != '0'
	}
	if digits < 8 || digits > 15+2 {
		return false
	}
	if refstartsWithDate(strings.TrimPrefix(cand, "(")) {
		return false
	}
	if strings.HasPrefix(cand, "00") && refthirdDigit(cand) != '0' {
		return digits-2 >= 8 && digits-2 <= 15
	}
	if digits > 15 {
		return false
	}

	before := s[max(0, start-40):start]
	if refphoneReferenceRe.MatchString(before) {
		return false
	}
	if refphoneLabelRe.MatchString(before) || refisNANP(cand) {
		return true
	}
	return (cand[0] == '0' || cand[0] == '(') && digits >= 10 && digits <= 12 && refpairedGroups(cand)
}

func refpairedGroups(s string) bool {
	groups := 0
	for i := 0; i < len(s); {
		if !refisDigit(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && refisDigit(s[j]) {
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

func refstartsWithDate(s string) bool {
	first := refleadingDigits(s)
	if first < 1 || first > 4 || first == len(s) {
		return false
	}
	sep := s[first]
	if sep != '.' && sep != '-' && sep != '/' {
		return false
	}
	s = s[first+1:]
	second := refleadingDigits(s)
	if second < 1 || second > 2 || second == len(s) || s[second] != sep {
		return false
	}
	s = s[second+1:]
	third := refleadingDigits(s)
	if third < 1 || third > 4 {
		return false
	}
	return third == len(s) || s[third] == ' ' || s[third] == 'T'
}

func refisNANP(s string) bool {
	if len(s) >= 2 && s[0] == '1' && refisNANPSeparator(s[1]) {
		s = s[2:]
	}
	if strings.HasPrefix(s, "(") {
		if len(s) < 5 || !refisNANPGroup(s[1:4]) || s[4] != ')' {
			return false
		}
		s = strings.TrimPrefix(s[5:], " ")
	} else {
		if len(s) < 4 || !refisNANPGroup(s[:3]) || !refisNANPSeparator(s[3]) {
			return false
		}
		s = s[4:]
	}
	return len(s) == 8 && refisNANPGroup(s[:3]) && refisNANPSeparator(s[3]) && refleadingDigits(s[4:]) == 4
}

func refisNANPGroup(g string) bool {
	return g[0] >= '2' && g[0] <= '9' && refisDigit(g[1]) && refisDigit(g[2])
}

func refisNANPSeparator(c byte) bool { return c == ' ' || c == '.' || c == '-' }

func refleadingDigits(s string) int {
	n := 0
	for n < len(s) && refisDigit(s[n]) {
		n++
	}
	return n
}

func refisDigitRune(r rune) bool { return r >= '0' && r <= '9' }

func refthirdDigit(s string) byte {
	seen := 0
	for i := 0; i < len(s); i++ {
		if refisDigit(s[i]) {
			if seen == 2 {
				return s[i]
			}
			seen++
		}
	}
	return 0
}

func refdigitGroups(s string, start, end int) [][2]int {
	var groups [][2]int
	for i := start; i < end; {
		if !refisDigit(s[i]) {
			i++
			continue
		}
		j := i
		for j < end && refisDigit(s[j]) {
			j++
		}
		groups = append(groups, [2]int{i, j})
		i = j
	}
	return groups
}

func refonlyDigits(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if refisDigit(s[i]) {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

func refisDigit(c byte) bool { return c >= '0' && c <= '9' }

func refstartsWord(s string, i int) bool {
	if i == 0 {
		return true
	}
	r, _ := utf8.DecodeLastRuneInString(s[:i])
	return !refisWordRune(r)
}

func refendsWord(s string, i int) bool {
	if i >= len(s) {
		return true
	}
	r, _ := utf8.DecodeRuneInString(s[i:])
	return !refisWordRune(r)
}

func refisWordRune(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }

func refdropOverlaps(ms []refpiiMatch) []refpiiMatch {
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

type refscopedRegexp struct {
	re *regexp.Regexp
	// inside[c] is true for the bytes a match may contain. Bytes of
	// non-ASCII runes always are, so segments never split a rune.
	inside [256]bool
	// keep reports whether a segment can hold a match that the detector
	// keeps; it returns false only when none can. Nil keeps every segment.
	keep func(seg string) bool
}

const refwordBytes = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_"

const refasciiSpace = " \t\n\f\r"

func refnewScopedRegexp(re *regexp.Regexp, insideASCII string, keep func(string) bool) *refscopedRegexp {
	sr := &refscopedRegexp{re: re, keep: keep}
	for c := 0x80; c < 0x100; c++ {
		sr.inside[c] = true
	}
	if refusesWordBoundary(re) {
		insideASCII += refwordBytes
	}
	for i := 0; i < len(insideASCII); i++ {
		sr.inside[insideASCII[i]] = true
	}
	return sr
}

func refusesWordBoundary(re *regexp.Regexp) bool {
	tree, err := syntax.Parse(re.String(), syntax.Perl)
	if err != nil {

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

func refallExcept(excluded string) string {
	var b strings.Builder
	for c := byte(0); c < 0x80; c++ {
		if strings.IndexByte(excluded, c) < 0 {
			b.WriteByte(c)
		}
	}
	return b.String()
}

func (sr *refscopedRegexp) findAll(s string) [][]int {
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
		seg := s[i:j]
		if sr.keep == nil || sr.keep(seg) {
			for _, loc := range sr.re.FindAllStringSubmatchIndex(seg, -1) {
				for k := range loc {
					if loc[k] >= 0 {
						loc[k] += i
					}
				}
				found = append(found, loc)
			}
		}
		i = j
	}
	return found
}

func refindexFold(s, word string, from int) (int, int) {
	first := word[0]
	for i := from; i < len(s); i++ {
		c := s[i]

		if c|0x20 != first && !(first == 'k' && c == 0xE2) && !(first == 's' && c == 0xC5) {
			continue
		}
		if n := refprefixFold(s[i:], word); n > 0 {
			return i, n
		}
	}
	return -1, 0
}

func refprefixFold(s, word string) int {
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

func refcontainsAnyFold(s string, words ...string) bool {
	for _, w := range words {
		if i, _ := refindexFold(s, w, 0); i >= 0 {
			return true
		}
	}
	return false
}

func refcontainsAnyWordFold(s string, words ...string) bool {
	for _, w := range words {
		for i, _ := refindexFold(s, w, 0); i >= 0; i, _ = refindexFold(s, w, i+1) {
			if i == 0 || !refisASCIIWordByte(s[i-1]) {
				return true
			}
		}
	}
	return false
}

func refisASCIIWordByte(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func refhasAssignedKey(s string) bool {
	for _, w := range []string{"key", "token", "secret"} {
		for i, n := refindexFold(s, w, 0); i >= 0; i, n = refindexFold(s, w, i+1) {
			rest := s[i+n:]
			if rest != "" && (rest[0] == '"' || rest[0] == '\'') {
				rest = rest[1:]
			}
			rest = strings.TrimLeft(rest, refasciiSpace)
			if rest != "" && (rest[0] == ':' || rest[0] == '=') {
				return true
			}
		}
	}
	return false
}

type refliteralSet struct{ ac *refacAutomaton }

func refnewLiteralSet(literals ...string) *refliteralSet {
	return &refliteralSet{ac: refnewACAutomaton(literals)}
}

func (l *refliteralSet) in(s string) bool {
	found := false
	l.ac.scan(s, func(_, _, _ int) bool {
		found = true
		return false
	})
	return found
}

func refcountDigits(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if refisDigit(s[i]) {
			n++
		}
	}
	return n
}

func refhasIBANStart(s string) bool {
	for i := 0; i+3 < len(s); i++ {
		if refisUpper(s[i]) && refisUpper(s[i+1]) && refisDigit(s[i+2]) && refisDigit(s[i+3]) {
			return true
		}
	}
	return false
}

func refisUpper(c byte) bool { return c >= 'A' && c <= 'Z' }

type refacAutomaton struct {
	// columns maps a byte to its column in next. Bytes that occur in no
	// pattern share column 0, which always leads back to the root.
	columns [256]uint16
	width   int     // number of columns
	next    []int32 // next[state*width+column] is the state after a byte
	// The patterns that end at state s are out[outStart[s]:outStart[s+1]].
	outStart []int32
	out      []int32
	lens     []int // pattern lengths in bytes
}

func refnewACAutomaton(patterns []string) *refacAutomaton {
	a := &refacAutomaton{width: 1, lens: make([]int, len(patterns))}
	for i, p := range patterns {
		a.lens[i] = len(p)
		for j := 0; j < len(p); j++ {
			if a.columns[p[j]] == 0 {
				a.columns[p[j]] = uint16(a.width)
				a.width++
			}
		}
	}

	a.next = a.newState(nil)
	own := [][]int32{nil}
	for i, p := range patterns {
		if p == "" {
			continue
		}
		s := 0
		for j := 0; j < len(p); j++ {
			edge := s*a.width + int(a.columns[p[j]])
			if a.next[edge] < 0 {
				a.next[edge] = int32(len(own))
				a.next = a.newState(a.next)
				own = append(own, nil)
			}
			s = int(a.next[edge])
		}
		own[s] = append(own[s], int32(i))
	}

	a.link(own)
	return a
}

func (a *refacAutomaton) newState(next []int32) []int32 {
	for range a.width {
		next = append(next, -1)
	}
	return next
}

func (a *refacAutomaton) link(own [][]int32) {
	states := len(own)
	fail := make([]int32, states)
	outputs := make([][]int32, states)
	outputs[0] = own[0]

	queue := make([]int32, 0, states)
	for c := range a.width {
		child := a.next[c]
		if child < 0 {
			a.next[c] = 0
			continue
		}
		fail[child] = 0
		queue = append(queue, child)
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		outputs[s] = append(own[s], outputs[fail[s]]...)
		for c := range a.width {
			edge := int(s)*a.width + c
			child := a.next[edge]
			viaFail := a.next[int(fail[s])*a.width+c]
			if child < 0 {
				a.next[edge] = viaFail
				continue
			}
			fail[child] = viaFail
			queue = append(queue, child)
		}
	}

	a.outStart = make([]int32, states+1)
	for s, out := range outputs {
		a.out = append(a.out, out...)
		a.outStart[s+1] = int32(len(a.out))
	}
}

func (a *refacAutomaton) scan(text string, found func(pattern, start, end int) bool) {
	s := 0
	for i := 0; i < len(text); i++ {
		s = int(a.next[s*a.width+int(a.columns[text[i]])])
		from, to := a.outStart[s], a.outStart[s+1]
		if from == to {
			continue
		}
		for _, p := range a.out[from:to] {
			if !found(int(p), i+1-a.lens[p], i+1) {
				return
			}
		}
	}
}
