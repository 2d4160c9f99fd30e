package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Request headers of the signature scheme.
const (
	// HeaderTimestamp is the unix time in seconds at which the sender
	// signed the request.
	HeaderTimestamp = "X-Parse-Timestamp"
	// HeaderSignature is the lower- or upper-case hex HMAC-SHA256 of
	// timestamp + "." + body, keyed with one of the tenant's secrets.
	HeaderSignature = "X-Parse-Signature"
)

// Signature errors. A missing or malformed header is the sender's bug
// (400); the others mean the request is not authentic now (401).
var (
	ErrMissingHeader    = errors.New("missing signature header")
	ErrMalformedHeader  = errors.New("malformed signature header")
	ErrStaleTimestamp   = errors.New("stale timestamp")
	ErrInvalidSignature = errors.New("invalid signature")
)

// Sign returns the hex HMAC-SHA256 of timestamp + "." + body under
// secret: the value of HeaderSignature for a request signed at timestamp.
func Sign(secret []byte, timestamp int64, body []byte) string {
	return hex.EncodeToString(mac(secret, strconv.FormatInt(timestamp, 10), body))
}

func mac(secret []byte, timestamp string, body []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(timestamp))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// signedRequest is a request whose signature verified.
type signedRequest struct {
	timestamp time.Time
	signature []byte // the decoded HMAC
}

// verify checks the two signature headers against body. It returns an
// error wrapping one of the Err* values above, with a message that states
// what to fix. The timestamp is checked first, so that a stale request
// costs no HMAC over its body. Every secret is tried with hmac.Equal.
func verify(secrets [][]byte, timestampHeader, signatureHeader string, body []byte, now time.Time, tolerance time.Duration) (signedRequest, error) {
	timestampHeader = strings.TrimSpace(timestampHeader)
	signatureHeader = strings.TrimSpace(signatureHeader)
	if timestampHeader == "" {
		return signedRequest{}, fmt.Errorf("%w: %s is missing: send the unix time in seconds at which the request was signed", ErrMissingHeader, HeaderTimestamp)
	}
	if signatureHeader == "" {
		return signedRequest{}, fmt.Errorf("%w: %s is missing: send the hex HMAC-SHA256 of timestamp + \".\" + body", ErrMissingHeader, HeaderSignature)
	}
	seconds, err := strconv.ParseInt(timestampHeader, 10, 64)
	if err != nil || seconds < 0 {
		return signedRequest{}, fmt.Errorf("%w: %s %q is not a unix time in whole seconds", ErrMalformedHeader, HeaderTimestamp, truncate(timestampHeader, 32))
	}

	signedAt := time.Unix(seconds, 0)
	if age := now.Sub(signedAt); age > tolerance || age < -tolerance {
		return signedRequest{}, fmt.Errorf("%w: %s is %s the gateway clock, more than the tolerance of %s: sign each attempt with the current time and check the sender's clock",
			ErrStaleTimestamp, HeaderTimestamp, describeSkew(age), tolerance)
	}

	sent, err := hex.DecodeString(signatureHeader)
	if err != nil || len(sent) != sha256.Size {
		return signedRequest{}, fmt.Errorf("%w: %s is not %d hex digits: send the hex HMAC-SHA256 of timestamp + \".\" + body", ErrInvalidSignature, HeaderSignature, 2*sha256.Size)
	}
	for _, secret := range secrets {
		if hmac.Equal(sent, mac(secret, timestampHeader, body)) {
			return signedRequest{timestamp: signedAt, signature: sent}, nil
		}
	}
	return signedRequest{}, fmt.Errorf("%w: %s does not match the body under any secret of this tenant: sign timestamp + \".\" + body, byte for byte, with the tenant's current secret", ErrInvalidSignature, HeaderSignature)
}

// describeSkew describes how far a timestamp is from the clock, in whole
// seconds: "412s behind" or "90s ahead of".
func describeSkew(age time.Duration) string {
	if age >= 0 {
		return fmt.Sprintf("%ds behind", int64(age/time.Second))
	}
	return fmt.Sprintf("%ds ahead of", int64(-age/time.Second))
}

// truncate cuts s to n bytes for an error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
