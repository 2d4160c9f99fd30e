package schemas

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/sr"

	"mailtriage/topics"
)

// Layout of a record in the Confluent wire format: magic byte 0, the
// 4-byte big-endian schema ID that the registry assigned, then the Avro
// binary body.
const (
	confluentMagic  = 0x00
	confluentHeader = 5
)

// lookupTimeout bounds one schema lookup by ID in the registry when the
// caller of Decode gives no context.
const lookupTimeout = 10 * time.Second

// Errors of the Serde, next to those of Marshal and Unmarshal. Test for
// them with errors.Is.
var (
	// ErrNotRegistered means Encode was given a topic and contract that the
	// Confluent Serde has no schema ID for. Call Register first.
	ErrNotRegistered = errors.New("schema not registered for the topic")

	// ErrUnknownSchemaID means a Confluent-framed record carries a schema
	// ID that is not one of the contracts of this build, or that cannot be
	// resolved because no registry is configured. The record belongs in the
	// dead-letter topic.
	ErrUnknownSchemaID = errors.New("unknown schema ID")

	// ErrRegistry means a request to the schema registry failed. Unlike the
	// other errors of this package it may go away on retry.
	ErrRegistry = errors.New("schema registry request failed")
)

// Binding pairs a topic with the full Avro name of the contract its values
// use.
type Binding struct {
	Topic  string
	Schema string
}

// DefaultBindings returns the contract of each topic of the topology that
// carries Avro values. NewConfluent registers all of them.
func DefaultBindings() []Binding {
	return []Binding{
		{topics.Inbound, NameInboundEmail},
		{topics.Tickets, NameTicketCommand},
		{topics.Notifications, NameNotification},
		{topics.Analytics, NameDecisionEvent},
		{topics.DLQ, NameDeadLetter},
		{topics.Feedback, NameFeedbackEvent},
		{topics.AutoReplies, NameAutoReply},
		{topics.Outbound, NameOutboundMessage},
		{topics.TicketEvents, NameTicketEvent},
	}
}

// TopicNameStrategy returns the subject "<topic>-value", the default
// subject name strategy of Confluent serializers for record values.
func TopicNameStrategy(topic, _ string) string {
	return topic + "-value"
}

// Serde encodes contract values for a topic and decodes them again. It
// writes Avro single-object encoding (NewSingleObject) or the Confluent
// wire format (NewConfluent), and decodes both, chosen by the first byte,
// so that a topic can move from one framing to the other while it still
// holds records of both. A Serde is safe for concurrent use.
type Serde struct {
	registry   *sr.Client // nil writes single-object encoding
	subjectFor func(topic, schemaName string) string

	mu         sync.RWMutex // guards ids, byID and unknownIDs
	ids        map[Binding]uint32
	byID       map[uint32]*contract // a nil value marks an ID that is not a contract of this build
	unknownIDs int                  // nil values in byID
}

// NewSingleObject returns a Serde that writes Avro single-object encoding,
// the format of Marshal. It decodes Confluent-framed records only with
// schema IDs that it learned through Register, which it never does
// without a registry, so such records fail with ErrUnknownSchemaID.
func NewSingleObject() *Serde {
	return &Serde{ids: map[Binding]uint32{}, byID: map[uint32]*contract{}}
}

