package processors

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseRulesRejectsInvalidFiles(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // substrings of the error, each required
	}{
		{
			name: "bad regex",
			yaml: `version: "1"
rules:
  - id: billing-alias
    when:
      subject_regex: "["
    then: {queue: billing}
`,
			want: []string{`rules.yaml:5: rule "billing-alias": invalid regex "[": `, "missing closing ]", "fix the pattern"},
		},
		{
			name: "bad regex in header",
			yaml: `version: "1"
rules:
  - id: bounces
    when:
      header: {name: Content-Type, matches: "(?P<x"}
    then: {queue: system}
`,
			want: []string{`rules.yaml:5: rule "bounces": invalid regex "(?P<x"`},
		},
		{
			name: "unknown condition key",
			yaml: `version: "1"
rules:
  - id: typo
    when:
      any:
        - alias: billing
        - subjct_keywords: [invoice]
    then: {queue: billing}
`,
			want: []string{`rules.yaml:7: rule "typo": unknown key "subjct_keywords" in a condition; use one of alias, subaddress`},
		},
		{
			name: "missing id",
			yaml: `version: "1"
rules:
  - id: first
    when: {alias: a}
    then: {queue: a}
  - description: no id here
    when: {alias: b}
    then: {queue: b}
`,
			want: []string{`rules.yaml:6: rule #2 has no id; add an id`},
		},
		{
			name: "duplicate id",
			yaml: `version: "1"
rules:
  - id: same
    when: {alias: a}
    then: {queue: a}
  - id: same
    when: {alias: b}
    then: {queue: b}
`,
			want: []string{`rules.yaml:6: rule "same": duplicate id, first defined at line 3`},
		},
		{
			name: "duplicate id across tenant",
			yaml: `version: "1"
rules:
  - id: same
    when: {alias: a}
    then: {queue: a}
tenants:
  acme:
    rules:
      - id: same
        when: {alias: b}
        then: {queue: b}
`,
			want: []string{`rules.yaml:9: rule "same": duplicate id, first defined at line 3`},
		},
		{
			name: "missing queue",
			yaml: `version: "1"
rules:
  - id: no-queue
    when: {alias: a}
    then: {priority: high}
`,
			want: []string{`rules.yaml:5: rule "no-queue": missing queue`},
		},
		{
			name: "invalid priority",
			yaml: `version: "1"
rules:
  - id: p
    when: {alias: a}
    then: {queue: a, priority: asap}
`,
			want: []string{`rules.yaml:5: rule "p": invalid priority "asap"; use one of low, normal, high, urgent`},
		},
		{
			name: "address as alias",
			yaml: `version: "1"
rules:
  - id: full-address
    when: {alias: billing@example.com}
    then: {queue: billing}
`,
			want: []string{`rule "full-address": alias "billing@example.com" must be a bare local part`},
		},
		{
			name: "header with two tests",
			yaml: `version: "1"
rules:
  - id: h
    when:
      header: {name: X-A, present: true, equals: "1"}
    then: {queue: a}
`,
			want: []string{`rules.yaml:5: rule "h": header condition on X-A needs exactly one of present, equals or matches, found 2`},
		},
		{
			name: "missing version",
			yaml: `rules:
  - id: a
    when: {alias: a}
    then: {queue: a}
`,
			want: []string{`rules.yaml:1: missing version`},
		},
		{
			name: "unknown top-level key",
			yaml: `version: "1"
rule:
  - id: a
`,
			want: []string{`rules.yaml:2: unknown key "rule" in the top level`},
		},
		{
			name: "empty any",
			yaml: `version: "1"
rules:
  - id: a
    when: {any: []}
    then: {queue: a}
`,
			want: []string{`rules.yaml:4: rule "a": any must be a non-empty list of conditions`},
		},
		{
			name: "several problems reported together",
			yaml: `version: "1"
rules:
  - id: one
    when: {subject_regex: "("}
    then: {queue: a}
  - id: two
    when: {colour: red}
    then: {queue: b}
`,
			want: []string{`rules.yaml:4: rule "one": invalid regex`, `rules.yaml:7: rule "two": unknown key "colour"`},
		},
		{
			name: "empty file",
			yaml: "",
			want: []string{"rules.yaml: file is empty"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := ParseRules("rules.yaml", []byte(tt.yaml))
			if err == nil {
				t.Fatalf("ParseRules accepted the file, want an error containing %q", tt.want)
			}
			if rs != nil {
				t.Errorf("ParseRules returned a ruleset along with error %v", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestParseRulesTenants(t *testing.T) {
	rs, err := ParseRules("rules.yaml", []byte(`version: "7"
rules:
  - id: d1
    when: {alias: a}
    then: {queue: a}
tenants:
  own:
    rules:
      - id: o1
        when: {alias: b}
        then: {queue: b}
  mixed:
    include_default: true
    rules:
      - id: m1
        when: {alias: c}
        then: {queue: c}
`))
	if err != nil {
		t.Fatal(err)
	}
	ids := func(tenant string) string {
		var out []string
		for _, r := range rs.RulesFor(tenant) {
			out = append(out, r.ID)
		}
		return strings.Join(out, ",")
	}
	for tenant, want := range map[string]string{"own": "o1", "mixed": "m1,d1", "other": "d1"} {
		if got := ids(tenant); got != want {
			t.Errorf("RulesFor(%q) = %s, want %s", tenant, got, want)
		}
	}
	if rs.Version != "7" {
		t.Errorf("Version = %q, want 7", rs.Version)
	}
}

func TestLoadRulesMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent.yaml")
	_, err := LoadRules(path)
	if want := "rules file " + path + " does not exist"; err == nil || err.Error() != want {
		t.Errorf("LoadRules(%q) err = %v, want %q", path, err, want)
	}
	var notFound *RulesFileNotFoundError
	if !errors.As(err, &notFound) || notFound.Path != path {
		t.Errorf("LoadRules err = %#v, want a *RulesFileNotFoundError with the path", err)
	}
	if !os.IsNotExist(unwrapAll(err)) {
		t.Errorf("LoadRules err = %v, want it to wrap a not-exist error", err)
	}
}

// The line of a YAML syntax error is the one an editor shows, counted
// from 1, for the scanner's problems and the parser's alike.
func TestParseRulesYAMLSyntaxErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{
			name: "tab indentation",
			yaml: "version: \"1\"\nrules:\n\t- id: a\n",
			want: "rules.yaml:3: invalid YAML: found character that cannot start any token",
		},
		{
			name: "problem on the first line",
			yaml: "\tversion: \"1\"\n",
			want: "rules.yaml:1: invalid YAML: found character that cannot start any token",
		},
		{
			name: "unclosed quote",
			yaml: "version: \"1\"\nrules:\n  - id: a\n    when: {alias: \"x}\n",
			want: "rules.yaml:4: invalid YAML: found unexpected end of stream",
		},
		{
			name: "colon in a plain value",
			yaml: "version: \"1\"\nrules:\n  - id: a\n    when: alias: x\n",
			want: "rules.yaml:4: invalid YAML: mapping values are not allowed in this context",
		},
		{
			name: "unclosed flow mapping",
			yaml: "version: \"1\"\nrules:\n  - id: a\n    when: {alias: x\n    then: {queue: y}\n",
			want: "rules.yaml:4: invalid YAML: did not find expected ',' or '}'; " +
				"the mistake is on this line or inside the { } mapping that starts on it; check that it is closed",
		},
		{
			name: "unclosed flow list",
			yaml: "version: \"1\"\nrules: [\n",
			want: "rules.yaml:3: invalid YAML: did not find expected node content",
		},
		{
			name: "key indented too little",
			yaml: "version: \"1\"\nrules:\n  - id: a\n    when: {alias: x}\n   then: {queue: y}\n",
			want: "rules.yaml:3: invalid YAML: did not find expected '-' indicator; " +
				"the mistake is on this line or inside the list that starts on it",
		},
		{
			name: "list item in a mapping",
			yaml: "version: \"1\"\n- id: a\n",
			want: "rules.yaml:2: invalid YAML: did not find expected key; " +
				"the mistake is on this line or inside the mapping that starts on it",
		},
		{
			name: "unknown anchor has no line",
			yaml: "version: \"1\"\nrules: *missing\n",
			want: "rules.yaml: invalid YAML: unknown anchor 'missing' referenced",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := ParseRules("rules.yaml", []byte(tt.yaml))
			if err == nil {
				t.Fatalf("ParseRules accepted the file, want %q", tt.want)
			}
			if rs != nil {
				t.Errorf("ParseRules returned a ruleset along with error %v", err)
			}
			if err.Error() != tt.want {
				t.Errorf("error\n%s\nwant\n%s", err, tt.want)
			}
		})
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok || u.Unwrap() == nil {
			return err
		}
		err = u.Unwrap()
	}
}
