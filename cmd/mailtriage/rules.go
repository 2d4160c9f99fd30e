package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"mailtriage/internal/mime"
	"mailtriage/processors"
)

func init() {
	register("rules", "Check a rules file (lint) or show which rule matches sample messages (test)", runRules)
}

const rulesUsage = `usage: mailtriage rules lint RULES.yaml
       mailtriage rules test [--rules FILE] [--tenant NAME] [--json] FILE.eml...

lint  checks a rules file. It prints one summary line and exits 0 when the file
      is valid, and otherwise prints every problem as FILE:LINE: rule "ID":
      message and exits 1.
test  runs the rules on raw RFC 5322 messages, after the same parsing and PII
      redaction as the processor, and prints the rule that matched each one,
      with its description and what matched, or "no rule matched".`

func runRules(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, rulesUsage)
		return &usageError{err: errors.New("missing subcommand: use lint or test")}
	}
	switch args[0] {
	case "lint":
		return rulesLint(args[1:], os.Stdout)
	case "test":
		return rulesTest(ctx, args[1:], os.Stdout)
	case "-h", "--help", "help":
		fmt.Fprintln(os.Stdout, rulesUsage)
		return nil
	}
	fmt.Fprintln(os.Stderr, rulesUsage)
	return &usageError{err: fmt.Errorf("unknown subcommand %q: use lint or test", args[0])}
}

// rulesLint checks one rules file and writes the summary or the problems
// to out.
func rulesLint(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("rules lint", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprintln(fs.Output(), rulesUsage) }
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return &usageError{err: fmt.Errorf("rules lint takes exactly one RULES.yaml, got %d arguments", fs.NArg())}
	}

	path := fs.Arg(0)
	rs, err := processors.LoadRules(path)
	var notFound *processors.RulesFileNotFoundError
	if errors.As(err, &notFound) {
		return fmt.Errorf("%w: check the path, or lint the sample ruleset with mailtriage rules lint config/rules.yaml from the repository's root folder", err)
	}
	if err != nil {
		problems := splitErrors(err)
		for _, p := range problems {
			fmt.Fprintln(out, p)
		}
		return fmt.Errorf("%s is invalid: %s listed above; fix them and run lint again", path, countOf(len(problems), "problem"))
	}
	fmt.Fprintln(out, lintSummary(path, rs))
	return nil
}

// explainMissingRules adds to err, when the rules file does not exist,
// how to name another one: the --rules flag of process, demo, classify and
// rules test.
func explainMissingRules(err error) error {
	var notFound *processors.RulesFileNotFoundError
	if errors.As(err, &notFound) {
		return fmt.Errorf("%w: pass --rules with the path of a YAML ruleset, such as config/rules.yaml from the repository's root folder", err)
	}
	return err
}

// splitErrors returns the messages of the errors that errors.Join combined
// into err, or err's own message.
func splitErrors(err error) []string {
	var joined interface{ Unwrap() []error }
	if errors.As(err, &joined) {
		var out []string
		for _, e := range joined.Unwrap() {
			out = append(out, splitErrors(e)...)
		}
		return out
	}
	return []string{err.Error()}
}

// countOf returns n and noun, with an "s" on the noun unless n is 1.
func countOf(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// lintSummary describes a valid ruleset on one line: its version and the
// number of rules each tenant gets.
func lintSummary(path string, rs *processors.Ruleset) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: valid, version %q: %s", path, rs.Version, countOf(len(rs.DefaultRules()), "default rule"))
	for _, tenant := range rs.Tenants() {
		rules := rs.RulesFor(tenant)
		inherited := 0
		for _, r := range rules {
			for _, d := range rs.DefaultRules() {
				if r == d {
					inherited++
				}
			}
		}
		fmt.Fprintf(&b, "; tenant %s: %s", tenant, countOf(len(rules), "rule"))
		if inherited > 0 {
			fmt.Fprintf(&b, " (%d own, %d default)", len(rules)-inherited, inherited)
		}
	}
	return b.String()
}

