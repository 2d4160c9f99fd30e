package processors

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

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
	body := sha256.New()
	body.Write([]byte(normalizeBody(text)))
	body.Write([]byte{0})
	body.Write([]byte(normalizeBody(html)))

	h := sha256.New()
	h.Write([]byte(messageID))
	h.Write([]byte{0})
	h.Write(body.Sum(nil))
	return hex.EncodeToString(h.Sum(nil))
}

// normalizeBody composes s to Unicode NFC, lowers its case and drops white
// space (including CR, LF and no-break space), zero-width characters and
// the byte order mark. White space is dropped rather than collapsed, so
// copies match even when their lines were wrapped differently or their HTML
// gained a space before a tag. The message ID in the fingerprint keeps
// unrelated messages apart.
func normalizeBody(s string) string {
	s = norm.NFC.String(s)
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if unicode.IsSpace(r) || r == '\u200b' || r == '\u200c' || r == '\u200d' || r == '\ufeff' {
			continue
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

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
