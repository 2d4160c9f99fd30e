package mime

import (
	"regexp"
	"strings"

	"mailtriage/schemas"
)

// authResultPattern matches one method=result pair of Authentication-Results
// (RFC 8601).
var authResultPattern = regexp.MustCompile(`(?i)\b(spf|dkim|dmarc)\s*=\s*([a-z]+)`)

// readAuth reads the SPF, DKIM and DMARC verdicts and the spam verdict.
// The first Authentication-Results field wins because the receiving server
// adds its own on top; the first result for each method in it wins.
// Received-SPF fills SPF when Authentication-Results does not.
func readAuth(fs fields) schemas.Auth {
	var auth schemas.Auth
	if results := fs.all("Authentication-Results"); len(results) > 0 {
		for _, m := range authResultPattern.FindAllStringSubmatch(results[0], -1) {
			verdict := strings.ToLower(m[2])
			switch strings.ToLower(m[1]) {
			case "spf":
				auth.SPF = firstNonEmpty(auth.SPF, verdict)
			case "dkim":
				auth.DKIM = firstNonEmpty(auth.DKIM, verdict)
			case "dmarc":
				auth.DMARC = firstNonEmpty(auth.DMARC, verdict)
			}
		}
	}
	if auth.SPF == "" {
		auth.SPF = receivedSPF(fs.get("Received-SPF"))
	}
	auth.Spam = spamVerdict(fs.get("X-Spam-Flag"), fs.get("X-Spam-Status"))
	return auth
}

// receivedSPF returns the result word that starts a Received-SPF value
// (RFC 7208 section 9.1), or "".
func receivedSPF(value string) string {
	word, _, _ := strings.Cut(strings.TrimSpace(value), " ")
	word = strings.ToLower(strings.TrimRight(word, ";"))
	switch word {
	case "pass", "fail", "softfail", "neutral", "none", "temperror", "permerror":
		return word
	}
	return ""
}

// spamVerdict reads SpamAssassin's X-Spam-Flag ("YES"/"NO") or, without it,
// the first word of X-Spam-Status ("Yes, score=..."). It returns "spam",
// "ham" or "".
func spamVerdict(flag, status string) string {
	for _, value := range []string{flag, status} {
		word := strings.ToLower(strings.TrimSpace(value))
		word, _, _ = strings.Cut(word, ",")
		switch strings.TrimSpace(word) {
		case "yes", "true":
			return "spam"
		case "no", "false":
			return "ham"
		}
	}
	return ""
}

func firstNonEmpty(current, candidate string) string {
	if current != "" {
		return current
	}
	return candidate
}
