package mime

import (
	"strings"
	"unicode/utf8"
)

// signOff matches a line that holds nothing but a closing formula, in
// en, de, fr, es, it, nl, pt and sv, with an optional comma, period or
// exclamation mark.
var signOff = mustCompileAnchored(`(?i)^(` +
	`best regards|kind regards|warm regards|regards|best wishes|best|cheers|thanks|thank you|many thanks|thanks in advance|sincerely|yours sincerely|yours truly|` +
	`mit freundlichen grüßen|mit freundlichen grüssen|freundliche grüße|viele grüße|beste grüße|liebe grüße|grüße|gruß|mfg|lg|` +
	`cordialement|bien cordialement|bien à vous|salutations|merci|merci beaucoup|` +
	`saludos|un saludo|saludos cordiales|atentamente|gracias|muchas gracias|` +
	`cordiali saluti|distinti saluti|saluti|grazie|grazie mille|` +
	`met vriendelijke groet|vriendelijke groeten|groeten|groet|bedankt|` +
	`atenciosamente|cumprimentos|abraços|obrigado|obrigada|` +
	`med vänliga hälsningar|vänliga hälsningar|hälsningar|mvh|tack` +
	`)\s*[,.!]?$`)

// Limits of the block that a sign-off opens. Past them the lines are more
// likely text than a name and a phone number, and nothing is cut.
const (
	maxSignOffLines     = 4  // non-blank lines after the sign-off
	maxSignOffLineRunes = 60 // runes in each of them
)

// cutSignOff removes the last sign-off line of lines and what follows it,
// when that is only a short block such as a name, a title and a phone
// number, and text comes before it. A reply that is only "Thanks!" keeps
// it, and a sign-off followed by more text is left alone, because the
// full text stays available but the stripped reply must not lose words
// the customer wrote.
func cutSignOff(lines []string) []string {
	after := 0 // non-blank lines after i
	for i := len(lines) - 1; i >= 0; i-- {
		trimmed := strings.TrimSpace(lines[i])
		if trimmed == "" {
			continue
		}
		if signOff.MatchString(trimmed) {
			if shortBlock(lines[i+1:]) && hasText(lines[:i]) {
				return lines[:i]
			}
			return lines
		}
		after++
		if after > maxSignOffLines || utf8.RuneCountInString(trimmed) > maxSignOffLineRunes {
			return lines
		}
	}
	return lines
}

// shortBlock reports whether lines fit the limits of a sign-off block.
func shortBlock(lines []string) bool {
	n := 0
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		n++
		if n > maxSignOffLines || utf8.RuneCountInString(l) > maxSignOffLineRunes {
			return false
		}
	}
	return true
}

func hasText(lines []string) bool {
	for _, l := range lines {
		if strings.TrimSpace(l) != "" {
			return true
		}
	}
	return false
}
