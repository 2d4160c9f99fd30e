package processors

import (
	"fmt"
	"regexp"
	"strings"
)

// headerCondition tests the header fields named name (case-insensitive).
// Exactly one test is set. present holds when such a field exists, or with
// present false when none does. equals holds when a value equals it,
// ignoring case and surrounding space. matches holds when a value matches
// the pattern.
type headerCondition struct {
	name    string
	present *bool
	equals  *string
	matches *regexp.Regexp
}

func (c *headerCondition) String() string {
	switch {
	case c.equals != nil:
		return fmt.Sprintf("header %s equals %q", c.name, *c.equals)
	case c.matches != nil:
		return fmt.Sprintf("header %s matches /%s/", c.name, c.matches)
	case *c.present:
		return fmt.Sprintf("header %s present", c.name)
	default:
		return fmt.Sprintf("header %s absent", c.name)
	}
}

func (c *headerCondition) match(in *matchInput) (bool, string) {
	found := false
	for _, h := range in.headers {
		if !strings.EqualFold(h.Name, c.name) {
			continue
		}
		found = true
		value := strings.TrimSpace(h.Value)
		switch {
		case c.equals != nil && strings.EqualFold(value, *c.equals):
			return true, fmt.Sprintf("header %s equals %q", c.name, *c.equals)
		case c.matches != nil && c.matches.MatchString(value):
			return true, fmt.Sprintf("header %s matches /%s/", c.name, c.matches)
		}
	}
	if c.present != nil && found == *c.present {
		return true, c.String()
	}
	return false, ""
}
