package mime

import (
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/jhillyerd/enmime/v2"
)

// extendedParam matches one RFC 2231 parameter section: name*N*=value,
// name*N=value or name*=value.
var extendedParam = regexp.MustCompile(`(?i)(?:^|;)\s*(filename|name)\*(\d*)(\*?)\s*=\s*("[^"]*"|[^;\s]*)`)

// partFilename returns the decoded filename of a part. enmime (through
// mime.ParseMediaType) drops RFC 2231 names in charsets other than UTF-8
// and US-ASCII, such as filename*=iso-2022-jp”..., so those are decoded
// here from the raw Content-Disposition and Content-Type values.
func partFilename(p *enmime.Part) string {
	if p.FileName != "" {
		return decodeHeaderValue(p.FileName)
	}
	for _, header := range []string{"Content-Disposition", "Content-Type"} {
		if name := decodeRFC2231Filename(p.Header.Get(header)); name != "" {
			return name
		}
	}
	return ""
}

// decodeRFC2231Filename joins and decodes the filename* (or name*)
// sections of one header value. It returns "" when there are none.
func decodeRFC2231Filename(value string) string {
	sections := map[string]map[int]string{}
	encoded := map[string]map[int]bool{}
	for _, m := range extendedParam.FindAllStringSubmatch(value, -1) {
		name := strings.ToLower(m[1])
		index, _ := strconv.Atoi(m[2])
		if sections[name] == nil {
			sections[name] = map[int]string{}
			encoded[name] = map[int]bool{}
		}
		sections[name][index] = strings.Trim(m[4], `"`)
		encoded[name][index] = m[3] == "*" || m[2] == ""
	}

	for _, name := range []string{"filename", "name"} {
		if len(sections[name]) > 0 {
			return joinRFC2231Sections(sections[name], encoded[name])
		}
	}
	return ""
}

// joinRFC2231Sections joins the sections in index order. The first
// encoded section carries charset'language'; encoded sections are
// percent-decoded before the whole is converted from that charset.
func joinRFC2231Sections(sections map[int]string, encoded map[int]bool) string {
	indexes := make([]int, 0, len(sections))
	for i := range sections {
		indexes = append(indexes, i)
	}
	sort.Ints(indexes)

	charset := ""
	var raw strings.Builder
	for n, i := range indexes {
		section := sections[i]
		if !encoded[i] {
			raw.WriteString(section)
			continue
		}
		if n == 0 {
			if parts := strings.SplitN(section, "'", 3); len(parts) == 3 {
				charset, section = parts[0], parts[2]
			}
		}
		if decoded, err := url.PathUnescape(section); err == nil {
			section = decoded
		}
		raw.WriteString(section)
	}
	text, _ := decodeCharset([]byte(raw.String()), charset)
	return text
}
