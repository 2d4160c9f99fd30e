package blobstore

import (
	"fmt"
	"strings"
)

// ValidateKey checks that key is safe to use as a relative path under a
// storage root. A key is one or more segments separated by "/". Each
// segment is made of ASCII letters, digits, '.', '-' and '_', is not empty
// and does not start with '.', which also rules out "." and "..". A key
// under raw/ or attachments/ must also have the content-addressed form
// that RawKey or AttachmentKey builds, with 64 lower-case hex digits.
func ValidateKey(key string) error {
	if key == "" {
		return fmt.Errorf("invalid object key %q: the key is empty; use RawKey or AttachmentKey to build one", key)
	}
	for _, segment := range strings.Split(key, "/") {
		if err := validateSegment(segment); err != nil {
			return fmt.Errorf("invalid object key %q: %w", key, err)
		}
	}

	digest, ok := contentDigest(key)
	if ok && !isSHA256Hex(digest) {
		return fmt.Errorf("invalid object key %q: keys under raw/ and attachments/ must be raw/<sha256>.eml or attachments/<sha256> with a lower-case hex SHA-256 digest of 64 characters; build them with RawKey or AttachmentKey and Sum", key)
	}
	return nil
}

func validateSegment(segment string) error {
	if segment == "" {
		return fmt.Errorf("empty path segment (a leading, trailing or doubled '/'); remove it")
	}
	if segment[0] == '.' {
		return fmt.Errorf("path segment %q starts with '.', which could leave the storage folder or hide the file; remove the dot", segment)
	}
	for _, r := range segment {
		if !isKeyChar(r) {
			return fmt.Errorf("path segment %q contains %q; keys may contain only ASCII letters, digits, '.', '-', '_' and '/'", segment, r)
		}
	}
	return nil
}

func isKeyChar(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return true
	case r == '.', r == '-', r == '_':
		return true
	}
	return false
}

// contentDigest returns the digest part of a key under the raw/ or
// attachments/ prefix, and whether the key has such a prefix. A raw/ key
// without the .eml suffix returns "" so that it fails the digest check.
func contentDigest(key string) (string, bool) {
	if rest, ok := strings.CutPrefix(key, rawPrefix); ok {
		digest, hasSuffix := strings.CutSuffix(rest, rawSuffix)
		if !hasSuffix {
			return "", true
		}
		return digest, true
	}
	if rest, ok := strings.CutPrefix(key, attachmentPrefix); ok {
		return rest, true
	}
	return "", false
}

func isSHA256Hex(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
