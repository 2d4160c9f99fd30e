package schemas

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// Layout of an Avro single-object encoded record: a two-byte marker, the
// 8-byte little-endian CRC-64-AVRO fingerprint of the writer schema, then the
// Avro binary body.
const (
	singleObjectMarker0 = 0xC3
	singleObjectMarker1 = 0x01
	singleObjectHeader  = 10
)

// Marshal encodes v in Avro single-object encoding with the schema of its
// type. v is an InboundEmail, TicketCommand, Notification, DecisionEvent,
// DeadLetter, FeedbackEvent or AutoReply, or a non-nil pointer to one. Nil slices and maps are written
// as empty arrays and maps. Times are written in milliseconds, so anything
// finer is truncated. Marshal and Unmarshal are safe for concurrent use.
//
// NOTE: goavro writes map entries in Go's random map iteration order, so two
// Marshal calls on a value whose PII map has more than one entry can return
// different bytes that decode to the same value. Compare decoded values, not
// bytes.
func Marshal(v any) ([]byte, error) {
	name, native, err := nativeFromGo(v)
	if err != nil {
		return nil, err
	}

	c := contractsByName[name]
	out := make([]byte, singleObjectHeader, 512)
	out[0], out[1] = singleObjectMarker0, singleObjectMarker1
	binary.LittleEndian.PutUint64(out[2:singleObjectHeader], c.fingerprint)
	out, err = c.codec.BinaryFromNative(out, native)
	if err != nil {
		return nil, fmt.Errorf("schemas: encoding %s: %w", name, err)
	}
	return out, nil
}

// Unmarshal decodes a record that Marshal, or any Avro single-object
// encoder with the same schema, wrote into v, a non-nil pointer to one of
// the contract types.
//
// Decoding normalizes empty values: empty arrays, maps and bytes come back
// as nil, and a null date comes back as the zero time. Times come back in
// UTC. Every other value comes back as it was written. On error v is left
// unchanged.
//
// The error wraps ErrNotSingleObject when the header is not single-object
// encoding, ErrSchemaMismatch when the record was written with another
// schema, and ErrCorruptRecord when the body does not decode.
func Unmarshal(data []byte, v any) error {
	name, err := schemaNameOfPointer(v)
	if err != nil {
		return err
	}

	c := contractsByName[name]
	body, old, err := checkHeader(data, c)
	if err != nil {
		return err
	}

	var native any
	var rest []byte
	if old != nil {
		native, rest, err = old.upgrade(body)
	} else {
		native, rest, err = decodeNative(c.codec, body)
	}
	if err != nil {
		return fmt.Errorf("schemas: %w: decoding the %s body failed (%v), so the record is truncated or was written with another schema: send it to the dead-letter topic", ErrCorruptRecord, name, err)
	}
	if len(rest) > 0 {
		return fmt.Errorf("schemas: %w: found %d trailing bytes after the %s body, so the value was corrupted or contains more than one record: send it to the dead-letter topic", ErrCorruptRecord, len(rest), name)
	}

	return goFromNative(native, v)
}

// SchemaName returns the full Avro name of the schema for v, such as
// "mailtriage.InboundEmail". v is a value of, or a pointer to, a contract
// type.
func SchemaName(v any) (string, error) {
	switch v.(type) {
	case InboundEmail, *InboundEmail:
		return NameInboundEmail, nil
	case TicketCommand, *TicketCommand:
		return NameTicketCommand, nil
	case Notification, *Notification:
		return NameNotification, nil
	case DecisionEvent, *DecisionEvent:
		return NameDecisionEvent, nil
	case DeadLetter, *DeadLetter:
		return NameDeadLetter, nil
	case FeedbackEvent, *FeedbackEvent:
		return NameFeedbackEvent, nil
	case AutoReply, *AutoReply:
		return NameAutoReply, nil
	case OutboundMessage, *OutboundMessage:
		return NameOutboundMessage, nil
	case TicketEvent, *TicketEvent:
		return NameTicketEvent, nil
	}
	return "", unsupportedType(v, "a value of, or pointer to,")
}

// checkHeader verifies the single-object header of data against the
// contract c and returns the Avro body that follows it. When the record
// was written with an earlier version of c, it also returns that version.
func checkHeader(data []byte, c *contract) ([]byte, *historical, error) {
	if len(data) < singleObjectHeader || data[0] != singleObjectMarker0 || data[1] != singleObjectMarker1 {
		return nil, nil, notSingleObject(data, c.name)
	}

	fingerprint := binary.LittleEndian.Uint64(data[2:singleObjectHeader])
	if fingerprint == c.fingerprint || fingerprint == c.goavroFingerprint {
		return data[singleObjectHeader:], nil, nil
	}
	if old, ok := historyByFingerprint[fingerprint]; ok && old.current == c {
		return data[singleObjectHeader:], old, nil
	}

	if writer, ok := contractsByFingerprint[fingerprint]; ok {
		return nil, nil, fmt.Errorf("schemas: %w: record is a %s, not a %s: unmarshal it into a *schemas.%s, or check which topic it came from",
			ErrSchemaMismatch, writer.name, c.name, shortName(writer.name))
	}
	return nil, nil, fmt.Errorf("schemas: %w: schema fingerprint %#016x is not one that this build knows (%s has %#016x), so the writer may use a newer schema version: upgrade this reader, or check which topic the record came from",
		ErrSchemaMismatch, fingerprint, c.name, c.fingerprint)
}

// notSingleObject builds the error for data without a single-object header
// and names the format it looks like instead.
func notSingleObject(data []byte, name string) error {
	const fix = "produce the value with schemas.Marshal or another Avro single-object encoder"

	switch {
	case len(data) == 0:
		return fmt.Errorf("schemas: %w: the value is empty, expected a %s: %s", ErrNotSingleObject, name, fix)
	case data[0] == 0 && len(data) >= 5:
		id := binary.BigEndian.Uint32(data[1:5])
		return fmt.Errorf("schemas: %w: the value starts with magic byte 0 and schema ID %d, which is the Confluent wire format: decode it with the schema registry framing, or %s", ErrNotSingleObject, id, fix)
	case data[0] == '{':
		return fmt.Errorf("schemas: %w: the value starts with '{' and looks like JSON: %s", ErrNotSingleObject, fix)
	case len(data) < singleObjectHeader && data[0] == singleObjectMarker0:
		return fmt.Errorf("schemas: %w: the value is %d bytes, shorter than the %d-byte header, so the record was truncated", ErrNotSingleObject, len(data), singleObjectHeader)
	}

	prefix := data[:min(len(data), 2)]
	return fmt.Errorf("schemas: %w: the value starts with %#x, expected 0xc301: %s", ErrNotSingleObject, prefix, fix)
}

// shortName returns the Go type name for a full Avro name.
func shortName(name string) string {
	return strings.TrimPrefix(name, "mailtriage.")
}

// unsupportedType builds the error for a Go value that is not a contract.
func unsupportedType(v any, expected string) error {
	return fmt.Errorf("schemas: %w %T: pass %s InboundEmail, TicketCommand, Notification, DecisionEvent, DeadLetter, FeedbackEvent or AutoReply", ErrUnsupportedType, v, expected)
}
