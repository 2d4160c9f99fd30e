package processors

import (
	"fmt"
	"regexp"
)

// textField selects the text a keyword or regex condition reads.
type textField int

const (
	fieldSubject textField = iota
	fieldBody
	fieldSubjectOrBody
)

func (f textField) texts(in *matchInput) []string {
	switch f {
	case fieldSubject:
		return []string{in.subject}
	case fieldBody:
		return []string{in.body}
	default:
		return []string{in.subject, in.body}
	}
}

// parts returns the single fields that f reads, in the order they are
// tried: fieldSubject, fieldBody or both.
func (f textField) parts() []textField {
	if f == fieldSubjectOrBody {
		return []textField{fieldSubject, fieldBody}
	}
	return []textField{f}
}

var textFieldNames = map[textField]string{fieldSubject: "subject", fieldBody: "body", fieldSubjectOrBody: "subject or body"}

// keywordCondition holds when a keyword occurs in its field.
type keywordCondition struct {
	field    textField
	keywords *keywordMatcher
}

func (c *keywordCondition) String() string {
	return fmt.Sprintf("%s keyword in %q", textFieldNames[c.field], c.keywords.keywords)
}

func (c *keywordCondition) match(in *matchInput) (bool, string) {
	for _, part := range c.field.parts() {
		if kw := in.keywords.find(c.keywords, in.keywordStartsIn(part)); kw != "" {
			return true, fmt.Sprintf("%s keyword %q", textFieldNames[c.field], kw)
		}
	}
	return false, ""
}

// regexCondition holds when its pattern matches its field.
type regexCondition struct {
	field textField
	re    *regexp.Regexp
}

func (c *regexCondition) String() string {
	return fmt.Sprintf("%s matches /%s/", textFieldNames[c.field], c.re)
}

func (c *regexCondition) match(in *matchInput) (bool, string) {
	for _, t := range c.field.texts(in) {
		if c.re.MatchString(t) {
			return true, fmt.Sprintf("%s matches /%s/", textFieldNames[c.field], c.re)
		}
	}
	return false, ""
}
