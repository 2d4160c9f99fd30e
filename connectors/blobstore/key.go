package blobstore

import (
	"fmt"
	"strings"
)

// ValidateKey checks that key is safe to use as a relative path under a
// storage root and as an S3 object name. A key is one or more segments
// separated by "/". Each segment is made of ASCII letters, digits, '.',
// '-', '_' and '=', is not empty and does not start with '.', which also
// rules out "." and "..".
func ValidateKey(key string) error {
	if key == "" {
		return fmt.Errorf("invalid object key %q: the key is empty; build one with MessageFolder or UnparsedFolder and RawKey or AttachmentKey", key)
	}
	for _, segment := range strings.Split(key, "/") {
		if err := validateSegment(segment); err != nil {
			return fmt.Errorf("invalid object key %q: %w", key, err)
		}
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
			return fmt.Errorf("path segment %q contains %q; keys may contain only ASCII letters, digits, '.', '-', '_', '=' and '/'", segment, r)
		}
	}
	return nil
}

func isKeyChar(r rune) bool {
	return isPlainKeyChar(r) || r == '='
}

// isPlainKeyChar reports whether r may appear in a key as it is. '=' is a
// key character too, but tenantSegment uses it to escape the others.
func isPlainKeyChar(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return true
	case r == '.', r == '-', r == '_':
		return true
	}
	return false
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
