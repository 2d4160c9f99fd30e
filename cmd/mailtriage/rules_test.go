package main

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// runCaptured runs the mailtriage command line with args and returns its
// exit code, standard output and standard error.
func runCaptured(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	capture := func(target **os.File) (func() string, error) {
		r, w, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		saved := *target
		*target = w
		done := make(chan string)
		go func() {
			data, _ := io.ReadAll(r)
			done <- string(data)
		}()
		return func() string {
			*target = saved
			w.Close()
			return <-done
		}, nil
	}
	stopOut, err := capture(&os.Stdout)
	if err != nil {
		t.Fatal(err)
	}
	stopErr, err := capture(&os.Stderr)
	if err != nil {
		stopOut()
		t.Fatal(err)
	}
	code = run(args)
	return code, stopOut(), stopErr()
}

const sampleRules = "../../config/rules.yaml"

func TestRulesLintValidFile(t *testing.T) {
	code, out, errOut := runCaptured(t, "rules", "lint", sampleRules)
	if code != 0 {
		t.Fatalf("exit code %d, want 0; stderr %s", code, errOut)
	}
	want := sampleRules + `: valid, version "2025-06-01": 8 default rules; tenant acme: 12 rules (4 own, 8 default)` + "\n"
	if out != want {
		t.Errorf("output %q, want %q", out, want)
	}
}

func TestRulesLintInvalidFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.yaml")
	content := `version: "1"
rules:
  - id: one
    when: {subject_regex: "("}
    then: {queue: a}
  - id: two
    when: {language: german}
    then: {queue: b, priority: soon}
`
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCaptured(t, "rules", "lint", path)
	if code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	wantPrefixes := []string{
		path + `:4: rule "one": invalid regex "("`,
		path + `:7: rule "two": language "german" is not supported`,
		path + `:8: rule "two": invalid priority "soon"`,
	}
	if len(lines) != len(wantPrefixes) {
		t.Fatalf("output has %d lines, want %d:\n%s", len(lines), len(wantPrefixes), out)
	}
	for i, want := range wantPrefixes {
		if !strings.HasPrefix(lines[i], want) {
			t.Errorf("line %d = %q, want it to start with %q", i+1, lines[i], want)
		}
	}
	if want := "3 problems listed above"; !strings.Contains(errOut, want) {
		t.Errorf("stderr %q does not contain %q", errOut, want)
	}
}

func TestRulesLintUsage(t *testing.T) {
	for _, args := range [][]string{{"rules"}, {"rules", "lint"}, {"rules", "check", "x.yaml"}} {
		if code, _, _ := runCaptured(t, args...); code != 2 {
			t.Errorf("mailtriage %s: exit code %d, want 2", strings.Join(args, " "), code)
		}
	}
}

func TestRulesLintMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent.yaml")
	code, out, errOut := runCaptured(t, "rules", "lint", path)
	if code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	if out != "" {
		t.Errorf("stdout %q, want nothing", out)
	}
	want := "mailtriage rules: rules file " + path + " does not exist: check the path, " +
		"or lint the sample ruleset with mailtriage rules lint config/rules.yaml from the repository's root folder\n"
	if errOut != want {
		t.Errorf("stderr\n%q\nwant\n%q", errOut, want)
	}
}

func TestRulesTestMissingRulesFile(t *testing.T) {
	rules := filepath.Join(t.TempDir(), "absent.yaml")
	paths := writeMessages(t, map[string]string{"a.eml": testMessage("support@shop.example", "Hello", "Hi")})
	code, _, errOut := runCaptured(t, "rules", "test", "--rules", rules, paths["a.eml"])
	if code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	want := "mailtriage rules: rules file " + rules + " does not exist: pass --rules with the path of a YAML ruleset, " +
		"such as config/rules.yaml from the repository's root folder\n"
	if errOut != want {
		t.Errorf("stderr\n%q\nwant\n%q", errOut, want)
	}
}

func TestRulesLintYAMLSyntaxError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.yaml")
	content := "version: \"1\"\nrules:\n  - id: one\n    when: {alias: billing\n    then: {queue: billing}\n"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCaptured(t, "rules", "lint", path)
	if code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	want := path + ":4: invalid YAML: did not find expected ',' or '}'; " +
		"the mistake is on this line or inside the { } mapping that starts on it; check that it is closed\n"
	if out != want {
		t.Errorf("stdout\n%q\nwant\n%q", out, want)
	}
	if want := "1 problem listed above"; !strings.Contains(errOut, want) {
		t.Errorf("stderr %q does not contain %q", errOut, want)
	}
}

