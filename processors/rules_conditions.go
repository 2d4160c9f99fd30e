package processors

import (
	"fmt"
)

// condition is one node of a rule's "when" tree. match reports whether it
// holds and, when it does, what matched, in words fit for Reason.Detail:
// names, keywords and patterns from the rule, never message text.
// String describes the condition itself.
type condition interface {
	match(in *matchInput) (bool, string)
	String() string
}

// setCondition holds when any of its values is in the message's set for
// its key (alias, subaddress or from).
type setCondition struct {
	key    string
	values []string
	set    func(in *matchInput) map[string]bool
}

func (c *setCondition) String() string { return fmt.Sprintf("%s in %q", c.key, c.values) }

func (c *setCondition) match(in *matchInput) (bool, string) {
	set := c.set(in)
	for _, v := range c.values {
		if set[v] {
			return true, fmt.Sprintf("%s %q", c.key, v)
		}
	}
	return false, ""
}
