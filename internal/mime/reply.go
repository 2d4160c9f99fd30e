package mime

import (
	"regexp"
	"strings"
)

// replyVerb matches the verb of a quote header ("On <date>, <name> wrote:")
// in the languages most often seen in support mail.
// The verb may follow an address without a space ("<a@b.c>wrote:"), as
// some clients write it.
var replyVerb = regexp.MustCompile(`(?i)(?:^|[\s,>)"])(?:wrote|a écrit|schrieb|escribió|ha scritto|schreef|escreveu|pisze|skrev|napsal|kirjoitti|írta|yazdı|menulis|написала?(?:\(а\))?)(?:[\s:：]|$)|写道|へ書きました|작성`)

// quoteHeaderStart matches the words that open a quote header.
var quoteHeaderStart = mustCompileAnchored(`(?i)^(on|le|am|el|il|op|em|w dniu|den|dne|pada|el día)\s`)

// originalMessage matches Outlook's "-----Original Message-----" marker in
// several languages.
var originalMessage = mustCompileAnchored(`(?i)^-{3,}\s*(original message|ursprüngliche nachricht|message d'origine|message original|mensaje original|messaggio originale|oorspronkelijk bericht|mensagem original|ursprungligt meddelande|originalmeddelande)\s*-{3,}$`)

// separatorLine matches a rule of dashes or underscores, which Outlook puts
// above the From: block of the quoted message and Mailman above its footer.
var separatorLine = mustCompileAnchored(`^[-_]{10,}$`)

// fieldLine matches a header-like line of a quoted message, also in the
// bold form (*From:*) that HTML-to-text conversion leaves.
var fieldLine = mustCompileAnchored(`(?i)^\*?(from|von|de|van|da|od|från|fra|от)\s*:\*?\s`)

// sentOrDateLine matches the Sent: or Date: line of a quoted message's
// header block, in the forms Outlook writes in en, de, fr, es, it, nl, pt
// and sv ("Envoyé :", "Enviado el:", "Enviada em:", "Skickat:").
var sentOrDateLine = mustCompileAnchored(`(?i)^\*?(sent|date|gesendet|envoyé(?: le)?|enviado(?: el)?|enviada(?: em)?|fecha|inviato|data|verzonden|datum|skickat|sendt|отправлено)\s*:\*?\s`)

// sentFromDevice matches a short "Sent from my iPhone"-style line. A
// sentence that merely starts with those words is not matched, because
// commas and sentence punctuation are not allowed.
var sentFromDevice = mustCompileAnchored(`(?i)^(sent from my|sent from|sent via|get outlook for|von meinem|envoyé de mon|enviado desde mi|inviato da)\s[^,.!?;:]{1,40}$`)

// replyText strips quoted replies and the signature from a plain-text body.
// It stops at the first quote header that is not followed by ">" lines, at
// an Outlook separator or From/Sent block, at a "-- " signature delimiter
// and at a "Sent from my …" line. Lines quoted with ">" and the quote
// headers above them are dropped, so text written between quotes (inline
// replies) is kept, and a blank line left on both sides of a dropped quote
// is kept once. Last, a closing sign-off such as "Best regards," and the
// short lines after it are cut (see cutSignOff).
func replyText(text string) string {
	lines := strings.Split(normalizeNewlines(text), "\n")
	var kept []string
	dropped := false // a quote was dropped since the last kept text line

	for i := 0; i < len(lines); i++ {
		line := strings.TrimRight(lines[i], " \t")
		trimmed := strings.TrimSpace(line)

		if isQuoted(trimmed) {
			dropped = true
			continue
		}
		if trimmed == "" && dropped && len(kept) > 0 && strings.TrimSpace(kept[len(kept)-1]) == "" {
			continue
		}
		if trimmed != "" {
			dropped = false
		}
		if n := quoteHeaderLines(lines, i); n > 0 {
			if !nextContentIsQuoted(lines, i+n) {
				break
			}
			i += n - 1
			continue
		}
		if isSignatureStart(line, trimmed) || isForwardBlock(lines, i) {
			break
		}
		kept = append(kept, line)
	}
	return strings.TrimSpace(strings.Join(cutSignOff(kept), "\n"))
}