// ruleTestResult is one message's line of "rules test --json".
type ruleTestResult struct {
	File          string   `json:"file"`
	Matched       bool     `json:"matched"`
	RuleID        string   `json:"ruleId,omitempty"`
	Description   string   `json:"description,omitempty"`
	Line          int      `json:"line,omitempty"`      // of the rule in the rules file
	MatchedOn     string   `json:"matchedOn,omitempty"` // description of the matching condition, as in Reason.Detail
	Queue         string   `json:"queue,omitempty"`
	Priority      string   `json:"priority,omitempty"`
	Tags          []string `json:"tags,omitempty"`
	SkipAutoReply bool     `json:"skipAutoReply"`
}

// ruleTestReport is the JSON document of "rules test --json".
type ruleTestReport struct {
	RulesFile      string           `json:"rulesFile"`
	RulesetVersion string           `json:"rulesetVersion"`
	Tenant         string           `json:"tenant"`
	Messages       []ruleTestResult `json:"messages"`
}

// rulesTest matches each message file against the rules and writes the
// results to out.
func rulesTest(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("rules test", flag.ContinueOnError)
	rulesFile := fs.String("rules", processors.DefaultRulesFile, "rules `file` (YAML) to test")
	tenant := fs.String("tenant", "default", "`tenant` whose rule list applies")
	asJSON := fs.Bool("json", false, "print one JSON document instead of text")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), rulesUsage)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return &usageError{err: errors.New("rules test needs at least one FILE.eml")}
	}

	rs, err := processors.LoadRules(*rulesFile)
	if err != nil {
		return explainMissingRules(err)
	}
	report := ruleTestReport{RulesFile: *rulesFile, RulesetVersion: rs.Version, Tenant: *tenant}
	for _, name := range fs.Args() {
		result, err := testRulesOn(ctx, rs, name, *tenant)
		if err != nil {
			return err
		}
		report.Messages = append(report.Messages, result)
	}

	if *asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(report)
	}
	for _, r := range report.Messages {
		fmt.Fprintln(out, r.text())
	}
	return nil
}

// testRulesOn parses one message file as the classify command does,
// redacts it as the processor chain does before classify, and matches it.
func testRulesOn(ctx context.Context, rs *processors.Ruleset, name, tenant string) (ruleTestResult, error) {
	raw, source, err := readMessageInput(name)
	if err != nil {
		return ruleTestResult{}, err
	}
	parsed, err := mime.Parse(raw, mime.Options{Tenant: tenant, Source: source})
	if err != nil {
		return ruleTestResult{}, fmt.Errorf("parsing %s: %w", name, err)
	}
	m := &processors.Message{Email: parsed.Email}
	if _, err := processors.NewRedact().Process(ctx, m); err != nil {
		return ruleTestResult{}, fmt.Errorf("redacting %s: %w", name, err)
	}

	result := ruleTestResult{File: name}
	rule, why := rs.Match(&m.Email)
	if rule == nil {
		return result, nil
	}
	result.Matched = true
	result.RuleID = rule.ID
	result.Description = strings.TrimSpace(rule.Description)
	result.Line = rule.Line
	result.MatchedOn = why
	result.Queue = rule.Action.Queue
	result.Priority = rule.Action.Priority
	result.Tags = rule.Action.Tags
	result.SkipAutoReply = rule.Action.SkipAutoReply
	return result, nil
}

// text formats r as one line of "rules test" output.
func (r ruleTestResult) text() string {
	if !r.Matched {
		return fmt.Sprintf("%s: no rule matched", r.File)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: rule %s (line %d) matched on %s: queue %s", r.File, r.RuleID, r.Line, r.MatchedOn, r.Queue)
	if r.Priority != "" {
		fmt.Fprintf(&b, ", priority %s", r.Priority)
	}
	if len(r.Tags) > 0 {
		fmt.Fprintf(&b, ", tags %s", strings.Join(r.Tags, ","))
	}
	if r.SkipAutoReply {
		b.WriteString(", no auto-reply")
	}
	if r.Description != "" {
		fmt.Fprintf(&b, "\n    %s", strings.Join(strings.Fields(r.Description), " "))
	}
	return b.String()
}
