package ingest

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"mailtriage/schemas"
)

var jsonReceivedAt = time.Date(2024, 3, 5, 14, 0, 0, 0, time.UTC)

const fullPayload = `{
  "messageId": "<order-1@example.org>",
  "threadId": "thr-42",
  "from": "Ana Lima <ana@example.org>",
  "to": ["support@example.com", {"name": "Billing", "address": "billing@example.com"}],
  "cc": "Bo <bo@example.net>, carl@example.net",
  "subject": "Refund for order 100482",
  "text": "Please refund my order.\n\nOn Mon, Bo wrote:\n> old text\n",
  "html": "<p>Please refund my order.</p><img src=\"cid:logo1\">",
  "headers": {"Received": ["by mx1", "by mx2"], "In-Reply-To": "<prev@example.org>", "References": "<a@x> <prev@example.org>", "Date": "Tue, 05 Mar 2024 09:12:44 +0000"},
  "attachments": [
    {"filename": "orders.csv", "contentType": "text/csv; charset=utf-8", "size": 25, "contentId": "", "downloadUrl": "https://files.example.net/a/1", "sha256": "A2B3C4D5E6F708192A3B4C5D6E7F8091A2B3C4D5E6F708192A3B4C5D6E7F8091"},
    {"filename": "logo.png", "contentType": "image/png", "size": 512, "contentId": "<logo1>", "downloadUrl": "https://files.example.net/a/2"}
  ],
  "spamVerdict": "ham",
  "dkim": "pass",
  "spf": "SoftFail",
  "receivedAt": "2024-03-05T09:12:50Z",
  "unknownProviderField": {"ignored": true}
}`

func TestFromJSONMapsEveryField(t *testing.T) {
	email, err := FromJSON([]byte(fullPayload), "acme", jsonReceivedAt)
	if err != nil {
		t.Fatalf("FromJSON: %v", err)
	}

	checks := []struct {
		name      string
		got, want any
	}{
		{"tenant", email.Tenant, "acme"},
		{"source", email.Source, schemas.SourceWebhookJSON},
		{"messageId", email.MessageID, "order-1@example.org"},
		{"key", email.Key(), "acme/order-1@example.org"},
		{"threadId", email.ThreadID, "thr-42"},
		{"from", *email.From, schemas.Address{Name: "Ana Lima", Address: "ana@example.org"}},
		{"to", email.To, []schemas.Address{{Address: "support@example.com"}, {Name: "Billing", Address: "billing@example.com"}}},
		{"cc", email.Cc, []schemas.Address{{Name: "Bo", Address: "bo@example.net"}, {Address: "carl@example.net"}}},
		{"subject", email.Subject, "Refund for order 100482"},
		{"replyText", email.ReplyText, "Please refund my order."},
		{"headers", email.Headers, []schemas.Header{
			{Name: "Received", Value: "by mx1"},
			{Name: "Received", Value: "by mx2"},
			{Name: "In-Reply-To", Value: "<prev@example.org>"},
			{Name: "References", Value: "<a@x> <prev@example.org>"},
			{Name: "Date", Value: "Tue, 05 Mar 2024 09:12:44 +0000"},
		}},
		{"inReplyTo", email.InReplyTo, []string{"prev@example.org"}},
		{"references", email.References, []string{"a@x", "prev@example.org"}},
		{"date", email.Date, time.Date(2024, 3, 5, 9, 12, 44, 0, time.UTC)},
		{"receivedAt", email.ReceivedAt, time.Date(2024, 3, 5, 9, 12, 50, 0, time.UTC)},
		{"auth", email.Auth, schemas.Auth{SPF: "softfail", DKIM: "pass", Spam: "ham"}},
		{"raw", email.Raw, (*schemas.BlobRef)(nil)},
		{"envelope", email.Envelope, (*schemas.Envelope)(nil)},
		{"attachments", email.Attachments, []schemas.Attachment{
			{Filename: "orders.csv", ContentType: "text/csv", Size: 25, SHA256: "a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091"},
			{Filename: "logo.png", ContentType: "image/png", Size: 512, ContentID: "logo1", Inline: true},
		}},
		{"warnings", email.Warnings, []string{
			`attachment "orders.csv" not fetched: downloadUrl streaming is not configured`,
			`attachment "logo.png" not fetched: downloadUrl streaming is not configured`,
		}},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.name, c.got, c.want)
		}
	}
	if strings.Contains(fmt.Sprintf("%+v", *email), "files.example.net") {
		t.Errorf("the record contains a downloadUrl: %+v", *email)
	}
}

