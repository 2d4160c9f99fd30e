package model

import (
	"regexp"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Placeholder tokens that stand in for URLs and email addresses, so that
// the model learns "a link was here" rather than one particular link.
const (
	urlToken   = "urltoken"
	emailToken = "emailtoken"
)

var (
	urlRe   = regexp.MustCompile(`(?i)\b(?:https?://|www\.)\S+`)
	emailRe = regexp.MustCompile(`[^\s<>()\[\],;:"]+@[^\s<>()\[\],;:"]+\.[a-z]{2,}`)
)

// Normalize returns the form of text that features are extracted from. It
// applies Unicode NFKC and lower case, replaces URLs and email addresses
// with placeholder tokens, folds every decimal digit to '0' and turns the
// typographic apostrophe into a plain one.
func Normalize(text string) string {
	s := strings.ToLower(norm.NFKC.String(text))
	s = urlRe.ReplaceAllLiteralString(s, " "+urlToken+" ")
	s = emailRe.ReplaceAllLiteralString(s, " "+emailToken+" ")
	return strings.Map(func(r rune) rune {
		switch {
		case unicode.IsDigit(r):
			return '0'
		case r == '’':
			return '\''
		}
		return r
	}, s)
}

// Tokenize splits normalized text into words: runs of letters and digits,
// with an apostrophe kept when it sits between two of them ("hasn't").
func Tokenize(s string) []string {
	var words []string
	start := -1
	runes := []rune(s)
	for i, r := range runes {
		inWord := unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r)
		if !inWord && r == '\'' && start >= 0 && i+1 < len(runes) && unicode.IsLetter(runes[i+1]) {
			inWord = true
		}
		switch {
		case inWord && start < 0:
			start = i
		case !inWord && start >= 0:
			words = append(words, string(runes[start:i]))
			start = -1
		}
	}
	if start >= 0 {
		words = append(words, string(runes[start:]))
	}
	return words
}
