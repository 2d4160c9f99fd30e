package processors

import (
	"fmt"
	"regexp"
	"strings"
	"sync"

	"mailtriage/schemas"
)

// Ruleset is a loaded rules file: a default rule list and the rule lists of
// the tenants that have their own. It is immutable after loading and safe
// for concurrent use. ParseRules documents the file format.
type Ruleset struct {
	// Version is the file's version string, reported in every decision.
	Version string
	// Source is the file name the ruleset was loaded from.
	Source string

	defaultRules []*Rule
	tenantRules  map[string][]*Rule

	// keywords is the automaton of every keyword condition, built on the
	// first match by keywordSet.
	keywordsOnce sync.Once
	keywords     *keywordSet
}

// Rule is one entry of a rule list: a condition and what to do when it
// matches.
type Rule struct {
	ID          string
	Description string
	// Line is the line of the rule in its file.
	Line   int
	Action RuleAction

	when condition
}

// RuleAction is what a matching rule decides.
type RuleAction struct {
	Queue         string
	Priority      string // "low", "normal", "high", "urgent" or "" to let Route decide
	Tags          []string
	SkipAutoReply bool
}

// RulesFor returns the rules that apply to tenant in priority order: the
// tenant's own list when it has one, otherwise the default list.
func (rs *Ruleset) RulesFor(tenant string) []*Rule {
	if rules, ok := rs.tenantRules[tenant]; ok {
		return rules
	}
	return rs.defaultRules
}

// Match returns the first rule for e's tenant whose condition holds, with a
// short description of what matched, or nil when none does.
func (rs *Ruleset) Match(e *schemas.InboundEmail) (*Rule, string) {
	return rs.match(e, nil)
}

// match is Match with a cache of folded texts, which may be nil.
func (rs *Ruleset) match(e *schemas.InboundEmail, cache *foldCache) (*Rule, string) {
	in := newMatchInput(e)
	in.keywords = rs.keywordSet()
	in.cache = cache
	for _, r := range rs.RulesFor(e.Tenant) {
		if ok, why := r.when.match(in); ok {
			return r, why
		}
	}
	return nil, ""
}

// keywordSet returns the automaton of all keyword conditions of rs,
// building it on the first call.
func (rs *Ruleset) keywordSet() *keywordSet {
	rs.keywordsOnce.Do(func() {
		var matchers []*keywordMatcher
		collect := func(rules []*Rule) {
			for _, r := range rules {
				matchers = appendKeywordMatchers(matchers, r.when)
			}
		}
		collect(rs.defaultRules)
		for _, rules := range rs.tenantRules {
			collect(rules)
		}
		rs.keywords = newKeywordSet(matchers)
	})
	return rs.keywords
}

// appendKeywordMatchers appends the matchers of the keyword conditions in
// the tree c.
func appendKeywordMatchers(matchers []*keywordMatcher, c condition) []*keywordMatcher {
	switch c := c.(type) {
	case *keywordCondition:
		matchers = append(matchers, c.keywords)
	case allCondition:
		for _, child := range c {
			matchers = appendKeywordMatchers(matchers, child)
		}
	case anyCondition:
		for _, child := range c {
			matchers = appendKeywordMatchers(matchers, child)
		}
	case notCondition:
		matchers = appendKeywordMatchers(matchers, c.child)
	}
	return matchers
}

// matchInput is the part of a message that conditions look at, prepared
// once per message.
type matchInput struct {
	aliases      map[string]bool // local parts of To, Cc and RCPT TO, without +subaddress, lower case
	subaddresses map[string]bool // the +subaddress parts of the same addresses, lower case
	senders      map[string]bool // local parts of From and MAIL FROM, without +subaddress, lower case
	subject      string
	body         string // reply text, or the whole text when there is none
	headers      []schemas.Header

	keywords *keywordSet // the ruleset's keyword automaton
	cache    *foldCache  // folded texts of the message; nil folds anew
	// keywordStarts holds the output of keywords.scan for the subject and
	// the body, filled on first use.
	keywordStarts [2][]int
}

// keywordStartsIn returns the first match of every keyword of the ruleset
// in one text, scanning the text on the first call: in.subject for
// fieldSubject and in.body for fieldBody.
func (in *matchInput) keywordStartsIn(field textField) []int {
	i, text := 0, in.subject
	if field == fieldBody {
		i, text = 1, in.body
	}
	if in.keywordStarts[i] == nil {
		in.keywordStarts[i] = in.keywords.scan(in.cache.fold(text))
	}
	return in.keywordStarts[i]
}

