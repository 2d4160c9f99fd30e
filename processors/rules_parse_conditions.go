package processors

import (
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// conditionKeys lists the keys a condition mapping may contain.
var conditionKeys = []string{
	"alias", "subaddress", "from", "from_address", "from_domain",
	"subject_keywords", "body_keywords", "keywords",
	"subject_regex", "body_regex",
	"header", "attachment_types",
	"spf", "dkim", "dmarc", "spam", "language",
	"all", "any", "not",
}

// parseCondition parses a condition mapping. Several keys in one mapping
// must all hold. It returns nil after recording an error.
func (p *rulesParser) parseCondition(n *yaml.Node, ruleID string) condition {
	n = resolve(n)
	if n.Kind != yaml.MappingNode || len(n.Content) == 0 {
		p.errorf(n.Line, ruleID, "a condition must be a mapping with at least one of: %s", strings.Join(conditionKeys, ", "))
		return nil
	}
	if _, ok := p.mapping(n, ruleID, "a condition", conditionKeys...); !ok {
		return nil
	}

	var parts allCondition
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, value := n.Content[i].Value, resolve(n.Content[i+1])
		c := p.parseConditionKey(key, value, ruleID)
		if c == nil {
			return nil
		}
		parts = append(parts, c)
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return parts
}

func (p *rulesParser) parseConditionKey(key string, value *yaml.Node, ruleID string) condition {
	switch key {
	case "alias":
		return p.setCondition(key, value, ruleID, func(in *matchInput) map[string]bool { return in.aliases })
	case "subaddress":
		return p.setCondition(key, value, ruleID, func(in *matchInput) map[string]bool { return in.subaddresses })
	case "from":
		return p.setCondition(key, value, ruleID, func(in *matchInput) map[string]bool { return in.senders })
	case "from_address":
		return p.senderAddressCondition(value, ruleID)
	case "from_domain":
		return p.senderDomainCondition(value, ruleID)
	case "subject_keywords":
		return p.keywordCondition(fieldSubject, key, value, ruleID)
	case "body_keywords":
		return p.keywordCondition(fieldBody, key, value, ruleID)
	case "keywords":
		return p.keywordCondition(fieldSubjectOrBody, key, value, ruleID)
	case "subject_regex":
		return p.regexCondition(fieldSubject, value, ruleID)
	case "body_regex":
		return p.regexCondition(fieldBody, value, ruleID)
	case "header":
		return p.headerCondition(value, ruleID)
	case "attachment_types":
		return p.attachmentTypeCondition(value, ruleID)
	case "spf", "dkim", "dmarc":
		return p.authCondition(authMethod(key), value, ruleID)
	case "spam":
		return p.spamCondition(value, ruleID)
	case "language":
		return p.languageCondition(value, ruleID)
	case "all", "any":
		return p.listCondition(key, value, ruleID)
	case "not":
		child := p.parseCondition(value, ruleID)
		if child == nil {
			return nil
		}
		return notCondition{child: child}
	}
	return nil // mapping has already rejected unknown keys
}

func (p *rulesParser) setCondition(key string, n *yaml.Node, ruleID string, set func(*matchInput) map[string]bool) condition {
	values := p.stringList(n, ruleID, key)
	if values == nil {
		return nil
	}
	for i, v := range values {
		values[i] = strings.ToLower(v)
		if strings.ContainsAny(v, "@+ ") {
			p.errorf(n.Line, ruleID, "%s %q must be a bare local part such as billing, without '@', '+' or spaces", key, v)
			return nil
		}
	}
	return &setCondition{key: key, values: values, set: set}
}

func (p *rulesParser) keywordCondition(field textField, key string, n *yaml.Node, ruleID string) condition {
	keywords := p.stringList(n, ruleID, key)
	if keywords == nil {
		return nil
	}
	return &keywordCondition{field: field, keywords: newKeywordMatcher(keywords)}
}

func (p *rulesParser) regexCondition(field textField, n *yaml.Node, ruleID string) condition {
	re := p.regex(n, ruleID)
	if re == nil {
		return nil
	}
	return &regexCondition{field: field, re: re}
}

func (p *rulesParser) headerCondition(n *yaml.Node, ruleID string) condition {
	fields, ok := p.mapping(n, ruleID, "header", "name", "present", "equals", "matches")
	if !ok {
		return nil
	}
	c := &headerCondition{}
	if v, ok := fields["name"]; !ok {
		p.errorf(n.Line, ruleID, "header condition has no name; add name: Header-Name")
		return nil
	} else if c.name, ok = p.scalar(v, ruleID, "name"); !ok || c.name == "" {
		if ok {
			p.errorf(v.Line, ruleID, "header name is empty; name the header field")
		}
		return nil
	}

	tests := 0
	if v, ok := fields["present"]; ok {
		present := p.boolean(v, ruleID, "present")
		c.present = &present
		tests++
	}
	if v, ok := fields["equals"]; ok {
		s, ok := p.scalar(v, ruleID, "equals")
		if !ok {
			return nil
		}
		s = strings.TrimSpace(s)
		c.equals = &s
		tests++
	}
	if v, ok := fields["matches"]; ok {
		if c.matches = p.regex(v, ruleID); c.matches == nil {
			return nil
		}
		tests++
	}
	if tests != 1 {
		p.errorf(n.Line, ruleID, "header condition on %s needs exactly one of present, equals or matches, found %d", c.name, tests)
		return nil
	}
	return c
}

func (p *rulesParser) listCondition(key string, n *yaml.Node, ruleID string) condition {
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		p.errorf(n.Line, ruleID, "%s must be a non-empty list of conditions", key)
		return nil
	}
	children := make([]condition, 0, len(n.Content))
	for _, item := range n.Content {
		c := p.parseCondition(item, ruleID)
		if c == nil {
			return nil
		}
		children = append(children, c)
	}
	if key == "all" {
		return allCondition(children)
	}
	return anyCondition(children)
}

// regex compiles a scalar as a Go regular expression.
func (p *rulesParser) regex(n *yaml.Node, ruleID string) *regexp.Regexp {
	pattern, ok := p.scalar(n, ruleID, "regex")
	if !ok {
		return nil
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		p.errorf(n.Line, ruleID, "invalid regex %q: %v; fix the pattern", pattern, err)
		return nil
	}
	return re
}
