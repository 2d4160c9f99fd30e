package schemas

import (
	"bytes"
	"reflect"
	"testing"
)

// roundTrip marshals in, unmarshals the bytes into out and fails the test on
// any error.
func roundTrip[T any](t *testing.T, in T, out *T) {
	t.Helper()
	data, err := Marshal(in)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	if err := Unmarshal(data, out); err != nil {
		t.Fatalf("Unmarshal: %v", err)
	}
}

func checkNoDiff(t *testing.T, want, got any) {
	t.Helper()
	for _, diff := range diffValues(want, got) {
		t.Error(diff)
	}
}

func TestRoundTripInboundEmailFull(t *testing.T) {
	in := fullInboundEmail()
	var got InboundEmail
	roundTrip(t, in, &got)

	want := fullInboundEmail()
	want.ReceivedAt = millisUTC(want.ReceivedAt)
	want.Date = millisUTC(want.Date)
	checkNoDiff(t, want, got)
}

func TestRoundTripInboundEmailSparse(t *testing.T) {
	// Unset unions, nil slices and the zero Date must survive as nil and
	// zero, not as empty records.
	in := InboundEmail{Tenant: "acme", MessageID: "m1@x", ReceivedAt: fixtureDecidedAt}
	var got InboundEmail
	roundTrip(t, in, &got)
	checkNoDiff(t, in, got)

	if got.Envelope != nil || got.From != nil || got.Raw != nil {
		t.Errorf("unset unions decoded as envelope=%v from=%v raw=%v, want all nil", got.Envelope, got.From, got.Raw)
	}
	if !got.Date.IsZero() {
		t.Errorf("Date = %s, want the zero time", got.Date)
	}
}

func TestRoundTripEmptySlicesBecomeNil(t *testing.T) {
	in := InboundEmail{
		ReceivedAt: fixtureDecidedAt,
		Envelope:   &Envelope{RcptTo: []string{}},
		To:         []Address{},
		Headers:    []Header{},
		Warnings:   []string{},
		PII:        map[string]int32{},
	}
	var got InboundEmail
	roundTrip(t, in, &got)

	if got.Envelope == nil || got.Envelope.RcptTo != nil {
		t.Errorf("Envelope = %+v, want a non-nil envelope with nil RcptTo", got.Envelope)
	}
	if got.To != nil || got.Headers != nil || got.Warnings != nil || got.PII != nil {
		t.Errorf("empty collections decoded as To=%#v Headers=%#v Warnings=%#v PII=%#v, want nil", got.To, got.Headers, got.Warnings, got.PII)
	}
}

func TestRoundTripZeroReceivedAt(t *testing.T) {
	var got Notification
	roundTrip(t, Notification{EventID: "e"}, &got)
	if !got.ReceivedAt.IsZero() {
		t.Errorf("ReceivedAt = %s, want the zero time back", got.ReceivedAt)
	}
}

func TestRoundTripTicketCommandFull(t *testing.T) {
	var got TicketCommand
	roundTrip(t, fullTicketCommand(), &got)

	want := fullTicketCommand()
	want.ReceivedAt = millisUTC(want.ReceivedAt)
	checkNoDiff(t, want, got)
}

func TestRoundTripTicketCommandNoRaw(t *testing.T) {
	in := fullTicketCommand()
	in.Raw = nil
	in.Reason = Reason{Kind: ReasonFallback}
	var got TicketCommand
	roundTrip(t, in, &got)

	want := in
	want.ReceivedAt = millisUTC(want.ReceivedAt)
	checkNoDiff(t, want, got)
}

func TestRoundTripNotificationFull(t *testing.T) {
	var got Notification
	roundTrip(t, fullNotification(), &got)

	want := fullNotification()
	want.ReceivedAt = millisUTC(want.ReceivedAt)
	checkNoDiff(t, want, got)
}

func TestRoundTripDecisionEventFull(t *testing.T) {
	var got DecisionEvent
	roundTrip(t, fullDecisionEvent(), &got)

	want := fullDecisionEvent()
	want.ReceivedAt = millisUTC(want.ReceivedAt)
	checkNoDiff(t, want, got)
}