func newMatchInput(e *schemas.InboundEmail) *matchInput {
	in := &matchInput{
		aliases:      map[string]bool{},
		subaddresses: map[string]bool{},
		senders:      map[string]bool{},
		subject:      e.Subject,
		body:         e.ReplyText,
		headers:      e.Headers,
	}
	if strings.TrimSpace(in.body) == "" {
		in.body = e.Text
	}

	recipients := make([]string, 0, len(e.To)+len(e.Cc))
	for _, a := range e.To {
		recipients = append(recipients, a.Address)
	}
	for _, a := range e.Cc {
		recipients = append(recipients, a.Address)
	}
	if e.Envelope != nil {
		recipients = append(recipients, e.Envelope.RcptTo...)
	}
	for _, addr := range recipients {
		alias, sub := splitLocalPart(addr)
		if alias != "" {
			in.aliases[alias] = true
		}
		if sub != "" {
			in.subaddresses[sub] = true
		}
	}

	if e.From != nil {
		if sender, _ := splitLocalPart(e.From.Address); sender != "" {
			in.senders[sender] = true
		}
	}
	if e.Envelope != nil {
		if sender, _ := splitLocalPart(e.Envelope.MailFrom); sender != "" {
			in.senders[sender] = true
		}
	}
	return in
}

// splitLocalPart returns the lower-case local part of an address without
// its +subaddress, and the subaddress: "Support+Billing@x.example" gives
// "support" and "billing".
func splitLocalPart(addr string) (alias, subaddress string) {
	addr = strings.Trim(strings.TrimSpace(addr), "<>")
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 {
		return "", ""
	}
	local := strings.ToLower(addr[:at])
	alias, subaddress, _ = strings.Cut(local, "+")
	return alias, subaddress
}

// condition is one node of a rule's "when" tree. match reports whether it
// holds and, when it does, what matched, in words fit for Reason.Detail:
// names, keywords and patterns from the rule, never message text.
// String describes the condition itself.
type condition interface {
	match(in *matchInput) (bool, string)
	String() string
}

// setCondition holds when any of its values is in the message's set for
// its key (alias, subaddress or from).
type setCondition struct {
	key    string
	values []string
	set    func(in *matchInput) map[string]bool
}

func (c *setCondition) String() string { return fmt.Sprintf("%s in %q", c.key, c.values) }

func (c *setCondition) match(in *matchInput) (bool, string) {
	set := c.set(in)
	for _, v := range c.values {
		if set[v] {
			return true, fmt.Sprintf("%s %q", c.key, v)
		}
	}
	return false, ""
}

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

// headerCondition tests the header fields named name (case-insensitive).
// Exactly one test is set. present holds when such a field exists, or with
// present false when none does. equals holds when a value equals it,
// ignoring case and surrounding space. matches holds when a value matches
// the pattern.
type headerCondition struct {
	name    string
	present *bool
	equals  *string
	matches *regexp.Regexp
}

func (c *headerCondition) String() string {
	switch {
	case c.equals != nil:
		return fmt.Sprintf("header %s equals %q", c.name, *c.equals)
	case c.matches != nil:
		return fmt.Sprintf("header %s matches /%s/", c.name, c.matches)
	case *c.present:
		return fmt.Sprintf("header %s present", c.name)
	default:
		return fmt.Sprintf("header %s absent", c.name)
	}
}

func (c *headerCondition) match(in *matchInput) (bool, string) {
	found := false
	for _, h := range in.headers {
		if !strings.EqualFold(h.Name, c.name) {
			continue
		}
		found = true
		value := strings.TrimSpace(h.Value)
		switch {
		case c.equals != nil && strings.EqualFold(value, *c.equals):
			return true, fmt.Sprintf("header %s equals %q", c.name, *c.equals)
		case c.matches != nil && c.matches.MatchString(value):
			return true, fmt.Sprintf("header %s matches /%s/", c.name, c.matches)
		}
	}
	if c.present != nil && found == *c.present {
		return true, c.String()
	}
	return false, ""
}

// allCondition holds when every child holds.
type allCondition []condition

func (c allCondition) String() string { return joinConditions("all", c) }

func (c allCondition) match(in *matchInput) (bool, string) {
	whys := make([]string, 0, len(c))
	for _, child := range c {
		ok, why := child.match(in)
		if !ok {
			return false, ""
		}
		whys = append(whys, why)
	}
	return true, strings.Join(whys, " and ")
}

// anyCondition holds when at least one child holds; the first one that
// does gives the description.
type anyCondition []condition

func (c anyCondition) String() string { return joinConditions("any", c) }

func (c anyCondition) match(in *matchInput) (bool, string) {
	for _, child := range c {
		if ok, why := child.match(in); ok {
			return true, why
		}
	}
	return false, ""
}

// notCondition holds when its child does not.
type notCondition struct{ child condition }

func (c notCondition) match(in *matchInput) (bool, string) {
	if ok, _ := c.child.match(in); ok {
		return false, ""
	}
	return true, c.String()
}

func (c notCondition) String() string { return "not (" + c.child.String() + ")" }

func joinConditions(op string, children []condition) string {
	parts := make([]string, len(children))
	for i, child := range children {
		parts[i] = child.String()
	}
	return op + " (" + strings.Join(parts, "; ") + ")"
}
