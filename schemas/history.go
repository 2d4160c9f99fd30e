package schemas

import (
	"fmt"

	"github.com/linkedin/goavro/v2"
)

// historyFiles lists the earlier versions of each contract. A record
// written with one of them still decodes: Unmarshal reads it with the old
// schema and fills the fields added since from their defaults. Add the
// current file here, under a new version, before changing a contract.
var historyFiles = []struct{ name, file string }{
	{NameInboundEmail, "history/inbound_email.v1.avsc"},
	{NameTicketCommand, "history/ticket_command.v1.avsc"},
	{NameTicketCommand, "history/ticket_command.v2.avsc"},
}

// historical is an earlier version of a contract.
type historical struct {
	current *contract
	file    string
	codec   *goavro.Codec
}

// historyByFingerprint maps both fingerprints (specification and goavro) of
// every earlier version to it.
var historyByFingerprint = map[uint64]*historical{}

// loadHistory builds the codecs of historyFiles. It runs after the current
// contracts are loaded, because each version points at its contract.
func loadHistory() {
	for _, entry := range historyFiles {
		text, err := schemaFiles.ReadFile(entry.file)
		if err != nil {
			panic(fmt.Errorf("schemas: reading embedded %s: %w", entry.file, err))
		}
		codec, err := goavro.NewCodec(string(text))
		if err != nil {
			panic(fmt.Errorf("schemas: building the codec of %s: %w", entry.file, err))
		}
		h := &historical{current: contractsByName[entry.name], file: entry.file, codec: codec}
		fingerprint := rabinFingerprint(canonicalForm(codec))
		if fingerprint == h.current.fingerprint {
			continue // the file still equals the current schema
		}
		historyByFingerprint[fingerprint] = h
		historyByFingerprint[codec.Rabin] = h
	}
}

// upgrade decodes body, written with the earlier version h, into the
// native form of the current schema. goavro fills every field that the
// old native value lacks from the current schema's default when it
// encodes, so encoding with the current codec and decoding again applies
// the Avro rule for fields added with a default.
func (h *historical) upgrade(body []byte) (any, []byte, error) {
	old, rest, err := decodeNative(h.codec, body)
	if err != nil {
		return nil, rest, err
	}
	current, err := h.current.codec.BinaryFromNative(nil, old)
	if err != nil {
		return nil, rest, fmt.Errorf("upgrading a record of %s to the current %s: %w", h.file, h.current.name, err)
	}
	native, _, err := h.current.codec.NativeFromBinary(current)
	return native, rest, err
}
