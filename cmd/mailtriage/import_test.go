package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"mailtriage/topics"
)

// importTree writes a folder with two messages and a note that is not
// mail, an mbox file with two messages and a Maildir with one, and returns
// their paths.
func importTree(t *testing.T) []string {
	t.Helper()
	msg := func(id string) string {
		return "From: Ana <ana@example.com>\nTo: support@example.com\nSubject: Export " + id +
			"\nMessage-ID: <" + id + "@example.com>\n\nThe export failed.\n"
	}
	root := t.TempDir()
	files := map[string]string{
		"folder/a.eml":         msg("a"),
		"folder/b.eml":         msg("b"),
		"folder/notes.txt":     "remember to buy milk\n",
		"archive.mbox":         "From ana@example.com Mon Jan  5 10:00:00 2026\n" + msg("m1") + "\nFrom ana@example.com Mon Jan  5 10:01:00 2026\n" + msg("m2"),
		"Maildir/cur/1.host:2": msg("md1"),
	}
	for name, content := range files {
		path := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, sub := range []string{"new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, "Maildir", sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return []string{filepath.Join(root, "folder"), filepath.Join(root, "archive.mbox"), filepath.Join(root, "Maildir")}
}

func importCluster(t *testing.T) string {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topics.Inbound, topics.DLQ))
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	t.Cleanup(cluster.Close)
	return cluster.ListenAddrs()[0]
}

func TestImportPlainProgressAndTotals(t *testing.T) {
	clearKafkaEnv(t)
	broker := importCluster(t)
	args := append([]string{"--brokers", broker, "--storage", t.TempDir()}, importTree(t)...)
	cfg, err := parseImportConfig(args)
	if err != nil {
		t.Fatalf("parsing %v: %v", args, err)
	}

	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := importFiles(ctx, cfg, &stdout, &stderr, false); err != nil {
		t.Fatalf("import: %v\nstdout:\n%s", err, stdout.String())
	}

	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) < 2 {
		t.Fatalf("output %q, expected progress lines and the totals", stdout.String())
	}
	if last := lines[len(lines)-1]; last != "imported 5, dead-lettered 1, failed 0 (of 6 messages)" {
		t.Errorf("last line %q, expected the totals of 5 imported and 1 dead-lettered", last)
	}
	if progress := lines[len(lines)-2]; !strings.HasPrefix(progress, "imported 6/6 (") || !strings.Contains(progress, "/s, in ") {
		t.Errorf("progress line %q, expected \"imported 6/6 (N/s, in D)\"", progress)
	}
	if strings.Contains(stdout.String(), "\r") {
		t.Errorf("output %q contains a carriage return, expected plain lines when stdout is not a terminal", stdout.String())
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr %q, expected nothing without failures", stderr.String())
	}
}

func TestImportBarOnTerminal(t *testing.T) {
	clearKafkaEnv(t)
	broker := importCluster(t)
	cfg, err := parseImportConfig(append([]string{"--brokers", broker, "--storage", t.TempDir()}, importTree(t)...))
	if err != nil {
		t.Fatal(err)
	}

	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := importFiles(ctx, cfg, &stdout, &stderr, true); err != nil {
		t.Fatalf("import: %v", err)
	}
	out := stdout.String()
	for _, want := range []string{"importing", "6/6", "msg/s", "imported 5, dead-lettered 1, failed 0 (of 6 messages)"} {
		if !strings.Contains(out, want) {
			t.Errorf("terminal output %q does not contain %q", out, want)
		}
	}
}

func TestImportBrokerDownExitsNonZero(t *testing.T) {
	clearKafkaEnv(t)
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	broker := cluster.ListenAddrs()[0]
	cluster.Close()

	args := append([]string{"--brokers", broker, "--storage", t.TempDir(), "--timeout", "1s"}, importTree(t)...)
	cfg, err := parseImportConfig(args)
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	err = importFiles(context.Background(), cfg, &stdout, &stderr, false)
	if err == nil {
		t.Fatal("import with the broker down succeeded, expected an error")
	}
	for _, want := range []string{"connecting to Kafka at " + broker + " failed", "check --brokers"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if code := run(append([]string{"import"}, args...)); code != 1 {
		t.Errorf("mailtriage import with the broker down exited with %d, expected 1", code)
	}
}

func TestImportMissingTopic(t *testing.T) {
	clearKafkaEnv(t)
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topics.Inbound))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	cfg, err := parseImportConfig(append([]string{"--brokers", cluster.ListenAddrs()[0], "--storage", t.TempDir()}, importTree(t)...))
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	err = importFiles(context.Background(), cfg, &stdout, &stderr, false)
	want := "topic " + topics.DLQ + " is missing: create the topics with \"mailtriage topics create\""
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("import without the dead-letter topic returned %v, expected %q", err, want)
	}
}

func TestImportConfigRejectsBadFlags(t *testing.T) {
	clearKafkaEnv(t)
	cases := map[string][]string{
		"no paths":          {"--brokers", "127.0.0.1:9"},
		"tenant with slash": {"--brokers", "127.0.0.1:9", "--tenant", "a/b", "x.eml"},
		"zero concurrency":  {"--brokers", "127.0.0.1:9", "--concurrency", "0", "x.eml"},
		"no brokers":        {"x.eml"},
	}
	wants := map[string]string{
		"no paths":          "no mail to import",
		"tenant with slash": `--tenant: invalid tenant "a/b"`,
		"zero concurrency":  "invalid --concurrency 0",
		"no brokers":        "brokers",
	}
	for name, args := range cases {
		_, err := parseImportConfig(args)
		if err == nil || !strings.Contains(err.Error(), wants[name]) {
			t.Errorf("%s: parseImportConfig(%v) returned %v, expected an error containing %q", name, args, err, wants[name])
		}
	}
}
