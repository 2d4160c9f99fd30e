package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	stdmime "mime"
	"net/mail"
	"regexp"
	"strings"
	"time"

	"mailtriage/schemas"
)

// itemError is the error of one element of a JSON array, so that the
// caller can name the field with its index.
type itemError struct {
	index int
	err   error
}

func (e *itemError) Error() string { return fmt.Sprintf("item %d: %v", e.index, e.err) }

func (e *itemError) Unwrap() error { return e.err }

// isAbsent reports whether a field is missing or null.
func isAbsent(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null"
}

// jsonKind names the JSON type of raw for error messages.
func jsonKind(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// decodeString decodes an optional string; null and absent give "".
func decodeString(raw json.RawMessage) (string, error) {
	if isAbsent(raw) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("expected a string, got %s", jsonKind(raw))
	}
	return s, nil
}

var addressParser = &mail.AddressParser{WordDecoder: &stdmime.WordDecoder{}}

// decodeAddresses reads an address field. A single address is a string
// or a {"name", "address"} object. When list is true, a string may contain
// several comma-separated addresses, and an array of either form is
// accepted. An error in an array element is an *itemError.
func decodeAddresses(raw json.RawMessage, list bool) ([]schemas.Address, error) {
	if isAbsent(raw) {
		return nil, nil
	}
	raw = bytes.TrimSpace(raw)
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		return parseAddressString(s, list)
	case '{':
		a, err := decodeAddressObject(raw)
		if err != nil {
			return nil, err
		}
		return []schemas.Address{a}, nil
	case '[':
		if !list {
			return nil, errors.New("expected one address as a string or a {\"name\", \"address\"} object, got an array")
		}
		return decodeAddressArray(raw)
	}
	if list {
		return nil, fmt.Errorf("expected addresses as a string, a {\"name\", \"address\"} object or an array of them, got %s", jsonKind(raw))
	}
	return nil, fmt.Errorf("expected an address as a string or a {\"name\", \"address\"} object, got %s", jsonKind(raw))
}

func decodeAddressArray(raw json.RawMessage) ([]schemas.Address, error) {
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, err
	}
	var out []schemas.Address
	for i, item := range items {
		item = bytes.TrimSpace(item)
		if len(item) == 0 || (item[0] != '"' && item[0] != '{') {
			return nil, &itemError{index: i, err: fmt.Errorf("expected an address as a string or a {\"name\", \"address\"} object, got %s", jsonKind(item))}
		}
		list, err := decodeAddresses(item, false)
		if err != nil {
			return nil, &itemError{index: i, err: err}
		}
		out = append(out, list...)
	}
	return out, nil
}

// parseAddressString reads "Name <a@b>", "a@b" or, when list is true, a
// comma-separated list of them. An empty string is no address.
func parseAddressString(s string, list bool) ([]schemas.Address, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	if list {
		parsed, err := addressParser.ParseList(s)
		if err != nil {
			return nil, fmt.Errorf("invalid address list %q: %v; use \"Name <user@example.com>\" items separated by commas", s, err)
		}
		out := make([]schemas.Address, 0, len(parsed))
		for _, a := range parsed {
			out = append(out, schemas.Address{Name: a.Name, Address: a.Address})
		}
		return out, nil
	}

	a, err := addressParser.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("invalid address %q: %v; use \"Name <user@example.com>\" or \"user@example.com\"", s, err)
	}
	return []schemas.Address{{Name: a.Name, Address: a.Address}}, nil
}

