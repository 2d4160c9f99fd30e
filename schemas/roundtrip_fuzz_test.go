package schemas

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"
)

// fuzzFields are the values that FuzzRoundTripEveryContract spreads over
// every field of every contract.
type fuzzFields struct {
	text, other string
	number      int64
	ratio       float64
	flag        bool
	raw         []byte
	items       int // length of every list and map, 0 to 3
	at          time.Time
}

func newFuzzFields(text, other string, number int64, ratio float64, flag bool, raw []byte, items uint8) fuzzFields {
	zone := time.FixedZone("fuzz", int(number%(14*3600)))
	return fuzzFields{
		text: text, other: other, number: number, ratio: ratio, flag: flag, raw: raw,
		items: int(items % 4),
		at:    time.UnixMilli(number / 7).Add(time.Duration(number%1_000_000) * time.Nanosecond).In(zone),
	}
}

func (in fuzzFields) strings() []string {
	out := make([]string, in.items)
	for i := range out {
		out[i] = in.text + string(rune('a'+i)) + in.other
	}
	return out
}

func (in fuzzFields) addresses() []Address {
	out := make([]Address, in.items)
	for i := range out {
		out[i] = Address{Name: in.other, Address: in.text + string(rune('0'+i))}
	}
	return out
}

func (in fuzzFields) counts() map[string]int32 {
	out := make(map[string]int32, in.items)
	for i := range in.items {
		out[in.text+string(rune('a'+i))] = int32(in.number) + int32(i)
	}
	return out
}

func (in fuzzFields) blob() *BlobRef {
	if !in.flag {
		return nil
	}
	return &BlobRef{Key: in.text, SHA256: in.other, Size: in.number}
}

func (in fuzzFields) reason() Reason {
	labels := make([]LabelScore, in.items)
	for i := range labels {
		labels[i] = LabelScore{Label: in.other, Probability: in.ratio / float64(i+1)}
	}
	return Reason{Kind: in.text, RuleID: in.other, RulesetVersion: in.text, ModelVersion: in.other, TopLabels: labels, Threshold: in.ratio, Detail: in.text}
}

func (in fuzzFields) attachments() []Attachment {
	out := make([]Attachment, in.items)
	for i := range out {
		out[i] = Attachment{
			Filename: in.text, ContentType: in.other, Size: in.number + int64(i), ContentID: in.other, Inline: in.flag,
			SHA256: in.text, StorageKey: in.other, Part: in.text, Text: in.other, DownloadURL: in.text,
		}
	}
	return out
}

func (in fuzzFields) inboundEmail() InboundEmail {
	e := InboundEmail{
		Tenant: in.text, MessageID: in.other, ThreadID: in.text, Source: in.other,
		ReceivedAt: in.at, To: in.addresses(), Cc: in.addresses(), ReplyTo: in.addresses(),
		Subject: in.text, Text: in.other, HTML: in.text, ReplyText: in.other,
		InReplyTo: in.strings(), References: in.strings(), Attachments: in.attachments(),
		Auth: Auth{SPF: in.text, DKIM: in.other, DMARC: in.text, Spam: in.other},
		Raw:  in.blob(), Warnings: in.strings(), PII: in.counts(),
	}
	for _, name := range in.strings() {
		e.Headers = append(e.Headers, Header{Name: name, Value: in.other})
	}
	if in.flag {
		e.Date = in.at.Add(time.Hour)
		e.Envelope = &Envelope{MailFrom: in.text, RcptTo: in.strings(), Helo: in.other, RemoteAddr: in.text, TLS: in.number%2 == 0}
		e.From = &Address{Name: in.text, Address: in.other}
	}
	return e
}

func (in fuzzFields) ticketCommand() TicketCommand {
	return TicketCommand{
		EventID: in.text, Tenant: in.other, Action: in.text, TicketRef: in.other, MessageID: in.text,
		Queue: in.other, Priority: in.text, Tags: in.strings(), Requester: Address{Name: in.text, Address: in.other},
		Recipients: in.addresses(), Subject: in.text, Text: in.other, ReplyText: in.text, InReplyTo: in.strings(),
		Attachments: in.attachments(), Raw: in.blob(), ReceivedAt: in.at, Reason: in.reason(),
		SkipAutoReply: in.flag, LinkedTicketRef: in.other,
	}
}

func (in fuzzFields) notification() Notification {
	return Notification{
		EventID: in.text, Tenant: in.other, Channel: in.text, TicketRef: in.other, Queue: in.text,
		Priority: in.other, SenderDomain: in.text, Subject: in.other, Excerpt: in.text, ReceivedAt: in.at,
	}
}

func (in fuzzFields) decisionEvent() DecisionEvent {
	return DecisionEvent{
		EventID: in.text, Tenant: in.other, MessageID: in.text, TicketRef: in.other, Queue: in.text,
		Priority: in.other, Tags: in.strings(), Reason: in.reason(), Duplicate: in.flag, FollowUp: !in.flag,
		PII: in.counts(), Source: in.text, SenderDomain: in.other, Subject: in.text,
		Attachments: int32(in.number), Warnings: int32(in.number >> 32), ReceivedAt: in.at, DecidedAt: in.at.Add(time.Millisecond),
	}
}

