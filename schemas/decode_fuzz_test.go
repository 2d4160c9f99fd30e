package schemas

import (
	"encoding/binary"
	"errors"
	"math"
	"reflect"
	"runtime/metrics"
	"testing"
)

// decodeTarget is one contract type that a record can decode into.
type decodeTarget struct {
	name     string
	newValue func() any // a pointer to a new zero value
}

var decodeTargets = []decodeTarget{
	{NameInboundEmail, func() any { return new(InboundEmail) }},
	{NameTicketCommand, func() any { return new(TicketCommand) }},
	{NameNotification, func() any { return new(Notification) }},
	{NameDecisionEvent, func() any { return new(DecisionEvent) }},
	{NameDeadLetter, func() any { return new(DeadLetter) }},
	{NameFeedbackEvent, func() any { return new(FeedbackEvent) }},
	{NameAutoReply, func() any { return new(AutoReply) }},
}

// maxDecodeAllocBytes bounds what decoding n bytes of input may allocate:
// a fixed allowance for the record maps of goavro and the error text,
// plus a share per input byte, which array and map items need. Without
// the block count check a 22-byte record allocated 32 GiB.
func maxDecodeAllocBytes(n int) uint64 {
	return 1<<20 + 2048*uint64(n)
}

// heapAllocBytes returns the bytes allocated on the heap since the
// program started.
func heapAllocBytes() uint64 {
	sample := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(sample)
	return sample[0].Value.Uint64()
}

// singleObjectFrame returns body behind a single-object header with the
// given schema fingerprint.
func singleObjectFrame(fingerprint uint64, body []byte) []byte {
	out := make([]byte, singleObjectHeader, singleObjectHeader+len(body))
	out[0], out[1] = singleObjectMarker0, singleObjectMarker1
	binary.LittleEndian.PutUint64(out[2:], fingerprint)
	return append(out, body...)
}

// fuzzDecodeSerde returns a Serde without a registry that maps one schema
// ID to each contract of DefaultBindings, numbered from 101 in order, so
// that Confluent-framed records decode without a lookup.
func fuzzDecodeSerde() (*Serde, map[string]uint32) {
	s := NewSingleObject()
	ids := map[string]uint32{}
	for i, b := range DefaultBindings() {
		id := uint32(101 + i)
		s.byID[id] = contractsByName[b.Schema]
		ids[b.Schema] = id
	}
	return s, ids
}

func FuzzDecodeArbitraryBytes(f *testing.F) {
	for _, v := range []any{fullInboundEmail(), fullTicketCommand(), fullNotification(), fullDecisionEvent(), fullDeadLetter(), fullFeedbackEvent(), fullAutoReply()} {
		data, err := Marshal(v)
		if err != nil {
			f.Fatalf("Marshal(%T): %v", v, err)
		}
		f.Add(data)
		f.Add(data[singleObjectHeader:])
	}
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0, 0, 0x65, 2, 'a'})
	f.Add([]byte(`{"tenant": "acme"}`))
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff, 0x0f})

	serde, ids := fuzzDecodeSerde()
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, target := range decodeTargets {
			c := contractsByName[target.name]
			inputs := map[string][]byte{
				"as given":         data,
				"as single-object": singleObjectFrame(c.fingerprint, data),
				"as Confluent":     confluentFrame(ids[target.name], data),
			}
			for fingerprint, old := range historyByFingerprint {
				if old.current == c {
					inputs["as "+old.file] = singleObjectFrame(fingerprint, data)
				}
			}
			for framing, input := range inputs {
				checkDecode(t, serde, target, framing, input)
			}
		}
	})
}

// checkDecode decodes input into a new value of target and checks the
// properties of any input. Decoding must not panic and must allocate a
// bounded amount. An error must wrap a documented error and leave the
// value unchanged, and a decoded value must survive a second round trip.
func checkDecode(t *testing.T, serde *Serde, target decodeTarget, framing string, input []byte) {
	t.Helper()
	v := target.newValue()

	before := heapAllocBytes()
	err := serde.Decode(input, v)
	allocated := heapAllocBytes() - before
	if limit := maxDecodeAllocBytes(len(input)); allocated > limit {
		t.Fatalf("decoding %d bytes %s into %s allocated %d bytes, more than %d", len(input), framing, target.name, allocated, limit)
	}

	if err != nil {
		kinds := []error{ErrNotSingleObject, ErrSchemaMismatch, ErrCorruptRecord, ErrUnknownSchemaID}
		if !slicesContainsErr(kinds, err) {
			t.Fatalf("decoding %s into %s: error %q wraps none of the documented errors", framing, target.name, err)
		}
		if !reflect.DeepEqual(v, target.newValue()) {
			t.Fatalf("decoding %s into %s failed with %q but changed the value to %+v", framing, target.name, err, v)
		}
		return
	}

	again, err := Marshal(v)
	if err != nil {
		t.Fatalf("%s decoded from %s does not encode again: %v", target.name, framing, err)
	}
	w := target.newValue()
	if err := Unmarshal(again, w); err != nil {
		t.Fatalf("%s decoded from %s, encoded again, does not decode: %v", target.name, framing, err)
	}
	markNaNs(reflect.ValueOf(v))
	markNaNs(reflect.ValueOf(w))
	for _, diff := range diffValues(v, w) {
		t.Errorf("%s decoded from %s changed in a second round trip: %s", target.name, framing, diff)
	}
}

func slicesContainsErr(kinds []error, err error) bool {
	for _, kind := range kinds {
		if errors.Is(err, kind) {
			return true
		}
	}
	return false
}

// nanMarker replaces NaN before values are compared, because NaN equals
// nothing, not even itself. Avro doubles keep their bits, so a NaN that
// decodes as another number still shows up as a difference.
const nanMarker = -3 * math.SmallestNonzeroFloat64

// markNaNs replaces every NaN float64 reachable from v with nanMarker.
func markNaNs(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			markNaNs(v.Elem())
		}
	case reflect.Struct:
		for i := range v.NumField() {
			markNaNs(v.Field(i))
		}
	case reflect.Slice:
		for i := range v.Len() {
			markNaNs(v.Index(i))
		}
	case reflect.Float64:
		if math.IsNaN(v.Float()) && v.CanSet() {
			v.SetFloat(nanMarker)
		}
	}
}
