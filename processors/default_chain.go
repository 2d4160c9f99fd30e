package processors

import "time"

// DefaultRulesFile is the rules file of ChainConfig when neither RulesFile
// nor Rules is set, relative to the working directory.
const DefaultRulesFile = "config/rules.yaml"

// ChainConfig configures DefaultChain. The zero value loads
// config/rules.yaml and uses every default below.
type ChainConfig struct {
	// RulesFile is the path of the rules file. Empty means
	// DefaultRulesFile; ignored when Rules is set.
	RulesFile string
	// Rules is an already loaded ruleset, used instead of RulesFile.
	Rules *Ruleset
	// DefaultQueue is the queue of a message that no rule matches. Empty
	// means DefaultQueue ("general").
	DefaultQueue string
	// Model is consulted when no rule matches. Nil, the default, skips it.
	Model Model
	// DedupeTTL is how long a fingerprint counts as seen. Zero means
	// DefaultDedupeTTL (7 days).
	DedupeTTL time.Duration
	// UrgentKeywords and HighKeywords set Route's priority keywords. Nil
	// means DefaultUrgentKeywords and DefaultHighKeywords.
	UrgentKeywords []string
	HighKeywords   []string
	// Now returns the current time for dedupe expiry. Nil means time.Now.
	Now func() time.Time
}

// DefaultChain returns the chain dedupe → redact → classify → route. It
// fails when the rules file cannot be read or is invalid; the error lists
// every problem with its line.
func DefaultChain(cfg ChainConfig) (Chain, error) {
	rules := cfg.Rules
	if rules == nil {
		path := cfg.RulesFile
		if path == "" {
			path = DefaultRulesFile
		}
		var err error
		if rules, err = LoadRules(path); err != nil {
			return nil, err
		}
	}

	dedupe, err := NewDedupe(DedupeConfig{TTL: cfg.DedupeTTL, Now: cfg.Now})
	if err != nil {
		return nil, err
	}
	classify, err := NewClassify(ClassifyConfig{Rules: rules, DefaultQueue: cfg.DefaultQueue, Model: cfg.Model})
	if err != nil {
		return nil, err
	}
	route := NewRoute(RouteConfig{UrgentKeywords: cfg.UrgentKeywords, HighKeywords: cfg.HighKeywords})

	return Chain{dedupe, NewRedact(), classify, route}, nil
}
