package mime

import (
	"math"
	"regexp"
	"strings"

	"github.com/jhillyerd/enmime/v2"
	"github.com/jhillyerd/enmime/v2/mediatype"
)

// partParser is the enmime configuration shared by every parse. Charset
// conversion is switched off so that Part.Content holds the
// transfer-decoded bytes: attachments are hashed as sent, and body text is
// converted by decodeCharset, which falls back on detection only when the
// declared charset is missing or wrong.
var partParser = enmime.NewParser(
	enmime.SkipMalformedParts(true),
	enmime.SetReadPartErrorPolicy(keepPartialContent),
	enmime.MinCharsetDetectRunes(math.MaxInt32),
	enmime.SetCustomParseMediaType(parseMediaTypeLeniently),
)

// keepPartialContent keeps what was decoded before a transfer-decoding error
// instead of dropping the part. enmime records a warning for it.
func keepPartialContent(*enmime.Part, error) bool { return true }

// paramPattern matches one name=value parameter of a malformed header value.
var paramPattern = regexp.MustCompile(`([A-Za-z0-9_.*-]+)\s*=\s*("[^"]*"|[^;]*)`)

// parseMediaTypeLeniently parses a Content-Type or Content-Disposition
// value with enmime's repairs and never fails: when the value stays
// unreadable, the leading token and the parameters that look well formed
// are returned. The charset parameter is removed (see partParser).
func parseMediaTypeLeniently(value string) (string, map[string]string, []string, error) {
	mtype, params, invalid, err := mediatype.ParseWithOptions(value,
		mediatype.ParseOptions{StripMediaTypeInvalidCharacters: true})
	if err != nil {
		mtype, params = splitMediaTypeLeniently(value)
		invalid = append(invalid, value)
	}
	if params == nil {
		params = map[string]string{}
	}
	delete(params, "charset")
	return strings.ToLower(mtype), params, invalid, nil
}

// splitMediaTypeLeniently reads a header value that mime.ParseMediaType
// rejects: the first token and the name=value pairs after it.
func splitMediaTypeLeniently(value string) (string, map[string]string) {
	head, rest, _ := strings.Cut(value, ";")
	mtype := strings.ToLower(strings.TrimSpace(head))
	if strings.Contains(mtype, "/") {
		mtype = mediaType(mtype)
	} else if strings.ContainsAny(mtype, " \t\"=") {
		mtype = ""
	}

	params := map[string]string{}
	for _, m := range paramPattern.FindAllStringSubmatch(rest, -1) {
		name := strings.ToLower(m[1])
		if _, seen := params[name]; !seen {
			params[name] = strings.Trim(strings.TrimSpace(m[2]), `"`)
		}
	}
	return mtype, params
}

// charsetParam returns the charset parameter of a Content-Type value, or "".
func charsetParam(contentType string) string {
	_, params, _, err := mediatype.Parse(contentType)
	if err == nil && params["charset"] != "" {
		return params["charset"]
	}
	_, params = splitMediaTypeLeniently(contentType)
	return params["charset"]
}
