package processors

import (
	"maps"
	"slices"
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

// Current returns rs itself, so that a fixed ruleset serves where a
// RulesSource is expected.
func (rs *Ruleset) Current() *Ruleset { return rs }

// Tenants returns the tenants that have a rule list of their own, sorted.
func (rs *Ruleset) Tenants() []string {
	return slices.Sorted(maps.Keys(rs.tenantRules))
}

// DefaultRules returns the rule list of tenants without their own.
func (rs *Ruleset) DefaultRules() []*Rule { return rs.defaultRules }

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
