package schemas

import (
	"bytes"
	"encoding/binary"
	"os"
	"strings"
	"testing"

	"github.com/linkedin/goavro/v2"
)

// crc64Avro computes the CRC-64-AVRO (Rabin) fingerprint as the Avro
// specification defines it, independently of goavro.
func crc64Avro(data []byte) uint64 {
	const empty = 0xc15d213aa4d7a795

	var table [256]uint64
	for i := range table {
		fp := uint64(i)
		for range 8 {
			fp = (fp >> 1) ^ (empty & -(fp & 1))
		}
		table[i] = fp
	}

	fp := uint64(empty)
	for _, b := range data {
		fp = (fp >> 8) ^ table[byte(fp)^b]
	}
	return fp
}

// contractSamples pairs every contract with its file and a populated value.
var contractSamples = []struct {
	name  string
	file  string
	value any
}{
	{NameInboundEmail, "inbound_email.avsc", fullInboundEmail()},
	{NameTicketCommand, "ticket_command.avsc", fullTicketCommand()},
	{NameNotification, "notification.avsc", fullNotification()},
	{NameDecisionEvent, "decision_event.avsc", fullDecisionEvent()},
	{NameDeadLetter, "dead_letter.avsc", fullDeadLetter()},
}

func TestHeaderSingleObject(t *testing.T) {
	for _, tc := range contractSamples {
		t.Run(tc.name, func(t *testing.T) {
			data, err := Marshal(tc.value)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if data[0] != 0xC3 || data[1] != 0x01 {
				t.Errorf("marker = %#x, want 0xc301", data[:2])
			}

			text, err := os.ReadFile(tc.file)
			if err != nil {
				t.Fatalf("reading %s: %v", tc.file, err)
			}
			codec, err := goavro.NewCodec(string(text))
			if err != nil {
				t.Fatalf("building a codec from %s: %v", tc.file, err)
			}

			written := binary.LittleEndian.Uint64(data[2:10])
			canonical, err := CanonicalSchema(tc.name)
			if err != nil {
				t.Fatal(err)
			}
			if own := crc64Avro([]byte(canonical)); written != own {
				t.Errorf("written fingerprint = %#016x, CRC-64-AVRO of the canonical form = %#016x", written, own)
			}
			if strings.Contains(canonical, `{"type":"long"}`) {
				t.Errorf("canonical form keeps a primitive in object form: %s", canonical)
			}
			if codec.Rabin != crc64Avro([]byte(codec.CanonicalSchema())) {
				t.Errorf("goavro Rabin %#016x is not the CRC-64-AVRO of its own canonical text", codec.Rabin)
			}

			fingerprint, err := Fingerprint(tc.name)
			if err != nil {
				t.Fatalf("Fingerprint: %v", err)
			}
			if !bytes.Equal(fingerprint[:], data[2:10]) {
				t.Errorf("Fingerprint(%q) = %x, header carries %x", tc.name, fingerprint, data[2:10])
			}
		})
	}
}

func TestHeaderBodyIsPlainAvroBinary(t *testing.T) {
	// The bytes after the header must be the Avro binary encoding that any
	// reader of the schema decodes with no framing of its own.
	in := fullNotification()
	data, err := Marshal(in)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	text, err := os.ReadFile("notification.avsc")
	if err != nil {
		t.Fatalf("reading notification.avsc: %v", err)
	}
	codec, err := goavro.NewCodec(string(text))
	if err != nil {
		t.Fatalf("building a codec: %v", err)
	}

	native, rest, err := codec.NativeFromBinary(data[10:])
	if err != nil {
		t.Fatalf("NativeFromBinary: %v", err)
	}
	if len(rest) != 0 {
		t.Errorf("%d bytes left after the body, want 0", len(rest))
	}
	fields := native.(map[string]any)
	if fields["excerpt"] != in.Excerpt {
		t.Errorf("excerpt = %q, want %q", fields["excerpt"], in.Excerpt)
	}
}

func TestFingerprintsDistinct(t *testing.T) {
	seen := map[[8]byte]string{}
	for _, name := range Names() {
		fingerprint, err := Fingerprint(name)
		if err != nil {
			t.Fatalf("Fingerprint(%q): %v", name, err)
		}
		if other, ok := seen[fingerprint]; ok {
			t.Errorf("%s and %s share fingerprint %x", name, other, fingerprint)
		}
		seen[fingerprint] = name
	}
}

func TestSchemaTextMatchesFile(t *testing.T) {
	for _, tc := range contractSamples {
		text, err := Schema(tc.name)
		if err != nil {
			t.Fatalf("Schema(%q): %v", tc.name, err)
		}
		onDisk, err := os.ReadFile(tc.file)
		if err != nil {
			t.Fatalf("reading %s: %v", tc.file, err)
		}
		if text != string(onDisk) {
			t.Errorf("Schema(%q) differs from %s", tc.name, tc.file)
		}

		canonical, err := CanonicalSchema(tc.name)
		if err != nil {
			t.Fatalf("CanonicalSchema(%q): %v", tc.name, err)
		}
		if !strings.HasPrefix(canonical, `{"name":"`+tc.name+`","type":"record"`) {
			t.Errorf("CanonicalSchema(%q) = %.60s..., want it to start with the full name", tc.name, canonical)
		}
		if strings.Contains(canonical, `"doc"`) || strings.Contains(canonical, `"default"`) {
			t.Errorf("CanonicalSchema(%q) keeps doc or default attributes, which the canonical form strips", tc.name)
		}
	}
}

func TestSchemaNameOfEveryType(t *testing.T) {
	for _, tc := range contractSamples {
		got, err := SchemaName(tc.value)
		if err != nil {
			t.Fatalf("SchemaName(%T): %v", tc.value, err)
		}
		if got != tc.name {
			t.Errorf("SchemaName(%T) = %q, want %q", tc.value, got, tc.name)
		}
	}

	got, err := SchemaName(&DeadLetter{})
	if err != nil || got != NameDeadLetter {
		t.Errorf("SchemaName(*DeadLetter) = %q, %v; want %q, nil", got, err, NameDeadLetter)
	}
}
