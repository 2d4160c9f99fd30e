package processors

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// yamlErrorRe matches the text of a syntax error of go.yaml.in/yaml/v3.
// The text is the only place where the package gives the line: it has no
// error type with the position, and it never reports the column.
var yamlErrorRe = regexp.MustCompile(`^yaml: line ([0-9]+): (.*)$`)

// yamlParserProblems are the problems that yaml v3's parser reports, as
// opposed to its scanner. For these, v3.0.6 writes the line counted from
// 0, one less than an editor shows, and scanner problems get the line
// counted from 1. Some parser problems name the line where the enclosing
// mapping or list starts, and their value is a hint that states this.
var yamlParserProblems = map[string]string{
	"did not find expected key":              "the mistake is on this line or inside the mapping that starts on it",
	"did not find expected '-' indicator":    "the mistake is on this line or inside the list that starts on it",
	"did not find expected ',' or '}'":       "the mistake is on this line or inside the { } mapping that starts on it; check that it is closed",
	"did not find expected ',' or ']'":       "the mistake is on this line or inside the [ ] list that starts on it; check that it is closed",
	"did not find expected node content":     "",
	"did not find expected <document start>": "",
	"did not find expected <stream-start>":   "",
	"found duplicate %YAML directive":        "",
	"found duplicate %TAG directive":         "",
	"found incompatible YAML document":       "",
	"found undefined tag handle":             "",
}

// rulesYAMLError is a YAML syntax error of a rules file, in the form
// FILE:LINE: problem of the other problems of a rules file.
type rulesYAMLError struct {
	text string
	err  error // the error of yaml.Unmarshal
}

func (e *rulesYAMLError) Error() string { return e.text }

func (e *rulesYAMLError) Unwrap() error { return e.err }

// yamlSyntaxError returns err, the error of yaml.Unmarshal on data, as
// "FILE:LINE: invalid YAML: problem", or "FILE: invalid YAML: problem"
// when the parser gives no line, as it does for control characters and
// unknown anchors.
func yamlSyntaxError(file string, data []byte, err error) error {
	line, problem, found := yamlErrorLine(err)
	if !found {
		// yaml v3 leaves the line out of a problem on the first line.
		// After one empty line, the same problem comes with line 2.
		var doc yaml.Node
		shifted := yaml.Unmarshal(append([]byte("\n"), data...), &doc)
		if shifted != nil {
			if l, p, ok := yamlErrorLine(shifted); ok && p == problem {
				line, found = l-1, true
			}
		}
	}
	if !found {
		return &rulesYAMLError{text: fmt.Sprintf("%s: invalid YAML: %s", file, problem), err: err}
	}
	text := fmt.Sprintf("%s:%d: invalid YAML: %s", file, line, problem)
	if hint := yamlParserProblems[problem]; hint != "" {
		text += "; " + hint
	}
	return &rulesYAMLError{text: text, err: err}
}

// yamlErrorLine returns the line, counted from 1, and the problem of a
// yaml v3 syntax error, and whether the error had a line.
func yamlErrorLine(err error) (line int, problem string, found bool) {
	m := yamlErrorRe.FindStringSubmatch(err.Error())
	if m == nil {
		return 0, strings.TrimPrefix(err.Error(), "yaml: "), false
	}
	line, convErr := strconv.Atoi(m[1])
	if convErr != nil {
		return 0, m[2], false
	}
	if _, parser := yamlParserProblems[m[2]]; parser {
		line++
	}
	return line, m[2], true
}

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
