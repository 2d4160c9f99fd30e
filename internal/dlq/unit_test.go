package dlq

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/schemas"
)

func TestParsePosition(t *testing.T) {
	got, err := ParsePosition("3:1045")
	if err != nil {
		t.Fatal(err)
	}
	if got != (Position{Partition: 3, Offset: 1045}) {
		t.Errorf("got %+v, expected partition 3 offset 1045", got)
	}
	if got.String() != "3:1045" {
		t.Errorf("String() = %q, expected 3:1045", got.String())
	}
	for _, bad := range []string{"", "3", "a:1", "1:b", "-1:4", "1:-4"} {
		if _, err := ParsePosition(bad); err == nil {
			t.Errorf("ParsePosition(%q) succeeded, expected an error", bad)
		}
	}
}

func TestFilterMatch(t *testing.T) {
	at := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	e := &Entry{Tenant: "acme", Stage: "classify", Error: "Rules: Invalid regex", Time: at}
	cases := []struct {
		name   string
		filter Filter
		want   bool
	}{
		{"empty", Filter{}, true},
		{"tenant", Filter{Tenant: "acme"}, true},
		{"other tenant", Filter{Tenant: "globex"}, false},
		{"stage", Filter{Stage: "classify"}, true},
		{"other stage", Filter{Stage: "route"}, false},
		{"error any case", Filter{ErrorContains: "invalid REGEX"}, true},
		{"error absent", Filter{ErrorContains: "timeout"}, false},
		{"since equal", Filter{Since: at}, true},
		{"since after", Filter{Since: at.Add(time.Second)}, false},
		{"until equal", Filter{Until: at}, false},
		{"until after", Filter{Until: at.Add(time.Second)}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.filter.Match(e); got != c.want {
				t.Errorf("Match = %v, expected %v", got, c.want)
			}
		})
	}
}

func TestFirstErrorLine(t *testing.T) {
	e := &Entry{Error: "  first line is long\nsecond"}
	if got := e.FirstErrorLine(0); got != "first line is long" {
		t.Errorf("uncut: %q", got)
	}
	if got := e.FirstErrorLine(6); got != "first…" {
		t.Errorf("cut to 6 runes: %q, expected %q", got, "first…")
	}
}

func TestTraceIDOf(t *testing.T) {
	const id = "4bf92f3577b34da6a3ce929d0e0e4736"
	if got := traceIDOf("00-" + id + "-00f067aa0ba902b7-01"); got != id {
		t.Errorf("got %q, expected %q", got, id)
	}
	if got := traceIDOf("garbage"); got != "" {
		t.Errorf("malformed value gave %q, expected empty", got)
	}
}

func TestWriteDetailHidesPayload(t *testing.T) {
	const address = "ana@example.com"
	dl := &schemas.DeadLetter{
		EventID: "ev1", Tenant: "acme", Stage: "route", Error: "line one\nline two",
		SourceTopic: "in", SourcePartition: 2, SourceOffset: 9, Attempts: 1,
		Key: []byte("acme/<x@" + "example.com>"), Payload: []byte("From: " + address + "\n\nbody"),
		Raw: &schemas.BlobRef{Key: "acme/2026/01/05/m/raw.eml", SHA256: "abc", Size: 77},
	}
	e := &Entry{
		Position: Position{Partition: 1, Offset: 4}, EventID: dl.EventID, Tenant: dl.Tenant, Stage: dl.Stage,
		Error: dl.Error, SourceTopic: dl.SourceTopic, SourcePartition: 2, SourceOffset: 9, Attempts: 1,
		Record: &kgo.Record{Headers: []kgo.RecordHeader{{Key: "mailtriage.dlq.stage", Value: []byte("route")}}},
		Letter: dl,
	}
	var out bytes.Buffer
	if err := WriteDetail(&out, "dlq", e); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{
		"dlq 1:4", "ev1", "acme", "route", "in/2/9", "acme/2026/01/05/m/raw.eml",
		"payload          " + "27 bytes", "key hash " + KeyHash(dl.Key), "  line two", "mailtriage.dlq.stage: route",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	for _, secret := range []string{address, "example.com>", "body"} {
		if strings.Contains(text, secret) {
			t.Errorf("output contains %q from the key or payload:\n%s", secret, text)
		}
	}
}