func TestFromJSONHeaderList(t *testing.T) {
	payload := `{"messageId": "m1", "from": {"address": "ana@example.org"},
		"headers": [{"name": "X-A", "value": "1"}, {"name": "X-A", "value": "2"}, {"name": "Message-ID", "value": "<other@x>"}]}`
	email, err := FromJSON([]byte(payload), "acme", jsonReceivedAt)
	if err != nil {
		t.Fatalf("FromJSON: %v", err)
	}
	want := []schemas.Header{{Name: "X-A", Value: "1"}, {Name: "X-A", Value: "2"}, {Name: "Message-ID", Value: "<other@x>"}}
	if !reflect.DeepEqual(email.Headers, want) {
		t.Errorf("headers = %#v, want %#v", email.Headers, want)
	}
	if email.MessageID != "m1" {
		t.Errorf("messageId = %q, want the field value m1 over the header", email.MessageID)
	}
	if email.From.Name != "" || email.From.Address != "ana@example.org" {
		t.Errorf("from = %#v, want only the address ana@example.org", *email.From)
	}
}

func TestFromJSONDefaultsAndFallbacks(t *testing.T) {
	t.Run("message ID from header", func(t *testing.T) {
		email, err := FromJSON([]byte(`{"headers": {"Message-ID": "<hdr@example.org>"}, "text": "hi"}`), "acme", jsonReceivedAt)
		if err != nil {
			t.Fatal(err)
		}
		if email.MessageID != "hdr@example.org" {
			t.Errorf("messageId = %q, want hdr@example.org", email.MessageID)
		}
	})

	t.Run("message ID synthesized and stable", func(t *testing.T) {
		payload := []byte(`{"from": "ana@example.org", "text": "hi"}`)
		first, err := FromJSON(payload, "acme", jsonReceivedAt)
		if err != nil {
			t.Fatal(err)
		}
		second, err := FromJSON(payload, "acme", jsonReceivedAt.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(first.MessageID, "sha256-") || !strings.HasSuffix(first.MessageID, "@mailtriage.invalid") {
			t.Errorf("messageId = %q, want sha256-<hex>@mailtriage.invalid", first.MessageID)
		}
		if first.MessageID != second.MessageID {
			t.Errorf("the same payload got two IDs: %q and %q", first.MessageID, second.MessageID)
		}
		if len(first.Warnings) != 1 || !strings.Contains(first.Warnings[0], "ID synthesized") {
			t.Errorf("warnings = %q, want one about the synthesized ID", first.Warnings)
		}
	})

	t.Run("receivedAt from the gateway", func(t *testing.T) {
		email, err := FromJSON([]byte(`{"messageId": "m"}`), "acme", jsonReceivedAt)
		if err != nil {
			t.Fatal(err)
		}
		if !email.ReceivedAt.Equal(jsonReceivedAt) {
			t.Errorf("receivedAt = %v, want the gateway time %v", email.ReceivedAt, jsonReceivedAt)
		}
		if email.To == nil || email.Headers == nil || email.Attachments == nil || email.Warnings == nil {
			t.Errorf("empty lists must be [] not nil: %#v", email)
		}
	})

	t.Run("receivedAt as unix seconds", func(t *testing.T) {
		email, err := FromJSON([]byte(`{"messageId": "m", "receivedAt": 1709630000}`), "acme", jsonReceivedAt)
		if err != nil {
			t.Fatal(err)
		}
		if want := time.Unix(1709630000, 0).UTC(); !email.ReceivedAt.Equal(want) {
			t.Errorf("receivedAt = %v, want %v", email.ReceivedAt, want)
		}
	})

	t.Run("text from html", func(t *testing.T) {
		email, err := FromJSON([]byte(`{"messageId": "m", "html": "<p>Hello <b>there</b></p>"}`), "acme", jsonReceivedAt)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(email.Text, "Hello") || !strings.Contains(email.ReplyText, "Hello") {
			t.Errorf("text = %q, replyText = %q, want both derived from the html", email.Text, email.ReplyText)
		}
	})

	t.Run("spam verdict as boolean", func(t *testing.T) {
		email, err := FromJSON([]byte(`{"messageId": "m", "spamVerdict": true}`), "acme", jsonReceivedAt)
		if err != nil {
			t.Fatal(err)
		}
		if email.Auth.Spam != "spam" {
			t.Errorf("spam = %q, want spam", email.Auth.Spam)
		}
	})

	t.Run("unknown verdict kept out with warning", func(t *testing.T) {
		email, err := FromJSON([]byte(`{"messageId": "m", "dkim": "{@x.org : pass}"}`), "acme", jsonReceivedAt)
		if err != nil {
			t.Fatal(err)
		}
		if email.Auth.DKIM != "" {
			t.Errorf("dkim = %q, want empty", email.Auth.DKIM)
		}
		if len(email.Warnings) != 1 || !strings.Contains(email.Warnings[0], "dkim") {
			t.Errorf("warnings = %q, want one naming dkim", email.Warnings)
		}
	})

	t.Run("attachment without downloadUrl", func(t *testing.T) {
		email, err := FromJSON([]byte(`{"messageId": "m", "attachments": [{"size": 3}]}`), "acme", jsonReceivedAt)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{`attachment "attachments[0]" not fetched: the payload has no downloadUrl for it`}
		if !reflect.DeepEqual(email.Warnings, want) {
			t.Errorf("warnings = %q, want %q", email.Warnings, want)
		}
	})
}

func TestFromJSONTruncatesLongText(t *testing.T) {
	long := strings.Repeat("é", MaxTextBytes) // two bytes each
	payload := fmt.Sprintf(`{"messageId": "m", "text": %q}`, long)
	email, err := FromJSON([]byte(payload), "acme", jsonReceivedAt)
	if err != nil {
		t.Fatal(err)
	}
	if len(email.Text) > MaxTextBytes || !utf8.ValidString(email.Text) {
		t.Errorf("text has %d bytes (valid UTF-8: %v), want at most %d", len(email.Text), utf8.ValidString(email.Text), MaxTextBytes)
	}
	if len(email.Warnings) == 0 || !strings.HasPrefix(email.Warnings[0], "text truncated from 524288 to 262144 bytes") {
		t.Errorf("warnings = %q, want the text truncation first", email.Warnings)
	}
}

func TestFromJSONRejectsInvalidPayloads(t *testing.T) {
	cases := []struct {
		name    string
		payload string
		field   string // the FieldError field, or "" for a payload-level error
		wantMsg string
	}{
		{"empty", ``, "", "payload is empty"},
		{"not an object", `["a"]`, "", "not a JSON object"},
		{"syntax", `{"messageId": "m",}`, "", "not valid JSON at byte"},
		{"trailing data", `{"messageId": "m"} {}`, "", "data after the JSON object"},
		{"from not an address", `{"from": "x"}`, "from", `invalid address "x": mail: missing '@' or angle-addr`},
		{"from as array", `{"from": ["a@b.c"]}`, "from", "got an array"},
		{"from object without address", `{"from": {"name": "Ana"}}`, "from", "has no address"},
		{"to item invalid", `{"to": ["a@b.c", {"address": "not an address"}]}`, "to[1]", `invalid address "not an address"`},
		{"to item number", `{"to": ["a@b.c", 7]}`, "to[1]", "got a number"},
		{"cc list invalid", `{"cc": "a@b.c, bob"}`, "cc", "invalid address list"},
		{"subject number", `{"subject": 5}`, "subject", "expected a string, got a number"},
		{"headers string", `{"headers": "X-A: 1"}`, "headers", "got a string"},
		{"header name with colon", `{"headers": {"X:A": "1"}}`, "headers", `invalid header name "X:A"`},
		{"header list item", `{"headers": [{"name": "X-A", "value": "1"}, {"name": "", "value": "2"}]}`, "headers[1]", "empty name"},
		{"header value number", `{"headers": {"X-A": 1}}`, "headers", `header "X-A": expected a string or an array of strings`},
		{"attachments object", `{"attachments": {}}`, "attachments", "expected an array of objects"},
		{"attachment negative size", `{"attachments": [{"size": -1}]}`, "attachments[0].size", "invalid size -1"},
		{"attachment size string", `{"attachments": [{"size": "12"}]}`, "attachments[0].size", "got a string"},
		{"attachment bad sha256", `{"attachments": [{"sha256": "abc"}]}`, "attachments[0].sha256", `invalid SHA-256 "abc"`},
		{"receivedAt text", `{"receivedAt": "yesterday"}`, "receivedAt", `invalid time "yesterday"`},
		{"receivedAt negative", `{"receivedAt": -5}`, "receivedAt", "between 0 and 1e11"},
		{"messageId number", `{"messageId": 12}`, "messageId", "expected a string"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			email, err := FromJSON([]byte(c.payload), "acme", jsonReceivedAt)
			if err == nil {
				t.Fatalf("FromJSON(%s) = %+v, want an error", c.payload, email)
			}
			if !strings.Contains(err.Error(), c.wantMsg) {
				t.Errorf("error %q does not contain %q", err, c.wantMsg)
			}
			var fieldErr *FieldError
			isField := errors.As(err, &fieldErr)
			switch {
			case c.field == "" && isField:
				t.Errorf("error %q names field %q, want a payload-level error", err, fieldErr.Field)
			case c.field != "" && !isField:
				t.Errorf("error %q is not a *FieldError for %q", err, c.field)
			case c.field != "" && fieldErr.Field != c.field:
				t.Errorf("field = %q, want %q", fieldErr.Field, c.field)
			}
			if c.field != "" && !strings.HasPrefix(err.Error(), fmt.Sprintf("field %q: ", c.field)) {
				t.Errorf("error %q does not start with field %q", err, c.field)
			}
		})
	}
}