// NewConfluent returns a Serde that writes the Confluent wire format with
// the schema IDs of client's registry. It registers the contract of every
// topic in DefaultBindings under the subject that subjectFor returns
// (nil means TopicNameStrategy, "<topic>-value"). Registering a schema
// that the subject already has returns its existing ID, so every instance
// can do this on start. The registry rejects a schema that breaks the
// subject's compatibility setting, and so does NewConfluent.
func NewConfluent(ctx context.Context, client *sr.Client, subjectFor func(topic, schemaName string) string) (*Serde, error) {
	if client == nil {
		return nil, errors.New("schemas: NewConfluent needs a schema registry client: create one with NewRegistryClient, or use NewSingleObject")
	}
	if subjectFor == nil {
		subjectFor = TopicNameStrategy
	}
	s := &Serde{
		registry:   client,
		subjectFor: subjectFor,
		ids:        map[Binding]uint32{},
		byID:       map[uint32]*contract{},
	}

	for _, b := range DefaultBindings() {
		if _, err := s.Register(ctx, b.Topic, b.Schema); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Confluent reports whether s writes the Confluent wire format.
func (s *Serde) Confluent() bool {
	return s.registry != nil
}

// Register registers the contract schemaName under the subject of topic
// and returns the schema ID, so that Encode can write it to topic. It is
// needed only for a topic outside DefaultBindings. On a single-object
// Serde it does nothing and returns 0.
func (s *Serde) Register(ctx context.Context, topic, schemaName string) (int, error) {
	c, err := lookupContract(schemaName)
	if err != nil {
		return 0, err
	}
	if s.registry == nil {
		return 0, nil
	}

	subject := s.subjectFor(topic, schemaName)
	id, err := s.registry.RegisterSchema(ctx, subject, sr.Schema{Schema: c.text, Type: sr.TypeAvro}, -1, -1)
	if err != nil {
		return 0, fmt.Errorf("schemas: %w: registering %s under subject %q: %w: check the registry URL, and that the schema is compatible with the subject's earlier versions",
			ErrRegistry, schemaName, subject, err)
	}
	if id <= 0 || uint64(id) > 1<<32-1 {
		return 0, fmt.Errorf("schemas: %w: the registry returned schema ID %d for subject %q, which does not fit the 4-byte wire format", ErrRegistry, id, subject)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.ids[Binding{Topic: topic, Schema: schemaName}] = uint32(id)
	if known, seen := s.byID[uint32(id)]; seen && known == nil {
		s.unknownIDs--
	}
	s.byID[uint32(id)] = c
	return id, nil
}

// Encode encodes v, a contract value or a non-nil pointer to one, for
// topic. A single-object Serde returns what Marshal returns. A Confluent
// Serde writes magic byte 0, the big-endian 4-byte schema ID registered
// for topic and the Avro binary body, and fails with ErrNotRegistered
// for a topic and contract that Register did not see.
func (s *Serde) Encode(topic string, v any) ([]byte, error) {
	if s.registry == nil {
		return Marshal(v)
	}

	name, native, err := nativeFromGo(v)
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	id, ok := s.ids[Binding{Topic: topic, Schema: name}]
	s.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("schemas: %w: no schema ID for %s on topic %s: call Serde.Register for the pair, or check the output's topic", ErrNotRegistered, name, topic)
	}

	header := make([]byte, confluentHeader, confluentHeader+512)
	header[0] = confluentMagic
	binary.BigEndian.PutUint32(header[1:], id)
	out, err := contractsByName[name].codec.BinaryFromNative(header, native)
	if err != nil {
		return nil, fmt.Errorf("schemas: encoding %s: %w", name, err)
	}
	return out, nil
}

// Decode decodes data into v, a non-nil pointer to a contract type, as
// DecodeContext does, with a lookup in the registry bounded by a
// 10-second timeout.
func (s *Serde) Decode(data []byte, v any) error {
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	defer cancel()
	return s.DecodeContext(ctx, data, v)
}

// DecodeContext decodes a record in either framing into v, a non-nil
// pointer to a contract type. Single-object records decode as with
// Unmarshal. A Confluent-framed record with a schema ID that s has not
// seen is looked up in the registry once, and decodes only when the
// registered schema has the same canonical form as one of this build's
// contracts. The error wraps ErrUnknownSchemaID when it does not, or when
// s has no registry, and ErrRegistry when the lookup failed.
func (s *Serde) DecodeContext(ctx context.Context, data []byte, v any) error {
	if len(data) == 0 || data[0] != confluentMagic {
		return Unmarshal(data, v)
	}

	name, err := schemaNameOfPointer(v)
	if err != nil {
		return err
	}
	if len(data) < confluentHeader {
		return fmt.Errorf("schemas: %w: the value is %d bytes, shorter than the %d-byte Confluent header, so the record was truncated: send it to the dead-letter topic",
			ErrCorruptRecord, len(data), confluentHeader)
	}

	id := binary.BigEndian.Uint32(data[1:confluentHeader])
	writer, err := s.contractForID(ctx, id)
	if err != nil {
		return err
	}
	if writer.name != name {
		return fmt.Errorf("schemas: %w: schema ID %d is a %s, not a %s: decode it into a *schemas.%s, or check which topic it came from",
			ErrSchemaMismatch, id, writer.name, name, shortName(writer.name))
	}
	return decodeBody(writer, data[confluentHeader:], v)
}

// decodeBody decodes the Avro binary body of contract c into v.
func decodeBody(c *contract, body []byte, v any) error {
	native, rest, err := decodeNative(c.codec, body)
	if err != nil {
		return fmt.Errorf("schemas: %w: decoding the %s body failed (%v), so the record is truncated or was written with another schema: send it to the dead-letter topic", ErrCorruptRecord, c.name, err)
	}
	if len(rest) > 0 {
		return fmt.Errorf("schemas: %w: found %d trailing bytes after the %s body, so the value was corrupted or contains more than one record: send it to the dead-letter topic", ErrCorruptRecord, len(rest), c.name)
	}
	return goFromNative(native, v)
}
