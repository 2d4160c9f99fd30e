package schemas

import "testing"

func BenchmarkMarshalInboundEmail(b *testing.B) {
	email := fullInboundEmail()
	data, err := Marshal(&email)
	if err != nil {
		b.Fatalf("Marshal: %v", err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()

	for b.Loop() {
		if _, err := Marshal(&email); err != nil {
			b.Fatalf("Marshal: %v", err)
		}
	}
}

func BenchmarkUnmarshalInboundEmail(b *testing.B) {
	email := fullInboundEmail()
	data, err := Marshal(&email)
	if err != nil {
		b.Fatalf("Marshal: %v", err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()

	for b.Loop() {
		var got InboundEmail
		if err := Unmarshal(data, &got); err != nil {
			b.Fatalf("Unmarshal: %v", err)
		}
	}
}
