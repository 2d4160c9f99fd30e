package processors

import (
	"strings"
)

// allCondition holds when every child holds.
type allCondition []condition

func (c allCondition) String() string { return joinConditions("all", c) }

func (c allCondition) match(in *matchInput) (bool, string) {
	whys := make([]string, 0, len(c))
	for _, child := range c {
		ok, why := child.match(in)
		if !ok {
			return false, ""
		}
		whys = append(whys, why)
	}
	return true, strings.Join(whys, " and ")
}

// anyCondition holds when at least one child holds; the first one that
// does gives the description.
type anyCondition []condition

func (c anyCondition) String() string { return joinConditions("any", c) }

func (c anyCondition) match(in *matchInput) (bool, string) {
	for _, child := range c {
		if ok, why := child.match(in); ok {
			return true, why
		}
	}
	return false, ""
}

// notCondition holds when its child does not.
type notCondition struct{ child condition }

func (c notCondition) match(in *matchInput) (bool, string) {
	if ok, _ := c.child.match(in); ok {
		return false, ""
	}
	return true, c.String()
}

func (c notCondition) String() string { return "not (" + c.child.String() + ")" }

func joinConditions(op string, children []condition) string {
	parts := make([]string, len(children))
	for i, child := range children {
		parts[i] = child.String()
	}
	return op + " (" + strings.Join(parts, "; ") + ")"
}