func TestRoundTripDeadLetterFull(t *testing.T) {
	var got DeadLetter
	roundTrip(t, fullDeadLetter(), &got)
	checkNoDiff(t, fullDeadLetter(), got)
}

func TestRoundTripDeadLetterNoRaw(t *testing.T) {
	in := DeadLetter{EventID: "d", Stage: "ingress", FailedAt: fixtureDecidedAt, Payload: []byte("not mime")}
	var got DeadLetter
	roundTrip(t, in, &got)
	checkNoDiff(t, in, got)
}

func TestMarshalValueAndPointerMatch(t *testing.T) {
	// goavro writes map entries in Go's random iteration order, so the
	// fixtures keep at most one PII entry here to make the bytes comparable.
	email := fullInboundEmail()
	email.PII = map[string]int32{"email": 3}
	decision := fullDecisionEvent()
	decision.PII = map[string]int32{"téléphone": 2}

	values := []struct {
		name    string
		value   any
		pointer any
	}{
		{"InboundEmail", email, &email},
		{"TicketCommand", fullTicketCommand(), new(fullTicketCommand())},
		{"Notification", fullNotification(), new(fullNotification())},
		{"DecisionEvent", decision, &decision},
		{"DeadLetter", fullDeadLetter(), new(fullDeadLetter())},
	}
	for _, tc := range values {
		t.Run(tc.name, func(t *testing.T) {
			fromValue, err := Marshal(tc.value)
			if err != nil {
				t.Fatalf("Marshal(value): %v", err)
			}
			fromPointer, err := Marshal(tc.pointer)
			if err != nil {
				t.Fatalf("Marshal(pointer): %v", err)
			}
			if !bytes.Equal(fromValue, fromPointer) {
				t.Errorf("Marshal(value) = %x, Marshal(pointer) = %x, want equal", fromValue, fromPointer)
			}
		})
	}
}

func TestFixturesPopulateEveryField(t *testing.T) {
	// The round-trip tests only prove what the fixtures exercise, so every
	// field must be non-zero somewhere: directly, or in at least one item
	// of a slice.
	for _, tc := range contractSamples {
		for _, path := range zeroFields(reflect.ValueOf(tc.value), shortName(tc.name)) {
			t.Errorf("fixture leaves %s at its zero value", path)
		}
	}
}

// zeroFields lists the struct fields under v that are zero. For a slice of
// structs a field counts as set when any item sets it.
func zeroFields(v reflect.Value, path string) []string {
	if v.Type() == timeType {
		if v.IsZero() {
			return []string{path}
		}
		return nil
	}

	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return []string{path}
		}
		return zeroFields(v.Elem(), path)
	case reflect.Struct:
		var zero []string
		for i := range v.NumField() {
			zero = append(zero, zeroFields(v.Field(i), path+"."+v.Type().Field(i).Name)...)
		}
		return zero
	case reflect.Slice:
		if v.Len() == 0 {
			return []string{path}
		}
		if v.Type().Elem().Kind() != reflect.Struct {
			return nil
		}
		return zeroInEveryItem(v, path)
	}

	if v.IsZero() {
		return []string{path}
	}
	return nil
}

// zeroInEveryItem lists the fields that every item of a slice of structs
// leaves zero.
func zeroInEveryItem(v reflect.Value, path string) []string {
	counts := map[string]int{}
	for i := range v.Len() {
		for _, field := range zeroFields(v.Index(i), path+"[]") {
			counts[field]++
		}
	}

	var zero []string
	for field, n := range counts {
		if n == v.Len() {
			zero = append(zero, field)
		}
	}
	return zero
}

func TestRoundTripConcurrent(t *testing.T) {
	// The shared codecs must tolerate parallel use; run with -race to check.
	const goroutines, rounds = 8, 50
	errs := make(chan error, goroutines)
	for range goroutines {
		go func() {
			for range rounds {
				data, err := Marshal(fullDecisionEvent())
				if err == nil {
					var got DecisionEvent
					err = Unmarshal(data, &got)
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}

	for range goroutines {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