func (in fuzzFields) deadLetter() DeadLetter {
	return DeadLetter{
		EventID: in.text, Tenant: in.other, Stage: in.text, Error: in.other, SourceTopic: in.text,
		SourcePartition: int32(in.number), SourceOffset: in.number, Attempts: int32(in.number >> 32), TraceID: in.other,
		FailedAt: in.at, Key: []byte(in.text), Payload: in.raw, Raw: in.blob(),
	}
}

func (in fuzzFields) feedbackEvent() FeedbackEvent {
	return FeedbackEvent{
		EventID: in.text, Tenant: in.other, TicketRef: in.text, MessageID: in.other, Actor: in.text,
		Source: in.other, At: in.at, From: Assignment{Queue: in.text, Priority: in.other},
		To: Assignment{Queue: in.other, Priority: in.text}, Reason: in.reason(), Subject: in.text, ReplyText: in.other,
	}
}

func (in fuzzFields) autoReply() AutoReply {
	return AutoReply{
		EventID: in.text, Tenant: in.other, Kind: in.text, TicketRef: in.other, Queue: in.text,
		To: Address{Name: in.other, Address: in.text}, Subject: in.other, InReplyTo: in.text,
		References: in.strings(), ReceivedAt: in.at, DecidedAt: in.at.Add(-time.Second),
	}
}

// decodedForm returns what v, a pointer to a contract value, looks like
// after a round trip, as Unmarshal documents it: times truncated to the
// millisecond and in UTC, empty slices, maps and bytes as nil. It changes
// v in place.
func decodedForm(v reflect.Value) {
	if v.Type() == timeType {
		v.Set(reflect.ValueOf(millisUTC(v.Interface().(time.Time))))
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			decodedForm(v.Elem())
		}
	case reflect.Struct:
		for i := range v.NumField() {
			decodedForm(v.Field(i))
		}
	case reflect.Slice, reflect.Map:
		if v.Len() == 0 {
			v.Set(reflect.Zero(v.Type()))
			return
		}
		if v.Kind() == reflect.Slice {
			for i := range v.Len() {
				decodedForm(v.Index(i))
			}
		}
	}
}

// fuzzConfluentSerde returns a Confluent Serde whose schema IDs are set
// by hand, so that Encode and Decode of its own records never reach the
// registry. The registry is a loopback server that returns 404.
func fuzzConfluentSerde(f *testing.F) *Serde {
	srv := httptest.NewServer(http.NotFoundHandler())
	f.Cleanup(srv.Close)
	client, err := NewRegistryClient(srv.URL)
	if err != nil {
		f.Fatalf("NewRegistryClient: %v", err)
	}
	s := &Serde{registry: client, subjectFor: TopicNameStrategy, ids: map[Binding]uint32{}, byID: map[uint32]*contract{}}
	for i, b := range DefaultBindings() {
		s.ids[b] = uint32(201 + i)
		s.byID[uint32(201+i)] = contractsByName[b.Schema]
	}
	return s
}

func topicOf(t *testing.T, schemaName string) string {
	t.Helper()
	for _, b := range DefaultBindings() {
		if b.Schema == schemaName {
			return b.Topic
		}
	}
	t.Fatalf("no topic in DefaultBindings carries %s", schemaName)
	return ""
}

func FuzzRoundTripEveryContract(f *testing.F) {
	f.Add("acme", "Zoë <zoe@example.org>", int64(1_741_944_413_589), 0.8125, true, []byte{0xC3, 0x01, 0xFF}, uint8(3))
	f.Add("", "", int64(0), 0.0, false, []byte(nil), uint8(0))
	f.Add("\xff\x00", "田中 太郎", int64(-62_135_596_800_000), math.Inf(-1), true, []byte{0}, uint8(1))
	f.Add("x", "y", int64(math.MaxInt64), math.NaN(), false, []byte("payload"), uint8(2))

	confluent := fuzzConfluentSerde(f)
	single := NewSingleObject()
	ctx := context.Background()

	f.Fuzz(func(t *testing.T, text, other string, number int64, ratio float64, flag bool, raw []byte, items uint8) {
		in := newFuzzFields(text, other, number, ratio, flag, raw, items)
		values := []any{
			in.inboundEmail(), in.ticketCommand(), in.notification(), in.decisionEvent(),
			in.deadLetter(), in.feedbackEvent(), in.autoReply(),
		}
		for _, value := range values {
			name, err := SchemaName(value)
			if err != nil {
				t.Fatal(err)
			}
			want := reflect.New(reflect.TypeOf(value))
			want.Elem().Set(reflect.ValueOf(value))
			decodedForm(want)
			markNaNs(want)

			for _, serde := range []*Serde{single, confluent} {
				data, err := serde.Encode(topicOf(t, name), value)
				if err != nil {
					t.Fatalf("encoding %s (Confluent %t): %v", name, serde.Confluent(), err)
				}
				got := reflect.New(reflect.TypeOf(value))
				if err := serde.DecodeContext(ctx, data, got.Interface()); err != nil {
					t.Fatalf("decoding the %s just encoded (Confluent %t): %v", name, serde.Confluent(), err)
				}
				markNaNs(got)
				for _, diff := range diffValues(want.Interface(), got.Interface()) {
					t.Errorf("%s (Confluent %t) round trip: %s", name, serde.Confluent(), diff)
				}
			}
		}
	})
}
