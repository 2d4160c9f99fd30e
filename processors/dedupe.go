package processors

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// DefaultDedupeTTL is how long a fingerprint counts as seen when
// DedupeConfig.TTL is zero: 7 days, longer than any sender's retry window
// for the same message.
const DefaultDedupeTTL = 7 * 24 * time.Hour

// DedupeConfig configures Dedupe.
type DedupeConfig struct {
	// TTL is the age after which a stored fingerprint expires and counts as
	// absent. Zero means DefaultDedupeTTL (7 days); negative is invalid.
	TTL time.Duration
	// Now returns the current time. Nil means time.Now; tests set it.
	Now func() time.Time
}

// Dedupe drops a message whose fingerprint was already seen at another
// input position. The fingerprint is the SHA-256 of the message ID and of a
// digest of the normalized text and HTML bodies, and it is stored per tenant
// in Message.State under "dedupe/<tenant>/<hex fingerprint>".
//
// A message seen again at the same topic, partition and offset is a replay
// (an offset reset or a retried transaction), not a duplicate, so it goes on
// and every sink upserts the same records again. A message without a
// position (empty Topic, as outside Kafka) is never a replay, so the second
// copy counts as a duplicate.
type Dedupe struct {
	ttl time.Duration
	now func() time.Time
}

// NewDedupe returns a Dedupe with cfg's defaults applied.
func NewDedupe(cfg DedupeConfig) (*Dedupe, error) {
	if cfg.TTL < 0 {
		return nil, fmt.Errorf("dedupe TTL %v is negative; use a positive duration or 0 for the default of %v", cfg.TTL, DefaultDedupeTTL)
	}
	d := &Dedupe{ttl: cfg.TTL, now: cfg.Now}
	if d.ttl == 0 {
		d.ttl = DefaultDedupeTTL
	}
	if d.now == nil {
		d.now = time.Now
	}
	return d, nil
}

// Name returns "dedupe".
func (d *Dedupe) Name() string { return "dedupe" }

// Process sets m.Fingerprint and, for a duplicate, m.Duplicate, returning
// Stop. A new, expired or replayed fingerprint is stored with the current
// time and m's position, and the message continues.
func (d *Dedupe) Process(ctx context.Context, m *Message) (Result, error) {
	if m.State == nil {
		return Continue, errors.New("message has no state store; give the chain a store for its input partition")
	}

	m.Fingerprint = Fingerprint(m.Email.MessageID, m.Email.Text, m.Email.HTML)
	key := dedupeKey(m.Email.Tenant, m.Fingerprint)
	now := d.now()

	if raw, ok := m.State.Get(key); ok {
		entry, err := decodeDedupeEntry(raw)
		if err != nil {
			return Continue, fmt.Errorf("reading dedupe entry %q: %w", key, err)
		}
		fresh := now.Sub(entry.FirstSeen) < d.ttl
		switch {
		case fresh && entry.Position == m.Position && m.Position.Topic != "":
			return Continue, nil // replay of the record that stored the entry
		case fresh:
			m.Duplicate = true
			m.Decision.Reason.Detail = fmt.Sprintf("duplicate of the record at %s partition %d offset %d, first seen %s",
				entry.Position.Topic, entry.Position.Partition, entry.Position.Offset,
				entry.FirstSeen.UTC().Format(time.RFC3339))
			return Stop, nil
		}
	}

	m.State.Put(key, encodeDedupeEntry(dedupeEntry{FirstSeen: now, Position: m.Position}))
	return Continue, nil
}

// Fingerprint returns the hex SHA-256 of messageID and of a digest of the
// normalized text and HTML bodies. Normalization (see normalizeBody) makes
// copies that differ only in transfer encoding, line endings, wrapping or
// letter case match.
func Fingerprint(messageID, text, html string) string {
	// The normalized bodies go to the hash in chunks of one buffer rather
	// than as whole strings, so a large body costs no copy of its size.
	buf := make([]byte, 0, normalizeChunk)
	body := sha256.New()
	buf = writeNormalizedBody(body, buf, text)
	body.Write([]byte{0})
	writeNormalizedBody(body, buf, html)

	h := sha256.New()
	io.WriteString(h, messageID)
	h.Write([]byte{0})
	var sum [sha256.Size]byte
	h.Write(body.Sum(sum[:0]))
	return hex.EncodeToString(h.Sum(sum[:0]))
}

// normalizeChunk is the size of the buffer that Fingerprint hashes the
// normalized bodies through.
const normalizeChunk = 4096

