package processors

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// versionedRules returns a valid rules file of version v whose one rule
// sends mail to alias "help" to queue q.
func versionedRules(v, q string) string {
	return "version: \"" + v + "\"\nrules:\n  - id: help-" + q + "\n    when: {alias: help}\n    then: {queue: " + q + "}\n"
}

const brokenRules = `version: "broken"
rules:
  - id: fine
    when: {alias: help}
    then: {queue: a}
  - id: bad-pattern
    when: {subject_regex: "(unclosed"}
    then: {queue: b}
`

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// newTestWatcher starts a watcher without a background check on a file
// with content, logging into the returned buffer.
func newTestWatcher(t *testing.T, content string) (*RulesWatcher, string, *bytes.Buffer) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rules.yaml")
	writeFile(t, path, content)
	var logs bytes.Buffer
	w, err := NewRulesWatcher(context.Background(), RulesWatcherConfig{
		Path: path, Interval: -1, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	return w, path, &logs
}

func TestRulesWatcherAppliesNewVersion(t *testing.T) {
	w, path, logs := newTestWatcher(t, versionedRules("1", "one"))
	c, err := NewClassify(ClassifyConfig{RulesSource: w})
	if err != nil {
		t.Fatal(err)
	}
	classify := func() (queue, version string) {
		m := &Message{Email: email("help@shop.example", "Hi", "Hi")}
		if _, err := c.Process(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		return m.Decision.Queue, m.Decision.Reason.RulesetVersion
	}
	if q, v := classify(); q != "one" || v != "1" {
		t.Fatalf("before reload: queue %q version %q, want one and 1", q, v)
	}

	if changed, err := w.Reload(); changed || err != nil {
		t.Errorf("Reload of an unchanged file = %v, %v; want false, nil", changed, err)
	}
	writeFile(t, path, versionedRules("2", "two"))
	if changed, err := w.Reload(); !changed || err != nil {
		t.Fatalf("Reload of a changed file = %v, %v; want true, nil", changed, err)
	}
	if q, v := classify(); q != "two" || v != "2" {
		t.Errorf("after reload: queue %q version %q, want two and 2", q, v)
	}
	if !strings.Contains(logs.String(), `msg="rules reloaded"`) || !strings.Contains(logs.String(), "version=2 previous_version=1 rules=1") {
		t.Errorf("log = %q, want a reload record with version 2, previous version 1 and 1 rule", logs)
	}
}

func TestRulesWatcherKeepsOldOnInvalidFile(t *testing.T) {
	w, path, logs := newTestWatcher(t, versionedRules("1", "one"))
	writeFile(t, path, brokenRules)

	changed, err := w.Reload()
	if changed || err == nil {
		t.Fatalf("Reload of an invalid file = %v, %v; want false and an error", changed, err)
	}
	wantErr := path + `:7: rule "bad-pattern": invalid regex "(unclosed"`
	if !strings.Contains(err.Error(), wantErr) {
		t.Errorf("error %q does not name the rule and line: want %q", err, wantErr)
	}
	if v := w.Current().Version; v != "1" {
		t.Errorf("version after an invalid file = %q, want the old 1", v)
	}
	if w.Err() == nil {
		t.Error("Err() = nil after an invalid file, want the parse error")
	}

	// The same broken content again is not logged a second time.
	if _, err := w.Reload(); err == nil {
		t.Error("second Reload of the invalid file: err = nil, want the same error")
	}
	if n := strings.Count(logs.String(), "rules reload failed"); n != 1 {
		t.Errorf("logged %d failures for one broken content, want 1:\n%s", n, logs)
	}
	if !strings.Contains(logs.String(), "active_version=1") {
		t.Errorf("failure log does not name the active version 1:\n%s", logs)
	}

	// A fixed file applies and clears the error.
	writeFile(t, path, versionedRules("3", "three"))
	if changed, err := w.Reload(); !changed || err != nil {
		t.Fatalf("Reload of the fixed file = %v, %v; want true, nil", changed, err)
	}
	if w.Err() != nil || w.Current().Version != "3" {
		t.Errorf("after the fix: Err %v, version %q; want nil and 3", w.Err(), w.Current().Version)
	}
}

func TestRulesWatcherKeepsOldOnMissingFile(t *testing.T) {
	w, path, _ := newTestWatcher(t, versionedRules("1", "one"))
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Reload(); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("Reload of a missing file: err = %v, want one naming %s", err, path)
	}
	if v := w.Current().Version; v != "1" {
		t.Errorf("version after the file vanished = %q, want the old 1", v)
	}
}

func TestRulesWatcherSeesRenameReplace(t *testing.T) {
	w, path, _ := newTestWatcher(t, versionedRules("1", "one"))
	tmp := path + ".tmp"
	writeFile(t, tmp, versionedRules("2", "two"))
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	if changed, err := w.Reload(); !changed || err != nil || w.Current().Version != "2" {
		t.Errorf("after rename: Reload = %v, %v, version %q; want true, nil, 2", changed, err, w.Current().Version)
	}
}

func TestRulesWatcherSeesSymlinkSwap(t *testing.T) {
	// A Kubernetes ConfigMap volume: rules.yaml -> ..data/rules.yaml, and
	// ..data is a symlink to a timestamped folder that an update replaces.
	dir := t.TempDir()
	for _, v := range []string{"1", "2"} {
		if err := os.Mkdir(filepath.Join(dir, "v"+v), 0o700); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, "v"+v, "rules.yaml"), versionedRules(v, "q"+v))
	}
	if err := os.Symlink("v1", filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "rules.yaml")
	if err := os.Symlink(filepath.Join("..data", "rules.yaml"), path); err != nil {
		t.Fatal(err)
	}
	w, err := NewRulesWatcher(context.Background(), RulesWatcherConfig{Path: path, Interval: -1, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()

	if err := os.Symlink("v2", filepath.Join(dir, "..data_tmp")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if changed, err := w.Reload(); !changed || err != nil || w.Current().Version != "2" {
		t.Errorf("after the symlink swap: Reload = %v, %v, version %q; want true, nil, 2", changed, err, w.Current().Version)
	}
}

func TestRulesWatcherPollsInBackground(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.yaml")
	writeFile(t, path, versionedRules("1", "one"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w, err := NewRulesWatcher(ctx, RulesWatcherConfig{Path: path, Interval: 10 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}

	writeFile(t, path, versionedRules("2", "two"))
	deadline := time.Now().Add(5 * time.Second)
	for w.Current().Version != "2" && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if v := w.Current().Version; v != "2" {
		t.Fatalf("version 5s after the change = %q, want 2", v)
	}

	cancel()
	select {
	case <-w.done:
	case <-time.After(5 * time.Second):
		t.Fatal("the watcher still runs 5s after its context ended")
	}
	if err := w.Close(); err != nil {
		t.Errorf("Close after the context ended = %v, want nil", err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
}

func TestNewRulesWatcherRejectsInvalidFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.yaml")
	writeFile(t, path, brokenRules)
	_, err := NewRulesWatcher(context.Background(), RulesWatcherConfig{Path: path})
	if err == nil || !strings.Contains(err.Error(), `:7: rule "bad-pattern": invalid regex`) {
		t.Errorf("NewRulesWatcher on an invalid file: err = %v, want the rule and line", err)
	}
}

func TestDefaultChainReloadsRules(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.yaml")
	writeFile(t, path, versionedRules("1", "one"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	chain, err := DefaultChain(ChainConfig{
		RulesFile: path, Context: ctx, RulesReloadInterval: 10 * time.Millisecond, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	classify := chain[2]
	queue := func() string {
		m := &Message{Email: email("help@shop.example", "Hi", "Hi")}
		if _, err := classify.Process(ctx, m); err != nil {
			t.Fatal(err)
		}
		return m.Decision.Queue
	}
	if q := queue(); q != "one" {
		t.Fatalf("queue before the change = %q, want one", q)
	}

	writeFile(t, path, versionedRules("2", "two"))
	deadline := time.Now().Add(5 * time.Second)
	for queue() != "two" && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if q := queue(); q != "two" {
		t.Errorf("queue 5s after the change = %q, want two", q)
	}
}

func TestDefaultChainWithoutContextLoadsOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.yaml")
	writeFile(t, path, versionedRules("1", "one"))
	chain, err := DefaultChain(ChainConfig{RulesFile: path, RulesReloadInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, versionedRules("2", "two"))
	time.Sleep(20 * time.Millisecond)
	m := &Message{Email: email("help@shop.example", "Hi", "Hi")}
	if _, err := chain[2].Process(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if m.Decision.Queue != "one" {
		t.Errorf("queue = %q, want one: without a Context the file is loaded once", m.Decision.Queue)
	}
}
