package processors

import "testing"

func TestParseRulesExactErrors(t *testing.T) {
	rule := func(when, then string) string {
		return "version: \"1\"\nrules:\n  - id: r1\n    when: " + when + "\n    then: " + then + "\n"
	}
	tests := []struct {
		name string
		yaml string
		want string
	}{
		{
			name: "unknown key",
			yaml: rule("{subjet_regex: x}", "{queue: a}"),
			want: `rules.yaml:4: rule "r1": unknown key "subjet_regex" in a condition; use one of alias, subaddress, from, from_address, from_domain, subject_keywords, body_keywords, keywords, subject_regex, body_regex, header, attachment_types, spf, dkim, dmarc, spam, language, all, any, not`,
		},
		{
			name: "bad regex",
			yaml: rule("{body_regex: 'a(b'}", "{queue: a}"),
			want: `rules.yaml:4: rule "r1": invalid regex "a(b": error parsing regexp: missing closing ): ` + "`a(b`" + `; fix the pattern`,
		},
		{
			name: "bad priority",
			yaml: rule("{alias: a}", "{queue: a, priority: p1}"),
			want: `rules.yaml:5: rule "r1": invalid priority "p1"; use one of low, normal, high, urgent`,
		},
		{
			name: "duplicate id",
			yaml: rule("{alias: a}", "{queue: a}") + "  - id: r1\n    when: {alias: b}\n    then: {queue: b}\n",
			want: `rules.yaml:6: rule "r1": duplicate id, first defined at line 3; give each rule a unique id`,
		},
		{
			name: "missing version",
			yaml: "rules:\n  - id: r1\n    when: {alias: a}\n    then: {queue: a}\n",
			want: `rules.yaml:1: missing version; add a version string such as version: "1"`,
		},
		{
			name: "from_domain with at sign",
			yaml: rule("{from_domain: '@vendor.example'}", "{queue: a}"),
			want: `rules.yaml:4: rule "r1": from_domain "@vendor.example" must be a domain such as vendor.example, without '@', '*' or a leading dot; it matches subdomains too`,
		},
		{
			name: "from_address without domain",
			yaml: rule("{from_address: alerts}", "{queue: a}"),
			want: `rules.yaml:4: rule "r1": from_address "alerts" must be a whole address such as alerts@vendor.example; use from for a local part and from_domain for a domain`,
		},
		{
			name: "attachment type without subtype",
			yaml: rule("{attachment_types: [pdf]}", "{queue: a}"),
			want: `rules.yaml:4: rule "r1": attachment_types "pdf" must be a media type such as application/pdf, image/* or */*, without parameters`,
		},
		{
			name: "spf verdict",
			yaml: rule("{spf: failed}", "{queue: a}"),
			want: `rules.yaml:4: rule "r1": spf verdict "failed" is invalid; use one of pass, fail, softfail, neutral, none, temperror, permerror, unknown`,
		},
		{
			name: "dmarc softfail",
			yaml: rule("{dmarc: softfail}", "{queue: a}"),
			want: `rules.yaml:4: rule "r1": dmarc verdict "softfail" is invalid; use one of pass, fail, none, temperror, permerror, unknown`,
		},
		{
			name: "spam not boolean",
			yaml: rule("{spam: maybe}", "{queue: a}"),
			want: `rules.yaml:4: rule "r1": spam must be true (flagged as spam) or false (flagged as not spam), found "maybe"`,
		},
		{
			name: "language name instead of code",
			yaml: rule("{language: german}", "{queue: a}"),
			want: `rules.yaml:4: rule "r1": language "german" is not supported; use ISO 639-1 codes from ar, cs, da, de, el, en, es, fa, fi, fr, he, hi, hu, it, ja, ko, nl, no, pl, pt, ru, sv, th, tr, uk, zh`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := ParseRules("rules.yaml", []byte(tt.yaml))
			if err == nil {
				t.Fatalf("ParseRules accepted the file, want error %q", tt.want)
			}
			if rs != nil {
				t.Errorf("ParseRules returned a ruleset along with error %v", err)
			}
			if err.Error() != tt.want {
				t.Errorf("error:\n got %s\nwant %s", err, tt.want)
			}
		})
	}
}