// normalizeBody composes s to Unicode NFC, lowers its case and drops white
// space (including CR, LF and no-break space), zero-width characters and
// the byte order mark. White space is dropped rather than collapsed, so
// copies match even when their lines were wrapped differently or their HTML
// gained a space before a tag. The message ID in the fingerprint keeps
// unrelated messages apart.
func normalizeBody(s string) string {
	var b bytes.Buffer
	writeNormalizedBody(&b, make([]byte, 0, normalizeChunk), s)
	return b.String()
}

// writeNormalizedBody writes normalizeBody(s) to w through buf, whose
// capacity must be at least utf8.UTFMax, and returns buf for reuse. The
// bytes written are the same as those of normalizeBody's definition: an
// invalid UTF-8 byte becomes U+FFFD, as ranging over a string gives it.
func writeNormalizedBody(w io.Writer, buf []byte, s string) []byte {
	s = norm.NFC.String(s)
	buf = buf[:0]
	for i := 0; i < len(s); {
		// Copy the run of bytes that normalization keeps as they are at
		// once, in pieces that fit buf.
		end := i
		for end < len(s) && normalizeKeeps[s[end]] {
			end++
		}
		for i < end {
			if len(buf) == cap(buf) {
				w.Write(buf)
				buf = buf[:0]
			}
			n := min(end-i, cap(buf)-len(buf))
			buf = append(buf, s[i:i+n]...)
			i += n
		}
		if i == len(s) {
			break
		}

		if cap(buf)-len(buf) < utf8.UTFMax {
			w.Write(buf)
			buf = buf[:0]
		}
		c := s[i]
		if c < utf8.RuneSelf {
			i++
			switch {
			case unicodeASCIISpace[c]:
			case 'A' <= c && c <= 'Z':
				buf = append(buf, c+'a'-'A')
			}
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if unicode.IsSpace(r) || r == '\u200b' || r == '\u200c' || r == '\u200d' || r == '\ufeff' {
			continue
		}
		buf = utf8.AppendRune(buf, unicode.ToLower(r))
	}
	w.Write(buf)
	return buf
}

// normalizeKeeps marks the bytes that normalizeBody keeps unchanged:
// ASCII other than white space and capital letters.
var normalizeKeeps = func() (keeps [256]bool) {
	for c := range utf8.RuneSelf {
		keeps[c] = !unicodeASCIISpace[c] && !('A' <= c && c <= 'Z')
	}
	return keeps
}()

// unicodeASCIISpace marks the ASCII bytes that unicode.IsSpace reports as space.
var unicodeASCIISpace = [utf8.RuneSelf]bool{'\t': true, '\n': true, '\v': true, '\f': true, '\r': true, ' ': true}

func dedupeKey(tenant, fingerprint string) string {
	return "dedupe/" + tenant + "/" + fingerprint
}

// dedupeEntry is the stored value of one fingerprint.
type dedupeEntry struct {
	FirstSeen time.Time
	Position  Position
}

// dedupeEntryVersion is the first byte of an encoded entry, so the layout
// can change without misreading entries restored from an older changelog.
const dedupeEntryVersion = 1

// encodeDedupeEntry lays out an entry as: version byte, first-seen time in
// Unix nanoseconds (8 bytes, big endian), partition (4 bytes), offset (8
// bytes), then the topic name.
func encodeDedupeEntry(e dedupeEntry) []byte {
	buf := make([]byte, 0, 21+len(e.Position.Topic))
	buf = append(buf, dedupeEntryVersion)
	buf = binary.BigEndian.AppendUint64(buf, uint64(e.FirstSeen.UnixNano()))
	buf = binary.BigEndian.AppendUint32(buf, uint32(e.Position.Partition))
	buf = binary.BigEndian.AppendUint64(buf, uint64(e.Position.Offset))
	return append(buf, e.Position.Topic...)
}

func decodeDedupeEntry(b []byte) (dedupeEntry, error) {
	if len(b) < 21 {
		return dedupeEntry{}, fmt.Errorf("entry has %d bytes, want at least 21", len(b))
	}
	if b[0] != dedupeEntryVersion {
		return dedupeEntry{}, fmt.Errorf("entry version %d is unknown, want %d", b[0], dedupeEntryVersion)
	}
	return dedupeEntry{
		FirstSeen: time.Unix(0, int64(binary.BigEndian.Uint64(b[1:9]))),
		Position: Position{
			Partition: int32(binary.BigEndian.Uint32(b[9:13])),
			Offset:    int64(binary.BigEndian.Uint64(b[13:21])),
			Topic:     string(b[21:]),
		},
	}, nil
}
