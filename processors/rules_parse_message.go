package processors

import (
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

var (
	// domainRe accepts a DNS name in lower case, including IDNA A-labels.
	domainRe = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$`)
	// mediaTypePatternRe accepts "type/subtype", "type/*" and "*/*" with
	// the token characters of RFC 6838, in lower case.
	mediaTypePatternRe = regexp.MustCompile(`^([a-z0-9][a-z0-9!#$&^_.+-]*/([a-z0-9][a-z0-9!#$&^_.+-]*|\*)|\*/\*)$`)
)

func (p *rulesParser) senderAddressCondition(n *yaml.Node, ruleID string) condition {
	values := p.stringList(n, ruleID, "from_address")
	if values == nil {
		return nil
	}
	for i, v := range values {
		v = strings.ToLower(v)
		local, domain, ok := strings.Cut(v, "@")
		if !ok || local == "" || strings.Contains(domain, "@") || !domainRe.MatchString(domain) || strings.ContainsAny(v, " <>") {
			p.errorf(n.Line, ruleID, "from_address %q must be a whole address such as alerts@vendor.example; use from for a local part and from_domain for a domain", values[i])
			return nil
		}
		values[i] = v
	}
	return &senderAddressCondition{addresses: values}
}

func (p *rulesParser) senderDomainCondition(n *yaml.Node, ruleID string) condition {
	values := p.stringList(n, ruleID, "from_domain")
	if values == nil {
		return nil
	}
	for i, v := range values {
		v = strings.ToLower(v)
		if !domainRe.MatchString(v) {
			p.errorf(n.Line, ruleID, "from_domain %q must be a domain such as vendor.example, without '@', '*' or a leading dot; it matches subdomains too", values[i])
			return nil
		}
		values[i] = v
	}
	return &senderDomainCondition{domains: values}
}

func (p *rulesParser) attachmentTypeCondition(n *yaml.Node, ruleID string) condition {
	values := p.stringList(n, ruleID, "attachment_types")
	if values == nil {
		return nil
	}
	for i, v := range values {
		v = strings.ToLower(v)
		if !mediaTypePatternRe.MatchString(v) {
			p.errorf(n.Line, ruleID, "attachment_types %q must be a media type such as application/pdf, image/* or */*, without parameters", values[i])
			return nil
		}
		values[i] = v
	}
	return &attachmentTypeCondition{patterns: values}
}

func (p *rulesParser) authCondition(method authMethod, n *yaml.Node, ruleID string) condition {
	values := p.stringList(n, ruleID, string(method))
	if values == nil {
		return nil
	}
	valid := authVerdicts[method]
	for i, v := range values {
		v = strings.ToLower(v)
		if !slices.Contains(valid, v) {
			p.errorf(n.Line, ruleID, "%s verdict %q is invalid; use one of %s", method, values[i], strings.Join(valid, ", "))
			return nil
		}
		values[i] = v
	}
	return &authCondition{method: method, verdicts: values}
}

func (p *rulesParser) spamCondition(n *yaml.Node, ruleID string) condition {
	var spam bool
	if n.Kind != yaml.ScalarNode || n.Decode(&spam) != nil {
		p.errorf(n.Line, ruleID, "spam must be true (flagged as spam) or false (flagged as not spam), found %q", n.Value)
		return nil
	}
	return &spamCondition{spam: spam}
}

func (p *rulesParser) languageCondition(n *yaml.Node, ruleID string) condition {
	values := p.stringList(n, ruleID, "language")
	if values == nil {
		return nil
	}
	for i, v := range values {
		v = strings.ToLower(v)
		if !slices.Contains(supportedLanguages, v) {
			p.errorf(n.Line, ruleID, "language %q is not supported; use ISO 639-1 codes from %s", values[i], strings.Join(supportedLanguages, ", "))
			return nil
		}
		values[i] = v
	}
	return &languageCondition{languages: values}
}
