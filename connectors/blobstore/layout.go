package blobstore

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Key layout. The objects of one message share a folder named by tenant,
// UTC date of receipt and message:
//
//	<tenant>/<yyyy>/<mm>/<dd>/<id>/raw.eml
//	<tenant>/<yyyy>/<mm>/<dd>/<id>/attachments/<index>-<digest>
//	<tenant>/<yyyy>/<mm>/<dd>/unparsed-<digest>/raw.eml
//
// <id> is the first 16 hex digits of the SHA-256 of the message ID, which
// is hashed because a message ID may contain any character. <index> is the
// position of the attachment in the record, from 0, and <digest> is the
// first 16 hex digits of the SHA-256 of the object's bytes. The date comes
// from the receivedAt of the record. A message that could not be parsed has
// no message ID, so its folder is named by the digest of its raw bytes.
//
// The tenant is kept as it is when it contains only ASCII letters, digits,
// '.', '-' and '_' and does not start with '.'. Every other byte, and '='
// itself, is written as '=' and two upper-case hex digits, so "café"
// becomes "caf=C3=A9" and two tenants never share a folder.
const (
	hashPrefixLength = 16
	rawName          = "raw.eml"
	attachmentFolder = "attachments"
	unparsedPrefix   = "unparsed-"
)

// MessageFolder returns the folder of the objects of a parsed message:
// <tenant>/<yyyy>/<mm>/<dd>/<first 16 hex digits of sha256(messageID)>.
func MessageFolder(tenant string, receivedAt time.Time, messageID string) (string, error) {
	if messageID == "" {
		return "", fmt.Errorf("message ID is empty; the storage folder of a message is named by its ID, so set MessageID before storing")
	}
	datePath, err := tenantDatePath(tenant, receivedAt)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(messageID))
	return datePath + "/" + hex.EncodeToString(sum[:])[:hashPrefixLength], nil
}

// UnparsedFolder returns the folder of the raw bytes of a message that
// could not be parsed: <tenant>/<yyyy>/<mm>/<dd>/unparsed-<first 16 hex
// digits of rawSHA256>. rawSHA256 is the digest that Sum returns.
func UnparsedFolder(tenant string, receivedAt time.Time, rawSHA256 string) (string, error) {
	if !isSHA256Hex(rawSHA256) {
		return "", fmt.Errorf("invalid raw digest %q: pass the 64 lower-case hex digits that Sum returns", rawSHA256)
	}
	datePath, err := tenantDatePath(tenant, receivedAt)
	if err != nil {
		return "", err
	}
	return datePath + "/" + unparsedPrefix + rawSHA256[:hashPrefixLength], nil
}

// RawKey returns the key of the raw MIME in folder: <folder>/raw.eml.
func RawKey(folder string) string {
	return folder + "/" + rawName
}

// RawCopyKey returns <folder>/raw-<first 16 hex digits of rawSHA256>.eml,
// the key of raw bytes that arrive with the message ID of a message already
// stored in folder with other bytes, such as a copy with different Received
// fields. rawSHA256 is the digest that Sum returns.
func RawCopyKey(folder, rawSHA256 string) string {
	return folder + "/raw-" + shortDigest(rawSHA256) + ".eml"
}

// AttachmentKey returns the key of attachment index of the message in
// folder: <folder>/attachments/<index>-<first 16 hex digits of sha256Hex>.
// sha256Hex is the digest that Sum returns for the attachment's bytes.
func AttachmentKey(folder string, index int, sha256Hex string) string {
	return folder + "/" + attachmentFolder + "/" + strconv.Itoa(index) + "-" + shortDigest(sha256Hex)
}

// tenantDatePath returns <tenant>/<yyyy>/<mm>/<dd> with the UTC date of t.
func tenantDatePath(tenant string, t time.Time) (string, error) {
	if tenant == "" {
		return "", fmt.Errorf("tenant is empty; object keys start with the tenant, so pass a name such as \"default\"")
	}
	if t.IsZero() {
		return "", fmt.Errorf("receivedAt is the zero time; object keys contain the date of receipt, so set it before storing")
	}
	return tenantSegment(tenant) + "/" + t.UTC().Format("2006/01/02"), nil
}

// tenantSegment escapes tenant into one key segment as the layout comment
// above describes.
func tenantSegment(tenant string) string {
	var b strings.Builder
	for i := 0; i < len(tenant); i++ {
		c := tenant[i]
		if c < 0x80 && isPlainKeyChar(rune(c)) && !(i == 0 && c == '.') {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "=%02X", c)
	}
	return b.String()
}

// shortDigest returns the first 16 characters of a hex digest, or all of a
// shorter one.
func shortDigest(sha256Hex string) string {
	if len(sha256Hex) > hashPrefixLength {
		return sha256Hex[:hashPrefixLength]
	}
	return sha256Hex
}
