package processors

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// The two functions in this file decide whether the text before a phone
// candidate labels it as a phone number or as a reference. They read the
// text backwards from its end, where both rules are anchored, instead of
// trying a regular expression at every offset. Words compare as (?i) does
// in Go's regexp: ASCII letters in either case, and the Kelvin sign for
// "k" and the long s for "s". \b is the ASCII word boundary of Go's
// regexp.

var (
	phoneLabelWords     = []string{"phone", "tel", "telephone", "mobile", "mob", "cell", "call", "fax", "whatsapp", "sms"}
	phoneLabelVerbs     = []string{"at", "on", "me at", "me on", "us at", "us on"}
	phoneReferenceWords = []string{"order", "invoice", "ticket", "case", "ref", "reference", "tracking", "account",
		"acct", "customer", "po", "sku", "serial", "id", "no", "nr", "number"}
)

// phoneLabelMaxGap is the maximum number of runes between a phone label
// and the rest of the text: "phone: " has two.
const phoneLabelMaxGap = 6

// endsWithPhoneReference reports whether before ends with a label that
// makes the number after it a reference, as
//
//	(?i)(?:\b(?:order|invoice|…|number)[ \t.:#-]*|#[ \t]*)$
//
// matches: "order ", "Invoice #", "ref: " or a bare "#".
func endsWithPhoneReference(before string) bool {
	if t := strings.TrimRight(before, " \t"); strings.HasSuffix(t, "#") {
		return true
	}
	// The word ends where the trailing separators start, because it ends
	// with a letter.
	t := strings.TrimRight(before, " \t.:#-")
	for _, w := range phoneReferenceWords {
		if n := suffixFold(t, w); n > 0 && wordBoundaryAt(t, len(t)-n) {
			return true
		}
	}
	return false
}

// endsWithPhoneLabel reports whether before ends with a phone label, as
//
//	(?i)\b(?:phone|tel|…|sms)\b[^\p{L}\p{N}\n]{0,6}(?:(?:at|on|me at|me on|us at|us on)[ \t]+)?$
//
// matches: "phone: ", "Tel.", "call me at ".
func endsWithPhoneLabel(before string) bool {
	if labelBeforeGap(before, "") {
		return true
	}
	// The spaces after a verb end the text, because the verb ends with a
	// letter.
	t := strings.TrimRight(before, " \t")
	if len(t) == len(before) {
		return false
	}
	for _, verb := range phoneLabelVerbs {
		if n := suffixFold(t, verb); n > 0 && labelBeforeGap(t[:len(t)-n], verb) {
			return true
		}
	}
	return false
}

// labelBeforeGap reports whether t ends with a phone label followed by
// at most phoneLabelMaxGap runes that are neither letters, digits nor line
// feeds, with \b on both sides of the label. next is what follows t in the
// text, for the \b after the label when the gap is empty.
func labelBeforeGap(t, next string) bool {
	// The gap is the trailing run of such runes, because the label ends
	// with a letter.
	end, runes := len(t), 0
	for end > 0 {
		r, size := utf8.DecodeLastRuneInString(t[:end])
		if unicode.IsLetter(r) || unicode.IsNumber(r) {
			break
		}
		if r == '\n' || runes == phoneLabelMaxGap {
			return false
		}
		end -= size
		runes++
	}

	after := next
	if end < len(t) {
		after = t[end:]
	}
	for _, w := range phoneLabelWords {
		n := suffixFold(t[:end], w)
		if n == 0 || !wordBoundaryAt(t, end-n) {
			continue
		}
		// \b after the label: the label's last rune and the next one differ
		// in being ASCII word characters.
		if isASCIIWordByte(t[end-1]) != (after != "" && isASCIIWordByte(after[0])) {
			return true
		}
	}
	return false
}

// suffixFold returns the length of the suffix of s that matches word
// (lower-case ASCII) as prefixFold compares, or 0.
func suffixFold(s, word string) int {
	j := len(s)
	for i := len(word) - 1; i >= 0; i-- {
		w := word[i]
		switch {
		case j > 0 && s[j-1]|0x20 == w && isASCIILetter(s[j-1]):
			j--
		case w == 'k' && strings.HasSuffix(s[:j], "\u212a"):
			j -= len("\u212a")
		case w == 's' && strings.HasSuffix(s[:j], "\u017f"):
			j -= len("\u017f")
		case j > 0 && s[j-1] == w && !isASCIILetter(w):
			j-- // a space in "me at"
		default:
			return 0
		}
	}
	return len(s) - j
}

func isASCIILetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }
