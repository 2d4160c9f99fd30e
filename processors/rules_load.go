package processors

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// LoadRules reads and parses the rules file at path. See ParseRules for the
// format.
func LoadRules(path string) (*Ruleset, error) {
	data, err := readRulesFile(path)
	if err != nil {
		return nil, err
	}
	return ParseRules(path, data)
}

// RulesFileNotFoundError is the error of LoadRules and NewRulesWatcher
// when the rules file does not exist. It matches fs.ErrNotExist. The
// message names only the path, so each command can add the flag or
// argument that names another file.
type RulesFileNotFoundError struct {
	Path string
}

func (e *RulesFileNotFoundError) Error() string {
	return "rules file " + e.Path + " does not exist"
}

func (e *RulesFileNotFoundError) Unwrap() error { return fs.ErrNotExist }

// readRulesFile reads a rules file.
func readRulesFile(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &RulesFileNotFoundError{Path: path}
	}
	if err != nil {
		return nil, fmt.Errorf("reading rules file %s: %w", path, err)
	}
	return data, nil
}

// ParseRules parses a rules file. name is used in error messages, which
// have the form "name:line: rule "id": problem; fix".
//
// The file is YAML:
//
//	version: "2025-06-01"        # required; reported as Reason.RulesetVersion
//	rules:                       # the default list, for tenants without their own
//	  - id: billing-alias        # required, unique in the file: [a-z0-9][a-z0-9._-]*
//	    description: Mail to billing@ goes to billing.
//	    when:                    # the condition; several keys must all hold
//	      alias: billing         # a string or a list of strings
//	    then:
//	      queue: billing         # required
//	      priority: high         # optional: low, normal, high or urgent
//	      tags: [billing]        # optional
//	      skip_auto_reply: false # optional
//	tenants:                     # optional
//	  acme:
//	    include_default: true    # append the default list after acme's rules
//	    rules: [...]             # acme's own list, same format
//
// Rules are tried in file order and the first that matches decides. A
// tenant listed under tenants uses its own list (followed by the default
// list when include_default is true); every other tenant uses the default
// list.
//
// Condition keys:
//
//	alias: [billing]               local part of a To, Cc or RCPT TO address, without +subaddress
//	subaddress: [billing]          the part after "+" in such an address (support+billing@)
//	from: [mailer-daemon]          local part of the From address or MAIL FROM, without +subaddress
//	from_address: [alerts@vendor.example]  the whole From or MAIL FROM address, with or without +subaddress
//	from_domain: [vendor.example]  domain of the From or MAIL FROM address, subdomains included
//	subject_keywords: [invoice]    whole words or phrases, case-insensitive
//	body_keywords: [refund]        same, in the reply text (the whole text when there is none)
//	keywords: [refund]             same, in the subject or the body
//	subject_regex: '(?i)^re:'      Go regexp syntax (RE2); add (?i) for case-insensitive
//	body_regex: '...'              same, in the body
//	header: {name: Auto-Submitted, present: true}
//	header: {name: Precedence, equals: bulk}          case-insensitive, spaces trimmed
//	header: {name: Content-Type, matches: '(?i)^multipart/report'}
//	attachment_types: [application/pdf, image/*]   an attachment (inline ones too) of that media type; */* for any
//	spf: [fail, softfail]          the SPF verdict; also dkim and dmarc; "unknown" when none was reported
//	spam: true                     the spam verdict is spam (false: it is ham; unknown matches neither)
//	language: [de, fr]             ISO 639-1 code of the subject and body text, detected only for such rules
//	all: [{...}, {...}]            every condition holds
//	any: [{...}, {...}]            at least one holds
//	not: {...}                     the condition does not hold
//
// Alias, subaddress, from, from_address, from_domain, attachment type and
// verdict values are compared in lower case. The verdicts are those the
// MIME parser reads from Authentication-Results, Received-SPF, X-Spam-Flag
// and X-Spam-Status. A language condition may name the codes
// of SupportedLanguages. Every
// problem in the file is reported, not only the first.
func ParseRules(name string, data []byte) (*Ruleset, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, yamlSyntaxError(name, data, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, fmt.Errorf("%s: file is empty; add a version and a rules list", name)
	}

	p := &rulesParser{file: name, ids: map[string]int{}}
	rs := p.parseRoot(resolve(doc.Content[0]))
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	rs.Source = name
	return rs, nil
}

// rulesParser walks the YAML node tree of a rules file and collects every
// problem it finds with its line.
type rulesParser struct {
	file string
	errs []error
	ids  map[string]int // rule ID -> line of its first definition
}

// errorf records a problem at line, in the rule ruleID when it is set.
// A rule without an ID is named by its position, as in "#2".
func (p *rulesParser) errorf(line int, ruleID, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	switch {
	case strings.HasPrefix(ruleID, "#"):
		msg = fmt.Sprintf("rule %s: %s", ruleID, msg)
	case ruleID != "":
		msg = fmt.Sprintf("rule %q: %s", ruleID, msg)
	}
	p.errs = append(p.errs, fmt.Errorf("%s:%d: %s", p.file, line, msg))
}

var (
	ruleIDRe    = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)
	queueNameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)
)

// Priorities lists the valid values of a priority, lowest first.
var Priorities = []string{"low", "normal", "high", "urgent"}

func (p *rulesParser) parseRoot(n *yaml.Node) *Ruleset {
	rs := &Ruleset{tenantRules: map[string][]*Rule{}}
	fields, ok := p.mapping(n, "", "the top level", "version", "rules", "tenants")
	if !ok {
		return rs
	}

	if v, ok := fields["version"]; !ok {
		p.errorf(n.Line, "", "missing version; add a version string such as version: \"1\"")
	} else if s, ok := p.scalar(v, "", "version"); ok {
		if s == "" {
			p.errorf(v.Line, "", "version is empty; set a version string")
		}
		rs.Version = s
	}

	if v, ok := fields["rules"]; ok {
		rs.defaultRules = p.parseRuleList(v)
	} else if _, ok := fields["tenants"]; !ok {
		p.errorf(n.Line, "", "missing rules; add a rules list")
	}

	var includeDefault []string
	if v, ok := fields["tenants"]; ok {
		includeDefault = p.parseTenants(v, rs)
	}
	for _, tenant := range includeDefault {
		rs.tenantRules[tenant] = append(rs.tenantRules[tenant], rs.defaultRules...)
	}
	return rs
}

// parseTenants fills rs.tenantRules and returns the tenants whose list ends
// with the default rules.
func (p *rulesParser) parseTenants(n *yaml.Node, rs *Ruleset) []string {
	if n.Kind != yaml.MappingNode {
		p.errorf(n.Line, "", "tenants must be a mapping from tenant name to its rules")
		return nil
	}
	var includeDefault []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		keyNode, value := n.Content[i], resolve(n.Content[i+1])
		tenant := keyNode.Value
		if strings.TrimSpace(tenant) == "" {
			p.errorf(keyNode.Line, "", "tenant name is empty; name the tenant")
			continue
		}
		if _, dup := rs.tenantRules[tenant]; dup {
			p.errorf(keyNode.Line, "", "tenant %q is listed twice; merge its rules into one entry", tenant)
			continue
		}

		fields, ok := p.mapping(value, "", fmt.Sprintf("tenant %q", tenant), "rules", "include_default")
		if !ok {
			continue
		}
		rules, ok := fields["rules"]
		if !ok {
			p.errorf(value.Line, "", "tenant %q has no rules; add a rules list or remove the tenant", tenant)
			continue
		}
		rs.tenantRules[tenant] = p.parseRuleList(rules)
		if v, ok := fields["include_default"]; ok && p.boolean(v, "", "include_default") {
			includeDefault = append(includeDefault, tenant)
		}
	}
	return includeDefault
}

func (p *rulesParser) parseRuleList(n *yaml.Node) []*Rule {
	if n.Kind != yaml.SequenceNode {
		p.errorf(n.Line, "", "rules must be a list of rules")
		return nil
	}
	rules := make([]*Rule, 0, len(n.Content))
	for i, item := range n.Content {
		if r := p.parseRule(resolve(item), i+1); r != nil {
			rules = append(rules, r)
		}
	}
	return rules
}

func (p *rulesParser) parseRule(n *yaml.Node, index int) *Rule {
	if n.Kind != yaml.MappingNode {
		p.errorf(n.Line, "", "rule #%d must be a mapping with id, when and then", index)
		return nil
	}

	r := &Rule{Line: n.Line}
	if idNode := lookup(n, "id"); idNode == nil {
		p.errorf(n.Line, "", "rule #%d has no id; add an id such as id: billing-alias", index)
	} else if id, ok := p.scalar(idNode, "", "id"); ok {
		r.ID = id
		switch first, dup := p.ids[id]; {
		case !ruleIDRe.MatchString(id):
			p.errorf(idNode.Line, id, "invalid id; use lower-case letters, digits, '.', '_' and '-'")
		case dup:
			p.errorf(idNode.Line, id, "duplicate id, first defined at line %d; give each rule a unique id", first)
		default:
			p.ids[id] = idNode.Line
		}
	}
	label := r.ID
	if label == "" {
		label = fmt.Sprintf("#%d", index)
	}

	fields, ok := p.mapping(n, label, "a rule", "id", "description", "when", "then")
	if !ok {
		return nil
	}
	if v, ok := fields["description"]; ok {
		r.Description, _ = p.scalar(v, label, "description")
	}

	if v, ok := fields["when"]; ok {
		r.when = p.parseCondition(v, label)
	} else {
		p.errorf(n.Line, label, "missing when; add the condition under which the rule applies")
	}
	if v, ok := fields["then"]; ok {
		r.Action = p.parseAction(v, label)
	} else {
		p.errorf(n.Line, label, "missing then; add the rule's actions, at least a queue")
	}
	return r
}

func (p *rulesParser) parseAction(n *yaml.Node, ruleID string) RuleAction {
	var a RuleAction
	fields, ok := p.mapping(n, ruleID, "then", "queue", "priority", "tags", "skip_auto_reply")
	if !ok {
		return a
	}

	if v, ok := fields["queue"]; !ok {
		p.errorf(n.Line, ruleID, "missing queue; every rule must name a queue")
	} else if q, ok := p.scalar(v, ruleID, "queue"); ok {
		if !queueNameRe.MatchString(q) {
			p.errorf(v.Line, ruleID, "invalid queue %q; use lower-case letters, digits, '.', '_' and '-'", q)
		}
		a.Queue = q
	}

	if v, ok := fields["priority"]; ok {
		if pr, ok := p.scalar(v, ruleID, "priority"); ok {
			if !validPriority(pr) {
				p.errorf(v.Line, ruleID, "invalid priority %q; use one of %s", pr, strings.Join(Priorities, ", "))
			}
			a.Priority = pr
		}
	}
	if v, ok := fields["tags"]; ok {
		a.Tags = p.stringList(v, ruleID, "tags")
	}
	if v, ok := fields["skip_auto_reply"]; ok {
		a.SkipAutoReply = p.boolean(v, ruleID, "skip_auto_reply")
	}
	return a
}

func validPriority(p string) bool { return slices.Contains(Priorities, p) }
