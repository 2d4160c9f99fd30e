package processors

import (
	"regexp"
	"strings"
	"unicode/utf8"
)

// keywordMatcher finds whole words or phrases from a list, ignoring case.
// A keyword that starts or ends with a letter or digit matches only next to
// a non-word character on that side, so "order" matches "Order 12" but not
// "border", while "order #" also matches "order #12". The words of a phrase
// may be separated by any white space ("cannot  log\nin").
type keywordMatcher struct {
	keywords []string
	re       *regexp.Regexp // one capture group per keyword, in order
}

// apostrophes maps typographic apostrophes to "'" so that "can’t" in a
// message matches the keyword "can't".
var apostrophes = strings.NewReplacer("\u2019", "'", "\u2018", "'", "\u02bc", "'")

const (
	wordBefore = `(?:^|[^\p{L}\p{N}_])`
	wordAfter  = `(?:$|[^\p{L}\p{N}_])`
)

func newKeywordMatcher(keywords []string) *keywordMatcher {
	alternatives := make([]string, len(keywords))
	for i, k := range keywords {
		k = apostrophes.Replace(strings.TrimSpace(k))
		words := strings.Fields(k)
		for j, w := range words {
			words[j] = regexp.QuoteMeta(w)
		}
		alt := "(" + strings.Join(words, `\s+`) + ")"
		if first, _ := utf8.DecodeRuneInString(k); isWordRune(first) {
			alt = wordBefore + alt
		}
		if last, _ := utf8.DecodeLastRuneInString(k); isWordRune(last) {
			alt += wordAfter
		}
		alternatives[i] = alt
	}
	re := regexp.MustCompile(`(?i)` + strings.Join(alternatives, "|"))
	return &keywordMatcher{keywords: keywords, re: re}
}

// find returns the first keyword found in s, in lower case as the list
// spells it, or "".
func (k *keywordMatcher) find(s string) string {
	if s == "" {
		return ""
	}
	m := k.re.FindStringSubmatchIndex(apostrophes.Replace(s))
	if m == nil {
		return ""
	}
	for i := range k.keywords {
		if m[2*(i+1)] >= 0 {
			return strings.ToLower(strings.TrimSpace(k.keywords[i]))
		}
	}
	return ""
}