// decodeAddressObject reads {"name": …, "address": …}. The address must be
// a bare addr-spec such as user@example.com.
func decodeAddressObject(raw json.RawMessage) (schemas.Address, error) {
	var obj struct {
		Name    json.RawMessage `json:"name"`
		Address json.RawMessage `json:"address"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return schemas.Address{}, err
	}
	name, err := decodeString(obj.Name)
	if err != nil {
		return schemas.Address{}, fmt.Errorf("name: %v", err)
	}
	address, err := decodeString(obj.Address)
	if err != nil {
		return schemas.Address{}, fmt.Errorf("address: %v", err)
	}

	address = strings.TrimSpace(address)
	if address == "" {
		return schemas.Address{}, errors.New("the address object has no address: set \"address\" to user@example.com")
	}
	parsed, err := mail.ParseAddress("<" + address + ">")
	if err != nil {
		return schemas.Address{}, fmt.Errorf("invalid address %q: %v; use a bare address such as user@example.com", address, err)
	}
	return schemas.Address{Name: strings.TrimSpace(name), Address: parsed.Address}, nil
}

// decodeHeaders reads headers as an object of name to string (or array of
// strings, for a repeated field), in document order, or as an array of
// {"name", "value"} objects. An error in an array element is an *itemError.
func decodeHeaders(raw json.RawMessage) ([]schemas.Header, error) {
	if isAbsent(raw) {
		return nil, nil
	}
	raw = bytes.TrimSpace(raw)
	switch raw[0] {
	case '{':
		return decodeHeaderObject(raw)
	case '[':
		return decodeHeaderArray(raw)
	}
	return nil, fmt.Errorf("expected an object of name to value or an array of {\"name\", \"value\"} objects, got %s", jsonKind(raw))
}

// decodeHeaderObject walks the object token by token, because a Go map
// would lose the order of the fields.
func decodeHeaderObject(raw json.RawMessage) ([]schemas.Header, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil { // the opening brace
		return nil, err
	}

	var out []schemas.Header
	for dec.More() {
		token, err := dec.Token()
		if err != nil {
			return nil, err
		}
		name, _ := token.(string) // object keys are always strings
		if err := validateHeaderName(name); err != nil {
			return nil, err
		}

		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return nil, err
		}
		values, err := headerObjectValues(value)
		if err != nil {
			return nil, fmt.Errorf("header %q: %v", name, err)
		}
		for _, v := range values {
			out = append(out, schemas.Header{Name: name, Value: v})
		}
	}
	return out, nil
}

// headerObjectValues reads the value of one header object key: a string,
// or an array of strings for a field that appears more than once.
func headerObjectValues(raw json.RawMessage) ([]string, error) {
	if s, err := decodeString(raw); err == nil {
		return []string{s}, nil
	}
	var values []string
	if err := json.Unmarshal(raw, &values); err != nil {
		return nil, fmt.Errorf("expected a string or an array of strings, got %s", jsonKind(raw))
	}
	return values, nil
}

func decodeHeaderArray(raw json.RawMessage) ([]schemas.Header, error) {
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, err
	}
	out := make([]schemas.Header, 0, len(items))
	for i, item := range items {
		var h struct {
			Name  json.RawMessage `json:"name"`
			Value json.RawMessage `json:"value"`
		}
		if err := json.Unmarshal(item, &h); err != nil {
			return nil, &itemError{index: i, err: fmt.Errorf("expected a {\"name\", \"value\"} object, got %s", jsonKind(item))}
		}
		name, err := decodeString(h.Name)
		if err != nil {
			return nil, &itemError{index: i, err: fmt.Errorf("name: %v", err)}
		}
		value, err := decodeString(h.Value)
		if err != nil {
			return nil, &itemError{index: i, err: fmt.Errorf("value: %v", err)}
		}
		if err := validateHeaderName(name); err != nil {
			return nil, &itemError{index: i, err: err}
		}
		out = append(out, schemas.Header{Name: name, Value: value})
	}
	return out, nil
}

// validateHeaderName checks that a field name is printable US-ASCII
// without the colon, as RFC 5322 requires.
func validateHeaderName(name string) error {
	if name == "" {
		return errors.New("a header has an empty name")
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 33 || c > 126 || c == ':' {
			return fmt.Errorf("invalid header name %q: use printable ASCII without spaces or colons", name)
		}
	}
	return nil
}

// mediaType returns the media type of value in lower case without
// parameters. An empty value is left empty; an unreadable one is kept as
// application/octet-stream with a warning.
func (d *jsonDecoder) mediaType(field, value string) string {
	value = strings.TrimSpace(value)
	if value == "" {
		return ""
	}
	mediaType, _, err := stdmime.ParseMediaType(value)
	if err != nil || !strings.Contains(mediaType, "/") {
		d.warn("%s %q is not a media type; application/octet-stream used", field, value)
		return "application/octet-stream"
	}
	return mediaType
}

// size decodes a non-negative whole number of bytes; absent gives 0.
func (d *jsonDecoder) size(field string, raw json.RawMessage) int64 {
	if isAbsent(raw) {
		return 0
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil {
		d.fail(field, fmt.Errorf("expected a number of bytes, got %s", jsonKind(raw)))
		return 0
	}
	if f < 0 || f != math.Trunc(f) || f > math.MaxInt64/2 {
		d.fail(field, fmt.Errorf("invalid size %s: use a whole number of bytes, 0 or more", bytes.TrimSpace(raw)))
		return 0
	}
	return int64(f)
}

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// digest checks an optional hex SHA-256 and returns it in lower case.
func (d *jsonDecoder) digest(field, value string) string {
	value = strings.ToLower(strings.TrimSpace(value))
	if value != "" && !sha256Hex.MatchString(value) {
		d.fail(field, fmt.Errorf("invalid SHA-256 %q: use 64 hex digits, or leave the field out", value))
		return ""
	}
	return value
}

// spamVerdict maps spamVerdict to "spam", "ham" or "". It accepts those
// words, yes/no, true/false (as strings or booleans) and "not spam". An
// unknown word is dropped with a warning rather than rejecting the mail.
func (d *jsonDecoder) spamVerdict(raw json.RawMessage) string {
	if isAbsent(raw) {
		return ""
	}
	var flag bool
	if err := json.Unmarshal(raw, &flag); err == nil {
		if flag {
			return "spam"
		}
		return "ham"
	}
	word := strings.ToLower(strings.TrimSpace(d.str("spamVerdict", raw)))
	switch word {
	case "":
		return ""
	case "spam", "yes", "true":
		return "spam"
	case "ham", "no", "false", "not spam", "not_spam":
		return "ham"
	}
	d.warn("spamVerdict %q is not spam or ham; left empty", word)
	return ""
}

// knownVerdicts are the result words that Authentication-Results headers
// report for SPF, DKIM and DMARC.
var knownVerdicts = map[string]bool{
	"pass": true, "fail": true, "softfail": true, "neutral": true, "none": true,
	"temperror": true, "permerror": true, "policy": true,
}

// verdict returns an authentication result in lower case. A value that is
// not one result word is dropped with a warning.
func (d *jsonDecoder) verdict(field string, raw json.RawMessage) string {
	word := strings.ToLower(strings.TrimSpace(d.str(field, raw)))
	if word == "" || knownVerdicts[word] {
		return word
	}
	d.warn("%s %q is not a result word such as pass, fail or none; left empty", field, word)
	return ""
}

// decodeTime reads an RFC 3339 string or unix seconds; absent gives the
// zero time.
func decodeTime(raw json.RawMessage) (time.Time, error) {
	if isAbsent(raw) {
		return time.Time{}, nil
	}
	raw = bytes.TrimSpace(raw)
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return time.Time{}, err
		}
		t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(s))
		if err != nil {
			return time.Time{}, fmt.Errorf("invalid time %q: use RFC 3339 such as 2024-03-05T14:00:00Z, or unix seconds", s)
		}
		return t, nil
	}

	var seconds float64
	if err := json.Unmarshal(raw, &seconds); err != nil {
		return time.Time{}, fmt.Errorf("expected an RFC 3339 string or unix seconds, got %s", jsonKind(raw))
	}
	if seconds < 0 || seconds > 1e11 {
		return time.Time{}, fmt.Errorf("invalid time %s: unix seconds must be between 0 and 1e11", raw)
	}
	whole, frac := math.Modf(seconds)
	return time.Unix(int64(whole), int64(frac*1e9)), nil
}

// trimMessageID removes white space and one pair of angle brackets.
func trimMessageID(id string) string {
	id = strings.TrimSpace(id)
	id = strings.TrimPrefix(id, "<")
	id = strings.TrimSuffix(id, ">")
	return strings.TrimSpace(id)
}

var bracketedID = regexp.MustCompile(`<([^<>\s]+)>`)

// messageIDList reads the message IDs of In-Reply-To or References values:
// the bracketed IDs, or the space-separated words when none is bracketed.
func messageIDList(values []string) []string {
	var out []string
	for _, v := range values {
		matches := bracketedID.FindAllStringSubmatch(v, -1)
		if len(matches) == 0 {
			out = append(out, strings.Fields(v)...)
			continue
		}
		for _, m := range matches {
			out = append(out, m[1])
		}
	}
	return out
}

// headerValue returns the first value of the header name, matched without
// regard to case, or "".
func headerValue(headers []schemas.Header, name string) string {
	for _, h := range headers {
		if strings.EqualFold(h.Name, name) {
			return h.Value
		}
	}
	return ""
}

func headerValues(headers []schemas.Header, name string) []string {
	var out []string
	for _, h := range headers {
		if strings.EqualFold(h.Name, name) {
			out = append(out, h.Value)
		}
	}
	return out
}

func parseDate(value string) (time.Time, error) {
	return mail.ParseDate(strings.TrimSpace(value))
}