// writeMessages writes the raw messages into a temporary folder and
// returns their paths.
func writeMessages(t *testing.T, messages map[string]string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	paths := map[string]string{}
	for name, raw := range messages {
		paths[name] = filepath.Join(dir, name)
		if err := os.WriteFile(paths[name], []byte(raw), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return paths
}

func testMessage(to, subject, body string) string {
	return "From: Jane <jane@customer.example>\r\nTo: " + to + "\r\nSubject: " + subject +
		"\r\nMessage-ID: <" + subject + "@customer.example>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + body + "\r\n"
}

func TestRulesTestText(t *testing.T) {
	paths := writeMessages(t, map[string]string{
		"billing.eml":   testMessage("support+billing@shop.example", "Question", "Hello"),
		"nothing.eml":   testMessage("support@shop.example", "Opening hours", "When are you open?"),
		"wholesale.eml": testMessage("wholesale@acme.example", "Prices", "Hello"),
	})
	code, out, errOut := runCaptured(t, "rules", "test", "--rules", sampleRules, "--tenant", "acme",
		paths["billing.eml"], paths["nothing.eml"], paths["wholesale.eml"])
	if code != 0 {
		t.Fatalf("exit code %d, want 0; stderr %s", code, errOut)
	}
	want := paths["billing.eml"] + `: rule billing-address (line ` + lineOf(t, sampleRules, "- id: billing-address") + `) matched on subaddress "billing": queue billing, tags billing` + "\n" +
		"    Mail to billing@, invoices@, payments@ or support+billing@ goes to billing.\n" +
		paths["nothing.eml"] + ": no rule matched\n" +
		paths["wholesale.eml"] + `: rule acme-wholesale (line ` + lineOf(t, sampleRules, "- id: acme-wholesale") + `) matched on alias "wholesale": queue wholesale, tags b2b` + "\n" +
		"    Mail to wholesale@ or any subject about a wholesale account.\n"
	if out != want {
		t.Errorf("output:\n%s\nwant:\n%s", out, want)
	}
}

// lineOf returns the number of the first line of file that contains text.
func lineOf(t *testing.T, file, text string) string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(string(data), "\n") {
		if strings.Contains(line, text) {
			return strconv.Itoa(i + 1)
		}
	}
	t.Fatalf("%s has no line containing %q", file, text)
	return ""
}

func TestRulesTestJSON(t *testing.T) {
	paths := writeMessages(t, map[string]string{
		"bounce.eml": "From: MAILER-DAEMON@mx.example.net\r\nTo: support@shop.example\r\nSubject: Undeliverable: hello\r\n\r\nx\r\n",
		"plain.eml":  testMessage("support@shop.example", "Opening hours", "When are you open?"),
	})
	code, out, errOut := runCaptured(t, "rules", "test", "--rules", sampleRules, "--json", paths["bounce.eml"], paths["plain.eml"])
	if code != 0 {
		t.Fatalf("exit code %d, want 0; stderr %s", code, errOut)
	}
	var report ruleTestReport
	if err := json.Unmarshal([]byte(out), &report); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	if report.RulesetVersion != "2025-06-01" || report.Tenant != "default" || len(report.Messages) != 2 {
		t.Fatalf("report = %+v, want version 2025-06-01, tenant default and 2 messages", report)
	}
	bounce := report.Messages[0]
	if !bounce.Matched || bounce.RuleID != "machine-mail" || bounce.Queue != "system" || !bounce.SkipAutoReply {
		t.Errorf("bounce = %+v, want rule machine-mail, queue system, no auto-reply", bounce)
	}
	if bounce.MatchedOn != `from "mailer-daemon"` {
		t.Errorf("bounce matchedOn = %q, want from \"mailer-daemon\"", bounce.MatchedOn)
	}
	if plain := report.Messages[1]; plain.Matched || plain.RuleID != "" {
		t.Errorf("plain = %+v, want no rule", plain)
	}
}

func TestRulesTestErrors(t *testing.T) {
	if code, _, _ := runCaptured(t, "rules", "test", "--rules", sampleRules); code != 2 {
		t.Errorf("rules test without files: exit code %d, want 2", code)
	}
	missing := filepath.Join(t.TempDir(), "absent.eml")
	if code, _, errOut := runCaptured(t, "rules", "test", "--rules", sampleRules, missing); code != 1 || !strings.Contains(errOut, "absent.eml not found") {
		t.Errorf("rules test of a missing message: exit code %d, stderr %q; want 1 and not found", code, errOut)
	}
}

func TestClassifyMissingRulesFile(t *testing.T) {
	rules := filepath.Join(t.TempDir(), "absent.yaml")
	code, _, errOut := runCaptured(t, "classify", "--rules", rules, "-")
	if code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	want := "mailtriage classify: rules file " + rules + " does not exist: pass --rules with the path of a YAML ruleset, " +
		"such as config/rules.yaml from the repository's root folder\n"
	if errOut != want {
		t.Errorf("stderr\n%q\nwant\n%q", errOut, want)
	}
}

func TestCountOf(t *testing.T) {
	for _, c := range []struct {
		n    int
		want string
	}{{0, "0 rules"}, {1, "1 rule"}, {2, "2 rules"}} {
		if got := countOf(c.n, "rule"); got != c.want {
			t.Errorf("countOf(%d, rule) = %q, expected %q", c.n, got, c.want)
		}
	}
}
