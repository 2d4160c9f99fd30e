package schemas

import (
	"time"

	"github.com/linkedin/goavro/v2"
)

// Union branch names as goavro keys them: the full name of a named type, or
// "type.logicalType" for a logical type.
const (
	unionTimestampMillis = "long.timestamp-millis"
	unionEnvelope        = "mailtriage.Envelope"
	unionAddress         = "mailtriage.Address"
	unionBlobRef         = "mailtriage.BlobRef"
)

// stringsToNative converts a string slice to an Avro array. A nil slice
// becomes an empty array.
func stringsToNative(values []string) []any {
	out := make([]any, len(values))
	for i, value := range values {
		out[i] = value
	}
	return out
}

// countsToNative converts a count map to an Avro map of ints. A nil map
// becomes an empty map.
func countsToNative(counts map[string]int32) map[string]any {
	out := make(map[string]any, len(counts))
	for key, n := range counts {
		out[key] = n
	}
	return out
}

// bytesToNative converts a byte slice to an Avro bytes value. A nil slice
// becomes empty bytes.
func bytesToNative(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// optionalTimeToNative converts a time to a ["null", timestamp-millis]
// union value. The zero time becomes null.
func optionalTimeToNative(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return goavro.Union(unionTimestampMillis, t)
}

// recordsToNative converts a slice of records to an Avro array, one native
// record per item.
func recordsToNative[T any](items []T, toNative func(*T) map[string]any) []any {
	out := make([]any, len(items))
	for i := range items {
		out[i] = toNative(&items[i])
	}
	return out
}

// recordsFromNative converts the readers of an array of records back to a
// slice. An empty array gives nil.
func recordsFromNative[T any](readers []*recordReader, fromNative func(*recordReader) T) []T {
	if len(readers) == 0 {
		return nil
	}
	out := make([]T, len(readers))
	for i, r := range readers {
		out[i] = fromNative(r)
	}
	return out
}
