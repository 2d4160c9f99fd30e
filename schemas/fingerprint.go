package schemas

import (
	"regexp"

	"github.com/linkedin/goavro/v2"
)

// primitiveObjectRe matches a primitive type written in object form, which
// is what goavro v2.15 leaves behind in its canonical form after dropping
// a logicalType attribute: {"type":"long"}.
var primitiveObjectRe = regexp.MustCompile(`\{"type":"(null|boolean|int|long|float|double|bytes|string)"\}`)

// canonicalForm returns the Parsing Canonical Form of the codec's schema as
// the Avro specification defines it.
//
// goavro's own CanonicalSchema keeps {"type":"long"} for a field declared
// as {"type":"long","logicalType":"timestamp-millis"}, but the
// specification's PRIMITIVES rule reduces it to "long". Java's
// SchemaNormalization and other implementations follow the specification,
// so the fingerprint is computed over the reduced text to stay readable by
// them.
func canonicalForm(codec *goavro.Codec) string {
	return primitiveObjectRe.ReplaceAllString(codec.CanonicalSchema(), `"$1"`)
}

// crc64Empty is the CRC-64-AVRO fingerprint of empty input, as the Avro
// specification defines it.
const crc64Empty = 0xc15d213aa4d7a795

var crc64Table = func() [256]uint64 {
	var table [256]uint64
	for i := range table {
		fp := uint64(i)
		for range 8 {
			fp = (fp >> 1) ^ (crc64Empty & -(fp & 1))
		}
		table[i] = fp
	}
	return table
}()

// rabinFingerprint returns the CRC-64-AVRO (Rabin) fingerprint of text.
func rabinFingerprint(text string) uint64 {
	fp := uint64(crc64Empty)
	for i := 0; i < len(text); i++ {
		fp = (fp >> 8) ^ crc64Table[byte(fp)^text[i]]
	}
	return fp
}
