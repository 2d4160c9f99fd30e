package processors

import (
	"fmt"
	"strings"
)

// attachmentTypeCondition holds when an attachment's content type matches
// one of patterns. A pattern is "type/subtype", "type/*" for every subtype
// or "*/*" for any attachment. Inline parts, such as images pasted into an
// HTML body, count as attachments too.
type attachmentTypeCondition struct {
	patterns []string // lower case
}

func (c *attachmentTypeCondition) String() string {
	return fmt.Sprintf("attachment_types in %q", c.patterns)
}

func (c *attachmentTypeCondition) match(in *matchInput) (bool, string) {
	for _, p := range c.patterns {
		for _, a := range in.attachments {
			if mediaTypeMatches(p, a.ContentType) {
				return true, fmt.Sprintf("attachment type %q", p)
			}
		}
	}
	return false, ""
}

// mediaTypeMatches reports whether contentType, a media type with or
// without parameters, matches pattern.
func mediaTypeMatches(pattern, contentType string) bool {
	mediaType, _, _ := strings.Cut(contentType, ";")
	mediaType = strings.ToLower(strings.TrimSpace(mediaType))
	if mediaType == "" {
		return false
	}
	if pattern == "*/*" {
		return true
	}
	if prefix, ok := strings.CutSuffix(pattern, "/*"); ok {
		return strings.HasPrefix(mediaType, prefix+"/")
	}
	return mediaType == pattern
}

// authMethod names one verdict of schemas.Auth.
type authMethod string

const (
	authSPF   authMethod = "spf"
	authDKIM  authMethod = "dkim"
	authDMARC authMethod = "dmarc"
)

// unknownVerdict is the rule value for a missing verdict, which
// schemas.Auth stores as "".
const unknownVerdict = "unknown"

// authVerdicts lists the results each method can report: RFC 7208 for SPF,
// RFC 6376 and RFC 8601 for DKIM, RFC 7489 for DMARC, plus unknownVerdict.
var authVerdicts = map[authMethod][]string{
	authSPF:   {"pass", "fail", "softfail", "neutral", "none", "temperror", "permerror", unknownVerdict},
	authDKIM:  {"pass", "fail", "policy", "neutral", "none", "temperror", "permerror", unknownVerdict},
	authDMARC: {"pass", "fail", "none", "temperror", "permerror", unknownVerdict},
}

// authCondition holds when the message's verdict for method is one of
// verdicts.
type authCondition struct {
	method   authMethod
	verdicts []string // lower case, unknownVerdict for ""
}

func (c *authCondition) String() string {
	return fmt.Sprintf("%s in %q", c.method, c.verdicts)
}

func (c *authCondition) match(in *matchInput) (bool, string) {
	got := c.verdict(in)
	if got == "" {
		got = unknownVerdict
	}
	for _, v := range c.verdicts {
		if v == got {
			return true, fmt.Sprintf("%s %s", c.method, v)
		}
	}
	return false, ""
}

func (c *authCondition) verdict(in *matchInput) string {
	switch c.method {
	case authSPF:
		return strings.ToLower(in.auth.SPF)
	case authDKIM:
		return strings.ToLower(in.auth.DKIM)
	default:
		return strings.ToLower(in.auth.DMARC)
	}
}

// spamCondition holds, with spam true, when the spam verdict is "spam", and
// with spam false when it is "ham". A message without a verdict matches
// neither, so "not: {spam: true}" is the way to say "not flagged as spam".
type spamCondition struct {
	spam bool
}

func (c *spamCondition) String() string { return fmt.Sprintf("spam %t", c.spam) }

func (c *spamCondition) match(in *matchInput) (bool, string) {
	want := "ham"
	if c.spam {
		want = "spam"
	}
	if strings.EqualFold(in.auth.Spam, want) {
		return true, "spam verdict " + want
	}
	return false, ""
}

// languageCondition holds when the detected language of the subject and
// body is one of languages. A text whose language detectLanguage cannot
// tell matches no language.
type languageCondition struct {
	languages []string // ISO 639-1 codes from supportedLanguages
}

func (c *languageCondition) String() string {
	return fmt.Sprintf("language in %q", c.languages)
}

func (c *languageCondition) match(in *matchInput) (bool, string) {
	got := in.languageOf()
	if got == "" {
		return false, ""
	}
	for _, l := range c.languages {
		if l == got {
			return true, "language " + l
		}
	}
	return false, ""
}
