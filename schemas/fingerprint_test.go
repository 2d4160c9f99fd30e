package schemas

import (
	"testing"

	"github.com/linkedin/goavro/v2"
)

func TestCanonicalFormReducesLogicalTypes(t *testing.T) {
	codec, err := goavro.NewCodec(`{"type":"record","name":"B","namespace":"a","doc":"x",
		"fields":[{"name":"t","type":{"type":"long","logicalType":"timestamp-millis"},"default":0},
		          {"name":"n","type":["null",{"type":"int","logicalType":"date"}],"default":null}]}`)
	if err != nil {
		t.Fatal(err)
	}

	want := `{"name":"a.B","type":"record","fields":[{"name":"t","type":"long"},{"name":"n","type":["null","int"]}]}`
	if got := canonicalForm(codec); got != want {
		t.Errorf("canonicalForm:\n got %s\nwant %s", got, want)
	}
}

func TestRabinFingerprintKnownValues(t *testing.T) {
	// The fingerprint of empty input is fixed by the specification. The
	// others are checked against the second implementation in
	// header_test.go, written separately from the Avro specification.
	if got := rabinFingerprint(""); got != crc64Empty {
		t.Errorf("rabinFingerprint(\"\") = %#016x, want %#016x", got, uint64(crc64Empty))
	}
	for _, text := range []string{`"long"`, `"string"`, `{"name":"a.B","type":"record","fields":[]}`} {
		if got, want := rabinFingerprint(text), crc64Avro([]byte(text)); got != want {
			t.Errorf("rabinFingerprint(%s) = %#016x, want %#016x", text, got, want)
		}
	}
}

func TestUnmarshalAcceptsGoavroFingerprint(t *testing.T) {
	value := Notification{EventID: "e1", Tenant: "acme", Channel: "slack", Subject: "Hello"}
	native, err := goavro.NewCodec(contractsByName[NameNotification].text)
	if err != nil {
		t.Fatal(err)
	}
	_, m, err := nativeFromGo(value)
	if err != nil {
		t.Fatal(err)
	}
	data, err := native.SingleFromNative(nil, m)
	if err != nil {
		t.Fatal(err)
	}

	var got Notification
	if err := Unmarshal(data, &got); err != nil {
		t.Fatalf("Unmarshal of a goavro SingleFromNative record: %v", err)
	}
	if got.EventID != "e1" || got.Subject != "Hello" {
		t.Errorf("decoded %+v, want EventID e1 and Subject Hello", got)
	}
}
