package processors

import (
	"context"
	"log/slog"
	"time"
)

// DefaultRulesFile is the rules file of ChainConfig when neither RulesFile
// nor Rules is set, relative to the working directory.
const DefaultRulesFile = "config/rules.yaml"

// ChainConfig configures DefaultChain. The zero value loads
// config/rules.yaml and uses every default below.
type ChainConfig struct {
	// RulesFile is the path of the rules file. Empty means
	// DefaultRulesFile; ignored when Rules is set.
	RulesFile string
	// Rules is an already loaded ruleset, used instead of RulesFile and
	// never reloaded.
	Rules *Ruleset
	// Context bounds the life of the RulesWatcher that reloads RulesFile
	// when it changes: the watcher stops when Context ends. Nil loads
	// RulesFile once, without a watcher.
	Context context.Context
	// RulesReloadInterval is how often the watcher checks RulesFile. Zero
	// means DefaultRulesReloadInterval (5s); a negative value loads the
	// file once.
	RulesReloadInterval time.Duration
	// Logger receives the watcher's records of reloads and rejected files.
	// Nil means slog.Default().
	Logger *slog.Logger
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
	// Thread configures follow-up detection: the subject reference format,
	// the index TTL and the address salt. The zero value uses the defaults.
	Thread ThreadConfig
	// Now returns the current time for dedupe expiry. Nil means time.Now.
	Now func() time.Time
}

// DefaultChain returns the chain dedupe → redact → classify → route →
// thread → autoreply (AutoReplyGuard, which must stay last). It
// fails when the rules file cannot be read or is invalid; the error lists
// every problem with its line. With cfg.Context set, classify reads the
// ruleset of a RulesWatcher, so a changed rules file applies without a
// restart.
func DefaultChain(cfg ChainConfig) (Chain, error) {
	rules, stopWatcher, err := chainRules(cfg)
	if err != nil {
		return nil, err
	}
	chain, err := newDefaultChain(cfg, rules)
	if err != nil {
		stopWatcher()
		return nil, err
	}
	return chain, nil
}

// chainRules returns the rules source of cfg and the function that stops
// its watcher, if it has one.
func chainRules(cfg ChainConfig) (RulesSource, func(), error) {
	noWatcher := func() {}
	if cfg.Rules != nil {
		return cfg.Rules, noWatcher, nil
	}
	path := cfg.RulesFile
	if path == "" {
		path = DefaultRulesFile
	}
	if cfg.Context == nil || cfg.RulesReloadInterval < 0 {
		rules, err := LoadRules(path)
		if err != nil {
			return nil, noWatcher, err
		}
		return rules, noWatcher, nil
	}

	w, err := NewRulesWatcher(cfg.Context, RulesWatcherConfig{Path: path, Interval: cfg.RulesReloadInterval, Logger: cfg.Logger})
	if err != nil {
		return nil, noWatcher, err
	}
	return w, func() { _ = w.Close() }, nil
}

func newDefaultChain(cfg ChainConfig, rules RulesSource) (Chain, error) {
	dedupe, err := NewDedupe(DedupeConfig{TTL: cfg.DedupeTTL, Now: cfg.Now})
	if err != nil {
		return nil, err
	}
	classify, err := NewClassify(ClassifyConfig{RulesSource: rules, DefaultQueue: cfg.DefaultQueue, Model: cfg.Model})
	if err != nil {
		return nil, err
	}
	route := NewRoute(RouteConfig{UrgentKeywords: cfg.UrgentKeywords, HighKeywords: cfg.HighKeywords})
	threadCfg := cfg.Thread
	if threadCfg.Now == nil {
		threadCfg.Now = cfg.Now
	}
	thread, err := NewThread(threadCfg)
	if err != nil {
		return nil, err
	}

	return Chain{dedupe, NewRedact(), classify, route, thread, NewAutoReplyGuard()}, nil
}