func isQuoted(trimmed string) bool {
	return strings.HasPrefix(trimmed, ">")
}

// maxQuoteHeaderLines bounds the lines a wrapped quote header may take.
// Clients wrap long ones after the name and before the address or the
// verb ("On <date>, Name" / "<address>" / "wrote:").
const maxQuoteHeaderLines = 3

// quoteHeaderLines returns how many lines (1 to maxQuoteHeaderLines)
// starting at i form a quote header, or 0.
func quoteHeaderLines(lines []string, i int) int {
	header := strings.TrimSpace(lines[i])
	if isQuoteHeader(header) {
		return 1
	}
	if !quoteHeaderStart.MatchString(header) {
		return 0
	}
	for n := 2; n <= maxQuoteHeaderLines && i+n-1 < len(lines); n++ {
		next := strings.TrimSpace(lines[i+n-1])
		if next == "" {
			return 0
		}
		header += " " + next
		if isQuoteHeader(header) {
			return n
		}
	}
	return 0
}

// isQuoteHeader reports whether line is a quote header: it ends with a
// colon, holds a reply verb and, for the Latin-script forms, starts with
// the opening word of one.
func isQuoteHeader(line string) bool {
	if len(line) > 300 || !(strings.HasSuffix(line, ":") || strings.HasSuffix(line, "：")) {
		return false
	}
	if !replyVerb.MatchString(line) {
		return false
	}
	return quoteHeaderStart.MatchString(line) || !isLatinStart(line)
}

// isLatinStart reports whether line starts with an ASCII letter; headers in
// Cyrillic or CJK scripts start with a date instead of a fixed word.
func isLatinStart(line string) bool {
	c := line[0]
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

// nextContentIsQuoted reports whether the first non-blank line from i on is
// quoted with ">".
func nextContentIsQuoted(lines []string, i int) bool {
	for ; i < len(lines); i++ {
		if trimmed := strings.TrimSpace(lines[i]); trimmed != "" {
			return isQuoted(trimmed)
		}
	}
	return true
}

// isSignatureStart reports whether a line (trailing spaces removed) opens a
// signature: the "-- " delimiter of RFC 3676 section 4.3 or a "Sent from
// my …" line.
func isSignatureStart(line, trimmed string) bool {
	return line == "--" || sentFromDevice.MatchString(trimmed)
}

// isForwardBlock reports whether line i starts a quoted original message in
// Outlook style: a separator line, or a From: line followed within a few
// lines by a Sent: or Date: line.
func isForwardBlock(lines []string, i int) bool {
	trimmed := strings.TrimSpace(lines[i])
	if originalMessage.MatchString(trimmed) {
		return true
	}
	if separatorLine.MatchString(trimmed) {
		return fieldFollows(lines, i+1) || mailingListFooterFollows(lines, i+1)
	}
	if !fieldLine.MatchString(trimmed) {
		return false
	}
	for j := i + 1; j < len(lines) && j <= i+4; j++ {
		if sentOrDateLine.MatchString(strings.TrimSpace(lines[j])) {
			return true
		}
	}
	return false
}

// fieldFollows reports whether a From: line is among the next non-blank
// lines after a separator.
func fieldFollows(lines []string, i int) bool {
	seen := 0
	for ; i < len(lines) && seen < 3; i++ {
		trimmed := strings.TrimSpace(lines[i])
		if trimmed == "" {
			continue
		}
		seen++
		if fieldLine.MatchString(trimmed) {
			return true
		}
	}
	return false
}

// mailingListFooterFollows reports whether the first non-blank line from i
// on names a mailing list, as the footer Mailman appends does.
func mailingListFooterFollows(lines []string, i int) bool {
	for ; i < len(lines); i++ {
		if trimmed := strings.TrimSpace(lines[i]); trimmed != "" {
			return strings.HasSuffix(strings.ToLower(trimmed), "mailing list")
		}
	}
	return false
}
