package logging

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"
)

// Placeholders that replace what the redacting handler removes.
const (
	Redacted    = "[REDACTED]"
	EmailMarker = "[EMAIL]"
)

var (
	// emailPattern matches local@domain.tld with Unicode letters, the same
	// shape that the redact processor replaces in message text.
	emailPattern = regexp.MustCompile(`[\p{L}\p{N}._%+\-]+@[\p{L}\p{N}\-]+(?:\.[\p{L}\p{N}\-]+)*\.\p{L}{2,}`)
	// urlPasswordPattern matches the user:password@ part of a URL.
	urlPasswordPattern = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.\-]*://[^/\s:@]*):[^/\s@]*@`)
	// secretPairPattern matches key=value pairs of connection strings and
	// query strings whose key names a secret.
	secretPairPattern = regexp.MustCompile(`(?i)\b(password|passwd|pwd|secret|token|api_key|apikey)(\s*=\s*)[^\s&;,'"]+`)
)

// Scrub returns s with each email address replaced by "[EMAIL]", the
// password of each URL and the value of each password=, secret= or token=
// pair replaced by "[REDACTED]". It returns s itself when nothing matched.
func Scrub(s string) string {
	if strings.IndexByte(s, '@') >= 0 {
		s = urlPasswordPattern.ReplaceAllString(s, "${1}:"+Redacted+"@")
		s = emailPattern.ReplaceAllString(s, EmailMarker)
	}
	if strings.IndexByte(s, '=') >= 0 {
		s = secretPairPattern.ReplaceAllString(s, "${1}${2}"+Redacted)
	}
	return s
}

// KeyHash returns the first 12 hex digits of the SHA-256 of a record key,
// the form in which every role logs keys, so that log lines of one message
// can be matched without showing its message ID.
func KeyHash(key []byte) string {
	sum := sha256.Sum256(key)
	return hex.EncodeToString(sum[:6])
}