func TestFromJSONRejectsInvalidTenant(t *testing.T) {
	for _, tenant := range []string{"", "a/b", "a b"} {
		if _, err := FromJSON([]byte(`{"messageId": "m"}`), tenant, jsonReceivedAt); err == nil {
			t.Errorf("tenant %q: want an error", tenant)
		}
	}
}

func FuzzFromJSON(f *testing.F) {
	f.Add([]byte(fullPayload))
	f.Add([]byte(`{"from": {"name": "A", "address": "a@b.c"}, "headers": [{"name": "X", "value": "y"}]}`))
	f.Add([]byte(`{"to": "a@b.c, \"Q, R\" <q@r.s>", "receivedAt": 1.5}`))
	f.Add([]byte(`{"attachments": [{"filename": "a", "size": 1e3}], "spamVerdict": "YES"}`))
	f.Add([]byte(`{}`))

	f.Fuzz(func(t *testing.T, payload []byte) {
		email, err := FromJSON(payload, "acme", jsonReceivedAt)
		if err != nil {
			if email != nil {
				t.Fatalf("FromJSON returned a record and the error %v", err)
			}
			return
		}
		if email.Tenant != "acme" || email.Source != schemas.SourceWebhookJSON {
			t.Fatalf("tenant/source = %q/%q, want acme/%s", email.Tenant, email.Source, schemas.SourceWebhookJSON)
		}
		if email.MessageID == "" {
			t.Fatal("messageId is empty; FromJSON must synthesize one")
		}
		if email.ReceivedAt.IsZero() {
			t.Fatal("receivedAt is zero")
		}
		if len(email.Text) > MaxTextBytes || len(email.HTML) > MaxTextBytes || len(email.ReplyText) > MaxTextBytes {
			t.Fatalf("a body field exceeds MaxTextBytes: %d/%d/%d", len(email.Text), len(email.HTML), len(email.ReplyText))
		}
		for _, a := range email.Attachments {
			if a.StorageKey != "" || a.Size < 0 {
				t.Fatalf("attachment %+v: want no storage key and a size of 0 or more", a)
			}
		}
	})
}
