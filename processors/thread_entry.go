package processors

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"mailtriage/schemas"
)

// Keys of the thread index. Both are scoped by tenant, so one tenant's
// message IDs and references never match another's.
func threadMessageKey(tenant, messageID string) string {
	return "thread/msg/" + tenant + "/" + messageID
}

func threadTicketKey(tenant, ticketRef string) string {
	return "thread/ticket/" + tenant + "/" + ticketRef
}

// threadEntryVersion is the first byte of every encoded entry, so the
// layout can change without misreading entries restored from the topic.
const threadEntryVersion = 1

// participantHashBytes is the length of a participant digest: the first
// 16 bytes of the SHA-256, ample to tell a ticket's few addresses apart.
const participantHashBytes = 16

// maxParticipants bounds the participants kept per ticket, so a message
// sent to a long list cannot grow an entry without limit.
const maxParticipants = 64

// messageEntry is the ticket a message belongs to.
type messageEntry struct {
	WrittenAt time.Time
	TicketRef string
}

// encodeMessageEntry lays out an entry as: version byte, written time in
// Unix nanoseconds (8 bytes, big endian), then the ticket reference.
func encodeMessageEntry(e messageEntry) []byte {
	buf := make([]byte, 0, 9+len(e.TicketRef))
	buf = append(buf, threadEntryVersion)
	buf = binary.BigEndian.AppendUint64(buf, uint64(e.WrittenAt.UnixNano()))
	return append(buf, e.TicketRef...)
}

func decodeMessageEntry(b []byte) (messageEntry, error) {
	if len(b) < 9 {
		return messageEntry{}, fmt.Errorf("message entry has %d bytes, expected at least 9", len(b))
	}
	if b[0] != threadEntryVersion {
		return messageEntry{}, fmt.Errorf("message entry version %d is unknown, expected %d", b[0], threadEntryVersion)
	}
	return messageEntry{
		WrittenAt: time.Unix(0, int64(binary.BigEndian.Uint64(b[1:9]))),
		TicketRef: string(b[9:]),
	}, nil
}

// ticketEntry is the index entry of a ticket: the queue and priority it
// was opened with, and digests of its participants' addresses.
type ticketEntry struct {
	WrittenAt    time.Time
	Queue        string
	Priority     string
	Participants [][participantHashBytes]byte
}

// has reports whether digest is among the participants.
func (e *ticketEntry) has(digest [participantHashBytes]byte) bool {
	return slices.Contains(e.Participants, digest)
}

// add adds the digests not yet present, up to maxParticipants, and
// reports whether any was added.
func (e *ticketEntry) add(digests ...[participantHashBytes]byte) bool {
	added := false
	for _, d := range digests {
		if len(e.Participants) >= maxParticipants {
			break
		}
		if !e.has(d) {
			e.Participants = append(e.Participants, d)
			added = true
		}
	}
	return added
}

// encodeTicketEntry lays out an entry as: version byte, written time in
// Unix nanoseconds (8 bytes, big endian), the queue and the priority each
// as a uvarint length and bytes, then the participant digests of
// participantHashBytes bytes each.
func encodeTicketEntry(e ticketEntry) []byte {
	buf := make([]byte, 0, 9+2*binary.MaxVarintLen16+len(e.Queue)+len(e.Priority)+len(e.Participants)*participantHashBytes)
	buf = append(buf, threadEntryVersion)
	buf = binary.BigEndian.AppendUint64(buf, uint64(e.WrittenAt.UnixNano()))
	buf = binary.AppendUvarint(buf, uint64(len(e.Queue)))
	buf = append(buf, e.Queue...)
	buf = binary.AppendUvarint(buf, uint64(len(e.Priority)))
	buf = append(buf, e.Priority...)
	for _, p := range e.Participants {
		buf = append(buf, p[:]...)
	}
	return buf
}

func decodeTicketEntry(b []byte) (ticketEntry, error) {
	if len(b) < 9 {
		return ticketEntry{}, fmt.Errorf("ticket entry has %d bytes, expected at least 9", len(b))
	}
	if b[0] != threadEntryVersion {
		return ticketEntry{}, fmt.Errorf("ticket entry version %d is unknown, expected %d", b[0], threadEntryVersion)
	}
	e := ticketEntry{WrittenAt: time.Unix(0, int64(binary.BigEndian.Uint64(b[1:9])))}
	rest := b[9:]
	var err error
	if e.Queue, rest, err = readLengthPrefixed(rest); err != nil {
		return ticketEntry{}, fmt.Errorf("ticket entry queue: %w", err)
	}
	if e.Priority, rest, err = readLengthPrefixed(rest); err != nil {
		return ticketEntry{}, fmt.Errorf("ticket entry priority: %w", err)
	}
	if len(rest)%participantHashBytes != 0 {
		return ticketEntry{}, fmt.Errorf("ticket entry has %d bytes of participants, expected a multiple of %d", len(rest), participantHashBytes)
	}
	for ; len(rest) > 0; rest = rest[participantHashBytes:] {
		e.Participants = append(e.Participants, [participantHashBytes]byte(rest[:participantHashBytes]))
	}
	return e, nil
}

func readLengthPrefixed(b []byte) (string, []byte, error) {
	n, size := binary.Uvarint(b)
	if size <= 0 {
		return "", nil, errors.New("invalid length")
	}
	b = b[size:]
	if uint64(len(b)) < n {
		return "", nil, fmt.Errorf("length %d exceeds the %d bytes left", n, len(b))
	}
	return string(b[:n]), b[n:], nil
}

// participantDigest returns the digest under which the index keeps an
// address: the SHA-256 of the salt, a zero byte and the address in lower
// case, cut to participantHashBytes. The index never holds an address in
// clear text, and without the salt its digests cannot be checked against
// a list of guessed addresses.
func participantDigest(salt []byte, address string) ([participantHashBytes]byte, bool) {
	address = strings.ToLower(strings.Trim(strings.TrimSpace(address), "<>"))
	if address == "" {
		return [participantHashBytes]byte{}, false
	}
	h := sha256.New()
	h.Write(salt)
	h.Write([]byte{0})
	h.Write([]byte(address))
	return [participantHashBytes]byte(h.Sum(nil)), true
}

// participantDigests returns the digests of the sender, the Reply-To
// addresses and the To and Cc recipients of e, without repeats.
func participantDigests(salt []byte, e *schemas.InboundEmail) [][participantHashBytes]byte {
	var addrs []schemas.Address
	if e.From != nil {
		addrs = append(addrs, *e.From)
	}
	addrs = append(addrs, e.ReplyTo...)
	addrs = append(addrs, e.To...)
	addrs = append(addrs, e.Cc...)

	var out [][participantHashBytes]byte
	for _, a := range addrs {
		if d, ok := participantDigest(salt, a.Address); ok && !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out
}
