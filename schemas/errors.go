package schemas

import "errors"

// Errors that Marshal, Unmarshal and the schema lookups wrap. Test for them
// with errors.Is. None of them goes away on retry: a record that fails with
// ErrNotSingleObject, ErrSchemaMismatch or ErrCorruptRecord belongs in the
// dead-letter topic.
var (
	// ErrUnsupportedType means the Go value is not a contract type, or for
	// Unmarshal not a non-nil pointer to one.
	ErrUnsupportedType = errors.New("unsupported Go type")

	// ErrUnknownSchema means a schema name is not one of Names().
	ErrUnknownSchema = errors.New("unknown schema name")

	// ErrNotSingleObject means the bytes do not start with the Avro
	// single-object marker 0xC3 0x01 and an 8-byte fingerprint.
	ErrNotSingleObject = errors.New("not Avro single-object encoding")

	// ErrSchemaMismatch means the record was written with a schema other
	// than the one of the Go value passed to Unmarshal.
	ErrSchemaMismatch = errors.New("schema mismatch")

	// ErrCorruptRecord means the header is valid but the Avro body is
	// truncated, has trailing bytes or does not match the schema.
	ErrCorruptRecord = errors.New("corrupt Avro record")
)
