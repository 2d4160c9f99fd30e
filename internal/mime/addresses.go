package mime

import (
	"net/mail"
	"regexp"
	"strings"

	"mailtriage/schemas"
)

var addressParser = &mail.AddressParser{WordDecoder: wordDecoder}

// parseAddressList reads an address list header value (From, To, Cc,
// Reply-To). Display names may hold commas, quotes or RFC 2047 encoded
// words. When net/mail rejects the list, each comma-separated item is read
// on its own and a warning is returned.
func parseAddressList(value string) ([]schemas.Address, string) {
	value = strings.TrimSpace(value)
	if value == "" {
		return nil, ""
	}
	if list, err := addressParser.ParseList(value); err == nil {
		return convertAddresses(list), ""
	}

	var out []schemas.Address
	for _, item := range splitAddressList(value) {
		if addr, ok := parseAddressLeniently(item); ok {
			out = append(out, addr)
		}
	}
	return out, "address list is not valid RFC 5322; read item by item"
}

// convertAddresses maps net/mail addresses to the contract type, decoding
// encoded words that net/mail leaves inside quoted display names.
func convertAddresses(list []*mail.Address) []schemas.Address {
	out := make([]schemas.Address, 0, len(list))
	for _, a := range list {
		out = append(out, schemas.Address{Name: decodeHeaderValue(a.Name), Address: decodeRawHeaderBytes(a.Address)})
	}
	return out
}

// splitAddressList splits an address list at commas that are outside
// quotes, angle brackets, parentheses and encoded words. Group syntax
// ("team: a@x, b@y;") is flattened into its members.
func splitAddressList(value string) []string {
	var items []string
	var current strings.Builder
	inQuote, inWord := false, false
	angle, paren := 0, 0
	for i := 0; i < len(value); i++ {
		c := value[i]
		switch {
		case inQuote && c == '\\' && i+1 < len(value):
			current.WriteByte(c)
			i++
			c = value[i]
		case c == '"' && !inWord:
			inQuote = !inQuote
		case strings.HasPrefix(value[i:], "=?") && !inQuote:
			inWord = true
		case strings.HasPrefix(value[i:], "?=") && inWord:
			inWord = false
		case inQuote || inWord:
		case c == '<':
			angle++
		case c == '>' && angle > 0:
			angle--
		case c == '(':
			paren++
		case c == ')' && paren > 0:
			paren--
		case (c == ',' || c == ';') && angle == 0 && paren == 0:
			items = append(items, current.String())
			current.Reset()
			continue
		case c == ':' && angle == 0 && paren == 0 && !strings.Contains(current.String(), "@"):
			current.Reset() // group name
			continue
		}
		current.WriteByte(c)
	}
	return append(items, current.String())
}

var (
	angleAddress = regexp.MustCompile(`<([^<>]*)>`)
	bareAddress  = regexp.MustCompile(`[^\s<>"(),;:]+@[^\s<>"(),;:]+`)
)

// parseAddressLeniently reads one list item that net/mail rejects: an
// address in angle brackets with whatever precedes it as the name, or a
// bare address with the rest of the item as the name.
func parseAddressLeniently(item string) (schemas.Address, bool) {
	item = strings.TrimSpace(item)
	if item == "" {
		return schemas.Address{}, false
	}
	if a, err := addressParser.Parse(item); err == nil {
		return schemas.Address{Name: decodeHeaderValue(a.Name), Address: decodeRawHeaderBytes(a.Address)}, true
	}

	if loc := angleAddress.FindStringSubmatchIndex(item); loc != nil {
		address := decodeRawHeaderBytes(strings.TrimSpace(item[loc[2]:loc[3]]))
		name := cleanDisplayName(item[:loc[0]] + item[loc[1]:])
		return schemas.Address{Name: name, Address: address}, address != "" || name != ""
	}
	if loc := bareAddress.FindStringIndex(item); loc != nil {
		name := cleanDisplayName(item[:loc[0]] + item[loc[1]:])
		return schemas.Address{Name: name, Address: decodeRawHeaderBytes(item[loc[0]:loc[1]])}, true
	}
	return schemas.Address{}, false
}

// cleanDisplayName trims quotes, comment parentheses and spaces from a
// display name recovered by parseAddressLeniently and decodes it.
func cleanDisplayName(name string) string {
	name = strings.TrimSpace(name)
	name = strings.Trim(name, `"()' `)
	name = strings.ReplaceAll(name, `\"`, `"`)
	return decodeHeaderValue(strings.Join(strings.Fields(name), " "))
}
