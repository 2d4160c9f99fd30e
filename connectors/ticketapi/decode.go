package ticketapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"
)

// fields is a decoded JSON object body, one raw value per member.
type fields map[string]json.RawMessage

// decodeObject reads body as a JSON object whose members are all in
// allowed.
func decodeObject(body []byte, allowed []string) (fields, *Error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, invalid("body", nil, "missing JSON body: send an object with %s", strings.Join(allowed, ", "))
	}
	var f fields
	if err := json.Unmarshal(body, &f); err != nil || f == nil {
		return nil, invalid("body", nil, "invalid JSON body: send one object with %s", strings.Join(allowed, ", "))
	}
	names := make([]string, 0, len(f))
	for name := range f {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !slices.Contains(allowed, name) {
			return nil, invalid(name, allowed, "unknown field %q", name)
		}
	}
	return f, nil
}

// text returns the string member name, "" when it is absent or null. It
// rejects another JSON type, text longer than maxBytes and invalid UTF-8,
// and a missing or blank value when required is set.
func (f fields) text(name string, required bool, maxBytes int) (string, *Error) {
	raw, ok := f[name]
	var s string
	if ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", invalid(name, nil, "field %s must be a string", name)
		}
	}
	switch {
	case required && strings.TrimSpace(s) == "":
		return "", invalid(name, nil, "missing field %s: it is required and must not be blank", name)
	case len(s) > maxBytes:
		return "", invalid(name, nil, "field %s is %d bytes long: the maximum is %d", name, len(s), maxBytes)
	case !utf8.ValidString(s) || strings.ContainsRune(s, 0):
		return "", invalid(name, nil, "field %s contains a NUL character or invalid UTF-8: remove it", name)
	}
	return s, nil
}

// oneOf returns the string member name, which must be one of allowed, or
// "" when it is absent and not required.
func (f fields) oneOf(name string, required bool, allowed []string) (string, *Error) {
	s, apiErr := f.text(name, false, 64)
	if apiErr != nil {
		apiErr.Allowed = allowed
		return "", apiErr
	}
	if s == "" && !required {
		return "", nil
	}
	if !slices.Contains(allowed, s) {
		verb := fmt.Sprintf("invalid %s %q", name, s)
		if s == "" {
			verb = "missing field " + name
		}
		return "", invalid(name, allowed, "%s: %s must be one of %s", verb, name, strings.Join(allowed, ", "))
	}
	return s, nil
}
