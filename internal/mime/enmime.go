package mime

import (
	"bytes"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/gogs/chardet"

	"github.com/jhillyerd/enmime/v2"
	"github.com/jhillyerd/enmime/v2/mediatype"
)

// utf8Label is the charset that newPartParser gives enmime for every text
// part, so that enmime leaves Part.Content as it was transfer-decoded.
const utf8Label = "utf-8"

// newPartParser returns the enmime parser for one MIME tree whose root has
// the Content-Type value rootContentType. Charset conversion is switched off
// so that Part.Content holds the transfer-decoded bytes: attachments are
// hashed as sent, and body text is converted by decodeCharset, which falls
// back on detection only when the declared charset is missing or wrong.
//
// enmime v2.3.0 runs chardet over every text part, even when the result is
// ignored as here, unless the part declares a charset and character
// detection is disabled. The media type parser therefore reports the
// charset as UTF-8 for text parts, which enmime reads without conversion,
// and addDetectionWarnings adds the one warning that detection could
// produce. The root of a message that is not multipart keeps an empty
// charset when it is text/html, because enmime then looks for a charset in
// the HTML meta tags and warns when it cannot convert from it.
func newPartParser(rootContentType string) *enmime.Parser {
	rootType, _, _, _ := parseMediaTypeLeniently(rootContentType)
	htmlGetsCharset := strings.HasPrefix(rootType, "multipart/")

	parseMediaType := func(value string) (string, map[string]string, []string, error) {
		mtype, params, invalid, err := parseMediaTypeLeniently(value)
		if strings.HasPrefix(mtype, "text/") && (mtype != "text/html" || htmlGetsCharset) {
			params["charset"] = utf8Label
		}
		return mtype, params, invalid, err
	}

	return enmime.NewParser(
		enmime.SkipMalformedParts(true),
		enmime.SetReadPartErrorPolicy(keepPartialContent),
		enmime.MinCharsetDetectRunes(math.MaxInt32),
		enmime.DisableCharacterDetection(true),
		enmime.SetCustomParseMediaType(parseMediaType),
	)
}

// charsetDetection is the outcome of one chardet run.
type charsetDetection struct {
	result *chardet.Result
	err    error
}

// readPartTree parses a MIME tree with parser, then adds the warnings that
// enmime's skipped charset detection would have recorded. It returns the
// text detector's outcome for each text/plain part that it ran chardet
// over, so that decodeCharset need not run it again on the same bytes.
func readPartTree(parser *enmime.Parser, data []byte) (*enmime.Part, map[*enmime.Part]charsetDetection, error) {
	root, err := parser.ReadParts(bytes.NewReader(data))
	if err != nil {
		return nil, nil, err
	}
	return root, addDetectionWarnings(root), nil
}

// addDetectionWarnings records on each text part that enmime did not run
// chardet over the warning enmime records when chardet detects nothing. That
// can only happen for content that is not valid UTF-8, because chardet's
// UTF-8 recognizer gives valid UTF-8, including ASCII, a confidence above
// zero. The warning goes where enmime puts it: after the header and read
// warnings of the part and before its base64 warnings. It returns the
// outcomes of the text detector by part.
func addDetectionWarnings(root *enmime.Part) map[*enmime.Part]charsetDetection {
	var detections map[*enmime.Part]charsetDetection
	_ = root.DepthMatchAll(func(p *enmime.Part) bool {
		if p.Charset != utf8Label || !strings.HasPrefix(p.ContentType, "text/") || utf8.Valid(p.Content) {
			return false
		}
		if !knownTransferEncoding(p.Header.Get("Content-Transfer-Encoding")) {
			return false // enmime skips charset handling for these
		}

		var detection charsetDetection
		if p.ContentType == "text/html" {
			detection.result, detection.err = chardet.NewHtmlDetector().DetectBest(p.Content)
		} else {
			detection.result, detection.err = detectText(p.Content)
			if detections == nil {
				detections = map[*enmime.Part]charsetDetection{}
			}
			detections[p] = detection
		}
		if detection.err != nil {
			warning := &enmime.Error{
				Name:   enmime.ErrorCharsetDeclaration,
				Detail: fmt.Sprintf("charset could not be detected: %v", detection.err),
			}
			at := len(p.Errors)
			for i, e := range p.Errors {
				if e.Name == enmime.ErrorMalformedBase64 {
					at = i
					break
				}
			}
			p.Errors = slices.Insert(p.Errors, at, warning)
		}
		return false
	})
	return detections
}

// knownTransferEncoding reports whether enmime v2.3.0 decodes a part with
// this Content-Transfer-Encoding value and then converts its charset.
func knownTransferEncoding(value string) bool {
	switch strings.ToLower(value) {
	case "quoted-printable", "base64", "8bit", "7bit", "binary", "":
		return true
	}
	return false
}

// keepPartialContent keeps what was decoded before a transfer-decoding error
// instead of dropping the part. enmime records a warning for it.
func keepPartialContent(*enmime.Part, error) bool { return true }

// paramPattern matches one name=value parameter of a malformed header value.
var paramPattern = regexp.MustCompile(`([A-Za-z0-9_.*-]+)\s*=\s*("[^"]*"|[^;]*)`)

// parseMediaTypeLeniently parses a Content-Type or Content-Disposition
// value with enmime's repairs and never fails: when the value stays
// unreadable, the leading token and the parameters that look well formed
// are returned. The charset parameter is removed (see newPartParser).
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
