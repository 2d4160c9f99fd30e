package schemas

import (
	"embed"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/linkedin/goavro/v2"
)

// Full Avro names of the top-level contracts, as SchemaName returns them and
// as Fingerprint and Schema accept them.
const (
	NameInboundEmail    = "mailtriage.InboundEmail"
	NameTicketCommand   = "mailtriage.TicketCommand"
	NameNotification    = "mailtriage.Notification"
	NameDecisionEvent   = "mailtriage.DecisionEvent"
	NameDeadLetter      = "mailtriage.DeadLetter"
	NameFeedbackEvent   = "mailtriage.FeedbackEvent"
	NameAutoReply       = "mailtriage.AutoReply"
	NameOutboundMessage = "mailtriage.OutboundMessage"
	NameTicketEvent     = "mailtriage.TicketEvent"
)

//go:embed *.avsc history/*.avsc
var schemaFiles embed.FS

// contract is one top-level schema with the codec built from it.
type contract struct {
	name        string
	file        string
	text        string
	codec       *goavro.Codec
	canonical   string // Parsing Canonical Form per the Avro specification
	fingerprint uint64 // CRC-64-AVRO of canonical

	// goavroFingerprint is the fingerprint goavro's SingleFromNative writes
	// for this schema. It differs from fingerprint when the schema has
	// logical types; readers accept it so records of Go producers that use
	// goavro directly still decode.
	goavroFingerprint uint64
}

// contractFiles maps every top-level name to its embedded file.
var contractFiles = []struct{ name, file string }{
	{NameInboundEmail, "inbound_email.avsc"},
	{NameTicketCommand, "ticket_command.avsc"},
	{NameNotification, "notification.avsc"},
	{NameDecisionEvent, "decision_event.avsc"},
	{NameDeadLetter, "dead_letter.avsc"},
	{NameFeedbackEvent, "feedback_event.avsc"},
	{NameAutoReply, "auto_reply.avsc"},
	{NameOutboundMessage, "outbound_message.avsc"},
	{NameTicketEvent, "ticket_event.avsc"},
}

// Codecs are built once at package initialization. A schema file that does
// not parse is a build defect, so it panics there rather than failing every
// Marshal call later.
var (
	contractsByName        = map[string]*contract{}
	contractsByFingerprint = map[uint64]*contract{}
)

func init() {
	for _, entry := range contractFiles {
		c, err := loadContract(entry.name, entry.file)
		if err != nil {
			panic(err)
		}
		contractsByName[c.name] = c
		contractsByFingerprint[c.fingerprint] = c
		contractsByFingerprint[c.goavroFingerprint] = c
	}
	loadHistory()
}

// loadContract reads one embedded schema file and builds its codec.
func loadContract(name, file string) (*contract, error) {
	text, err := schemaFiles.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("schemas: reading embedded %s: %w", file, err)
	}

	codec, err := goavro.NewCodec(string(text))
	if err != nil {
		return nil, fmt.Errorf("schemas: building the codec of %s: %w", file, err)
	}

	typeName := codec.TypeName()
	if got := typeName.String(); got != name {
		return nil, fmt.Errorf("schemas: %s defines %s, expected %s", file, got, name)
	}
	canonical := canonicalForm(codec)
	return &contract{
		name:        name,
		file:        file,
		text:        string(text),
		codec:       codec,
		canonical:   canonical,
		fingerprint: rabinFingerprint(canonical),

		goavroFingerprint: codec.Rabin,
	}, nil
}

// Names returns the full Avro names of all top-level contracts, in a fixed
// order.
func Names() []string {
	names := make([]string, 0, len(contractFiles))
	for _, entry := range contractFiles {
		names = append(names, entry.name)
	}
	return names
}

// Schema returns the text of the embedded .avsc file for the full Avro name,
// such as "mailtriage.InboundEmail", as a schema registry or another
// language's code generator would take it.
func Schema(name string) (string, error) {
	c, err := lookupContract(name)
	if err != nil {
		return "", err
	}
	return c.text, nil
}

// CanonicalSchema returns the Parsing Canonical Form of the schema for the
// full Avro name. The fingerprint is computed over this text.
func CanonicalSchema(name string) (string, error) {
	c, err := lookupContract(name)
	if err != nil {
		return "", err
	}
	return c.canonical, nil
}

// Fingerprint returns the CRC-64-AVRO (Rabin) fingerprint of the canonical
// form of the schema for the full Avro name, in the little-endian byte order
// that single-object encoding writes after its two-byte marker.
func Fingerprint(name string) ([8]byte, error) {
	var fingerprint [8]byte
	c, err := lookupContract(name)
	if err != nil {
		return fingerprint, err
	}
	binary.LittleEndian.PutUint64(fingerprint[:], c.fingerprint)
	return fingerprint, nil
}

// lookupContract finds the contract for a full Avro name.
func lookupContract(name string) (*contract, error) {
	c, ok := contractsByName[name]
	if !ok {
		return nil, fmt.Errorf("schemas: %w: %q; use one of %s", ErrUnknownSchema, name, strings.Join(Names(), ", "))
	}
	return c, nil
}
