package schemas

import (
	"errors"
	"reflect"
	"testing"
)

// ticketCommandBeforeTags is the body of a TicketCommand up to its tags
// array: seven empty strings.
var ticketCommandBeforeTags = []byte{0, 0, 0, 0, 0, 0, 0}

// Each case declares an array or map far larger than its record. Before
// checkBody, goavro allocated for the declared count up front, and the
// first case made the process exit with "fatal error: runtime: out of
// memory".
func TestDecodeRejectsOversizedBlockCount(t *testing.T) {
	emptyPII := mustMarshal(t, InboundEmail{Tenant: "acme", MessageID: "m@x"})
	if emptyPII[len(emptyPII)-1] != 0 {
		t.Fatalf("the encoded InboundEmail ends with %#x, expected 0, the empty pii map", emptyPII[len(emptyPII)-1])
	}

	cases := []struct {
		name   string
		record []byte
		into   any
	}{
		{"array count 2^31-1", frameFor(t, NameTicketCommand, append(ticketCommandBeforeTags, 0xfe, 0xff, 0xff, 0xff, 0x0f)), new(TicketCommand)},
		{"negative array count with a block size", frameFor(t, NameTicketCommand, append(ticketCommandBeforeTags, 0xfd, 0xff, 0xff, 0xff, 0x0f, 0x00)), new(TicketCommand)},
		{"array count of the minimum long", frameFor(t, NameTicketCommand, append(ticketCommandBeforeTags, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00)), new(TicketCommand)},
		{"array count one above the bytes left", frameFor(t, NameTicketCommand, append(ticketCommandBeforeTags, 0x06, 0x00, 0x00)), new(TicketCommand)},
		{"map count 2^31-1", append(emptyPII[:len(emptyPII)-1:len(emptyPII)-1], 0xfe, 0xff, 0xff, 0xff, 0x0f), new(InboundEmail)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := heapAllocBytes()
			err := Unmarshal(c.record, c.into)
			allocated := heapAllocBytes() - before

			if !errors.Is(err, ErrCorruptRecord) {
				t.Errorf("Unmarshal error = %v, want ErrCorruptRecord", err)
			}
			if limit := maxDecodeAllocBytes(len(c.record)); allocated > limit {
				t.Errorf("Unmarshal allocated %d bytes for a %d-byte record, more than %d", allocated, len(c.record), limit)
			}
		})
	}
}

func TestDecodeConfluentRejectsOversizedBlockCount(t *testing.T) {
	serde, ids := fuzzDecodeSerde()
	record := confluentFrame(ids[NameTicketCommand], append(ticketCommandBeforeTags, 0xfe, 0xff, 0xff, 0xff, 0x0f))
	if err := serde.Decode(record, new(TicketCommand)); !errors.Is(err, ErrCorruptRecord) {
		t.Errorf("Decode error = %v, want ErrCorruptRecord", err)
	}
}

func TestDecodeHistoryRejectsOversizedBlockCount(t *testing.T) {
	for fingerprint, old := range historyByFingerprint {
		if old.current.name != NameTicketCommand {
			continue
		}
		record := singleObjectFrame(fingerprint, append(ticketCommandBeforeTags, 0xfe, 0xff, 0xff, 0xff, 0x0f))
		if err := Unmarshal(record, new(TicketCommand)); !errors.Is(err, ErrCorruptRecord) {
			t.Errorf("%s: Unmarshal error = %v, want ErrCorruptRecord", old.file, err)
		}
	}
}

// A block with a negative count carries its size in bytes; goavro and
// checkBody both accept it, and two blocks make one array.
func TestDecodeNegativeCountBlocks(t *testing.T) {
	body := append(ticketCommandBeforeTags,
		0x03, 0x08, 0x02, 'a', 0x02, 'b', // count -2, size 4, "a", "b"
		0x02, 0x02, 'c', // count 1, "c"
		0x00) // end of tags
	valid := mustMarshal(t, TicketCommand{})
	rest := valid[singleObjectHeader+len(ticketCommandBeforeTags)+1:] // the fields after the empty tags
	record := frameFor(t, NameTicketCommand, append(body, rest...))

	var got TicketCommand
	if err := Unmarshal(record, &got); err != nil {
		t.Fatalf("Unmarshal: %v", err)
	}
	if want := []string{"a", "b", "c"}; !reflect.DeepEqual(got.Tags, want) {
		t.Errorf("Tags = %q, want %q", got.Tags, want)
	}
}

func TestCheckBodyRejectsMalformedValues(t *testing.T) {
	codec := contractsByName[NameTicketCommand].codec
	cases := []struct {
		name string
		body []byte
	}{
		{"string longer than the body", []byte{0x0a, 'a'}},
		{"negative string length", []byte{0x01}},
		{"empty body", nil},
		{"varint longer than 64 bits", []byte{0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := checkBody(codec, c.body); err == nil {
				t.Errorf("checkBody(%#x) = nil, want an error", c.body)
			}
		})
	}
}

func TestCheckBodyRejectsUnionIndex(t *testing.T) {
	valid := mustMarshal(t, InboundEmail{Tenant: "acme"})[singleObjectHeader:]
	// The fields before the envelope union are tenant ("acme": 5 bytes),
	// messageId, threadId and source (empty strings), receivedAt (one
	// varint) and the date union (null: index 0).
	envelope := 5 + 3
	_, rest, err := readVarint(valid[envelope:])
	if err != nil {
		t.Fatal(err)
	}
	envelope = len(valid) - len(rest) + 1
	if valid[envelope] != 0 {
		t.Fatalf("byte %d of the body is %#x, expected 0, the null branch of the envelope", envelope, valid[envelope])
	}

	corrupt := append([]byte{}, valid...)
	corrupt[envelope] = 0x04 // branch 2 of a two-branch union
	if err := checkBody(contractsByName[NameInboundEmail].codec, corrupt); err == nil {
		t.Error("checkBody accepted union branch 2 of [null, Envelope]")
	}
}

func TestCheckBodyAcceptsEveryFixture(t *testing.T) {
	for _, v := range []any{fullInboundEmail(), fullTicketCommand(), fullNotification(), fullDecisionEvent(), fullDeadLetter(), fullFeedbackEvent(), fullAutoReply()} {
		name, err := SchemaName(v)
		if err != nil {
			t.Fatal(err)
		}
		body := mustMarshal(t, v)[singleObjectHeader:]
		if err := checkBody(contractsByName[name].codec, body); err != nil {
			t.Errorf("checkBody(%s) = %v, want nil", name, err)
		}
	}
}

func TestBodyShapeOfEveryContract(t *testing.T) {
	for name, c := range contractsByName {
		shape, err := shapeOf(c.codec)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if shape.kind != kindRecord || shape.minBytes < len(shape.children) {
			t.Errorf("%s: kind %d with %d fields and a minimum of %d bytes, want a record of at least one byte per field", name, shape.kind, len(shape.children), shape.minBytes)
		}
	}
	for _, old := range historyByFingerprint {
		if _, err := shapeOf(old.codec); err != nil {
			t.Errorf("%s: %v", old.file, err)
		}
	}
}

// frameFor returns body behind the single-object header of the contract
// named name.
func frameFor(t *testing.T, name string, body []byte) []byte {
	t.Helper()
	c, ok := contractsByName[name]
	if !ok {
		t.Fatalf("no contract %s", name)
	}
	return singleObjectFrame(c.fingerprint, body)
}
