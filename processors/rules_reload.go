package processors

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultRulesReloadInterval is how often a RulesWatcher checks its file
// when RulesWatcherConfig.Interval is zero.
const DefaultRulesReloadInterval = 5 * time.Second

// RulesSource provides the ruleset in force. Classify calls Current once
// per message, so a source may swap rulesets between messages. Both
// *Ruleset (always itself) and *RulesWatcher implement it.
type RulesSource interface {
	Current() *Ruleset
}

// RulesWatcherConfig configures NewRulesWatcher.
type RulesWatcherConfig struct {
	// Path is the rules file. Required.
	Path string
	// Interval is how often the file is checked. Zero means
	// DefaultRulesReloadInterval (5s); a negative value starts no
	// background check, so only Reload reads the file again.
	Interval time.Duration
	// Logger receives one record per reload and per rejected file. Nil
	// means slog.Default().
	Logger *slog.Logger
}

// RulesWatcher holds the ruleset of a file and replaces it when the file
// changes, without a restart. It is safe for concurrent use.
//
// It polls: every Interval it reads the whole file and compares its
// SHA-256 with that of the active ruleset. So every way of changing the
// file is seen, including an editor that writes a new file and renames it
// over the old one, and a Kubernetes ConfigMap volume that swaps a symlink.
// Modification time and size alone would miss an edit that keeps both, as
// on file systems with one-second timestamps or after "cp -p". Polling
// needs no dependency and works on network and FUSE mounts where inotify
// reports nothing. The cost is one read of a small file per interval, and
// a change applies up to Interval late.
//
// A file that fails to read or parse leaves the active ruleset in place.
// The watcher logs the error once per distinct content and keeps checking.
type RulesWatcher struct {
	path     string
	interval time.Duration
	log      *slog.Logger

	current atomic.Pointer[Ruleset]

	// mu serializes Reload and guards the fields below it.
	mu           sync.Mutex
	digest       [sha256.Size]byte // of the active file content
	failedDigest [sha256.Size]byte // of the last rejected content
	lastErr      error             // of the last check; nil when it succeeded

	cancel    context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once
}

// NewRulesWatcher loads cfg.Path and, unless cfg.Interval is negative,
// starts checking it in the background until ctx ends or Close is called.
// It fails when the file cannot be read or is invalid.
func NewRulesWatcher(ctx context.Context, cfg RulesWatcherConfig) (*RulesWatcher, error) {
	if cfg.Path == "" {
		return nil, errors.New("rules watcher: Path is empty; set the path of a YAML ruleset")
	}
	w := &RulesWatcher{path: cfg.Path, interval: cfg.Interval, log: cfg.Logger, done: make(chan struct{})}
	if w.interval == 0 {
		w.interval = DefaultRulesReloadInterval
	}
	if w.log == nil {
		w.log = slog.Default()
	}

	data, err := readRulesFile(cfg.Path)
	if err != nil {
		return nil, err
	}
	rs, err := ParseRules(cfg.Path, data)
	if err != nil {
		return nil, err
	}
	w.current.Store(rs)
	w.digest = sha256.Sum256(data)

	if w.interval < 0 {
		close(w.done)
		w.cancel = func() {}
		return w, nil
	}
	ctx, w.cancel = context.WithCancel(ctx)
	go w.run(ctx)
	return w, nil
}

// Current returns the active ruleset.
func (w *RulesWatcher) Current() *Ruleset { return w.current.Load() }

// Err returns the error of the last check, or nil when the file in force
// is the one on disk.
func (w *RulesWatcher) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lastErr
}

// Reload reads the file now and activates it when its content changed and
// is valid. It reports whether a new ruleset became active. On an error
// the previous ruleset stays active; a parse error lists every problem as
// FILE:LINE: rule "ID": message.
func (w *RulesWatcher) Reload() (bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()

	data, err := readRulesFile(w.path)
	if err != nil {
		w.fail(err)
		return false, err
	}
	digest := sha256.Sum256(data)
	switch digest {
	case w.digest:
		w.lastErr = nil
		return false, nil
	case w.failedDigest:
		return false, w.lastErr
	}

	rs, err := ParseRules(w.path, data)
	if err != nil {
		w.failedDigest = digest
		w.fail(err)
		return false, err
	}

	previous := w.current.Swap(rs)
	w.digest, w.lastErr = digest, nil
	w.log.Info("rules reloaded", "file", w.path, "version", rs.Version, "previous_version", previous.Version,
		"rules", ruleCount(rs), "sha256", hex.EncodeToString(digest[:6]))
	return true, nil
}

// fail records err and logs it unless the previous check failed with the
// same text, so a file that stays broken is logged once.
func (w *RulesWatcher) fail(err error) {
	if w.lastErr == nil || w.lastErr.Error() != err.Error() {
		w.log.Error("rules reload failed; the previous ruleset stays active", "file", w.path,
			"active_version", w.Current().Version, "error", err)
	}
	w.lastErr = err
}

// Close stops the background check and waits for it to end. It is
// idempotent and always returns nil.
func (w *RulesWatcher) Close() error {
	w.closeOnce.Do(w.cancel)
	<-w.done
	return nil
}

func (w *RulesWatcher) run(ctx context.Context) {
	defer close(w.done)
	ticker := time.NewTicker(w.interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			// Reload logs its own errors, and the next tick tries again.
			_, _ = w.Reload()
		}
	}
}

// ruleCount returns the number of rules in rs, the default list and every
// tenant's own list, counting default rules that a tenant includes once.
func ruleCount(rs *Ruleset) int {
	n := len(rs.defaultRules)
	for _, rules := range rs.tenantRules {
		for _, r := range rules {
			if !slices.Contains(rs.defaultRules, r) {
				n++
			}
		}
	}
	return n
}
