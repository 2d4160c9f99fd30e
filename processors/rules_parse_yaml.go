package processors

import (
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// mapping checks that n is a mapping whose keys are all in allowed and
// appear once, and returns its values by key.
func (p *rulesParser) mapping(n *yaml.Node, ruleID, what string, allowed ...string) (map[string]*yaml.Node, bool) {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		p.errorf(n.Line, ruleID, "%s must be a mapping with keys %s", what, strings.Join(allowed, ", "))
		return nil, false
	}
	fields := make(map[string]*yaml.Node, len(n.Content)/2)
	ok := true
	for i := 0; i+1 < len(n.Content); i += 2 {
		key := n.Content[i]
		switch {
		case !slices.Contains(allowed, key.Value):
			p.errorf(key.Line, ruleID, "unknown key %q in %s; use one of %s", key.Value, what, strings.Join(allowed, ", "))
			ok = false
		case fields[key.Value] != nil:
			p.errorf(key.Line, ruleID, "key %q appears twice in %s; keep one", key.Value, what)
			ok = false
		default:
			fields[key.Value] = resolve(n.Content[i+1])
		}
	}
	return fields, ok
}

func (p *rulesParser) scalar(n *yaml.Node, ruleID, what string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		p.errorf(n.Line, ruleID, "%s must be a single value", what)
		return "", false
	}
	return n.Value, true
}

func (p *rulesParser) boolean(n *yaml.Node, ruleID, what string) bool {
	var b bool
	if n.Kind != yaml.ScalarNode || n.Decode(&b) != nil {
		p.errorf(n.Line, ruleID, "%s must be true or false, found %s", what, strconv.Quote(n.Value))
		return false
	}
	return b
}

// stringList accepts a single string or a list of strings, none empty. It
// returns nil after recording an error.
func (p *rulesParser) stringList(n *yaml.Node, ruleID, what string) []string {
	var items []*yaml.Node
	switch n.Kind {
	case yaml.ScalarNode:
		items = []*yaml.Node{n}
	case yaml.SequenceNode:
		items = n.Content
	}
	if len(items) == 0 {
		p.errorf(n.Line, ruleID, "%s must be a string or a non-empty list of strings", what)
		return nil
	}
	values := make([]string, 0, len(items))
	for _, item := range items {
		item = resolve(item)
		if item.Kind != yaml.ScalarNode || strings.TrimSpace(item.Value) == "" {
			p.errorf(item.Line, ruleID, "%s must hold only non-empty strings", what)
			return nil
		}
		values = append(values, strings.TrimSpace(item.Value))
	}
	return values
}

// lookup returns the value of key in mapping n, or nil.
func lookup(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return resolve(n.Content[i+1])
		}
	}
	return nil
}

// resolve follows a YAML alias (*name) to the node it points at.
func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}
