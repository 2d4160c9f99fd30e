package mime

import (
	"reflect"
	"testing"
	"time"

	"mailtriage/schemas"
)

func TestParseMessageIDs(t *testing.T) {
	cases := map[string][]string{
		"<a@x><b@y>":            {"a@x", "b@y"},
		"<a@x> <b@y>\t<c@z>":    {"a@x", "b@y", "c@z"},
		"a@x":                   {"a@x"},
		"<a@x> (comment) <b@y>": {"a@x", "b@y"},
		"":                      nil,
	}
	for value, exp := range cases {
		if got := parseMessageIDs(value); !reflect.DeepEqual(got, exp) {
			t.Errorf("parseMessageIDs(%q) = %q, expected %q", value, got, exp)
		}
	}
}

func TestReferencesWithoutSpaces(t *testing.T) {
	email := mustParse(t, "References: <first@x><second@y>\nIn-Reply-To: <second@y>\n\nb\n")

	if !reflect.DeepEqual(email.References, []string{"first@x", "second@y"}) {
		t.Errorf("References = %q, expected [first@x second@y]", email.References)
	}
	if !reflect.DeepEqual(email.InReplyTo, []string{"second@y"}) {
		t.Errorf("InReplyTo = %q, expected [second@y]", email.InReplyTo)
	}
}

func TestDecodeHeaderValue(t *testing.T) {
	cases := map[string]string{
		"=?ISO-2022-JP?B?GyRCJF4kXyRgJGEkYhsoQg==?=": "まみむめも",
		"=?koi8-r?B?8NLJ18XU?=":                      "Привет",
		"=?windows-1251?B?z/Do4uXy?=":                "Привет",
		"=?gb2312?B?xOO6ww==?=":                      "你好",
		"=?big5?B?p0Gmbg==?=":                        "你好",
		"=?utf-8?Q?a?= =?utf-8?Q?b?=":                "ab",
		"=?utf-8?Q?two words?=":                      "two words",
		"plain =?iso-8859-1?Q?caf=E9?= text":         "plain café text",
		"=?windows-1252?Q?=93quoted=94?=":            "\u201cquoted\u201d",
		"caf\xe9":                                    "café",
		"=?unknown-charset?Q?abc?=":                  "abc",
	}
	for value, exp := range cases {
		if got := decodeHeaderValue(value); got != exp {
			t.Errorf("decodeHeaderValue(%q) = %q, expected %q", value, got, exp)
		}
	}
}

func TestHeadersKeepOrderAndRepeats(t *testing.T) {
	email := mustParse(t, "Received: one\nSubject: =?utf-8?Q?caf=C3=A9?=\nReceived: two\n\tfolded\nX-Tag: a\nX-Tag: b\n\nbody\n")

	exp := []schemas.Header{
		{Name: "Received", Value: "one"},
		{Name: "Subject", Value: "café"},
		{Name: "Received", Value: "two folded"},
		{Name: "X-Tag", Value: "a"},
		{Name: "X-Tag", Value: "b"},
	}
	if !reflect.DeepEqual(email.Headers, exp) {
		t.Errorf("Headers = %+v, expected %+v", email.Headers, exp)
	}
}

func TestAddressListsWithCommasAndEncodedWords(t *testing.T) {
	email := mustParse(t, "From: \"Doe, John\" <john@example.com>\n"+
		"To: =?utf-8?Q?M=C3=BCller=2C_Hans?= <hans@example.de>, \"Smith, Ann\" <ann@example.com>, bare@example.org\n"+
		"Cc: =?koi8-r?B?8NLJ18XU?= <p@example.ru>\n"+
		"Reply-To: Support Team <support@example.com>\n\nb\n")

	if email.From == nil || *email.From != (schemas.Address{Name: "Doe, John", Address: "john@example.com"}) {
		t.Errorf("From = %+v, expected Doe, John", email.From)
	}
	expTo := []schemas.Address{
		{Name: "Müller, Hans", Address: "hans@example.de"},
		{Name: "Smith, Ann", Address: "ann@example.com"},
		{Name: "", Address: "bare@example.org"},
	}
	if !reflect.DeepEqual(email.To, expTo) {
		t.Errorf("To = %+v, expected %+v", email.To, expTo)
	}
	if len(email.Cc) != 1 || email.Cc[0].Name != "Привет" {
		t.Errorf("Cc = %+v, expected the KOI8-R name decoded", email.Cc)
	}
	if len(email.ReplyTo) != 1 || email.ReplyTo[0].Address != "support@example.com" {
		t.Errorf("ReplyTo = %+v, expected support@example.com", email.ReplyTo)
	}
}

func TestAddressListLenientFallback(t *testing.T) {
	got, warning := parseAddressList(`Bob Example bob@example.com, "Eve" <eve@example.com>, broken <>`)

	if warning == "" {
		t.Error("no warning, expected one for an invalid list")
	}
	if len(got) < 2 || got[0].Address != "bob@example.com" || got[0].Name != "Bob Example" || got[1].Address != "eve@example.com" {
		t.Errorf("parseAddressList = %+v, expected Bob Example <bob@example.com> and Eve <eve@example.com> first", got)
	}
}

func TestDateHeader(t *testing.T) {
	email := mustParse(t, "Date: Tue, 1 Jul 2003 10:52:37 +0200\n\nb\n")
	exp := time.Date(2003, 7, 1, 8, 52, 37, 0, time.UTC)
	if !email.Date.Equal(exp) {
		t.Errorf("Date = %v, expected %v", email.Date, exp)
	}

	bad := mustParse(t, "Date: someday soon\n\nb\n")
	if !bad.Date.IsZero() {
		t.Errorf("Date = %v, expected zero for an unparsable value", bad.Date)
	}
	expectWarning(t, bad, "could not be parsed")
}

func TestAuthVerdicts(t *testing.T) {
	email := mustParse(t, "Authentication-Results: mx.example.com;\n spf=pass smtp.mailfrom=x.com;\n dkim=fail header.d=x.com;\n dmarc=PASS\n"+
		"Authentication-Results: upstream.example; spf=fail\nX-Spam-Flag: YES\n\nb\n")

	exp := schemas.Auth{SPF: "pass", DKIM: "fail", DMARC: "pass", Spam: "spam"}
	if email.Auth != exp {
		t.Errorf("Auth = %+v, expected %+v", email.Auth, exp)
	}

	status := mustParse(t, "Received-SPF: softfail (domain does not designate)\nX-Spam-Status: No, score=-1.0\n\nb\n")
	if status.Auth.SPF != "softfail" || status.Auth.Spam != "ham" {
		t.Errorf("Auth = %+v, expected spf softfail from Received-SPF and spam ham", status.Auth)
	}
}

func TestRFC2231FilenameContinuation(t *testing.T) {
	email := mustParse(t, "Content-Type: multipart/mixed; boundary=b\n\n"+
		"--b\nContent-Type: application/pdf\nContent-Disposition: attachment;\n"+
		" filename*0*=utf-8''%E6%97%A5%E6%9C%AC;\n filename*1*=%E8%AA%9E;\n filename*2=\".pdf\"\n\n%PDF\n"+
		"--b\nContent-Type: text/plain; name*=koi8-r''%F0%D2%C9%D7%C5%D4.txt\nContent-Disposition: attachment\n\nx\n--b--\n")

	expectAttachmentNames(t, email, "日本語.pdf", "Привет.txt")
}

func TestAttachmentMetadata(t *testing.T) {
	parsed, err := Parse([]byte("Content-Type: multipart/related; boundary=b\n\n"+
		"--b\nContent-Type: text/html\n\n<img src=\"cid:logo@x\">\n"+
		"--b\nContent-Type: IMAGE/PNG; name=\"logo.png\"\nContent-ID: <logo@x>\nContent-Transfer-Encoding: base64\n\naGVsbG8=\n--b--\n"), Options{})
	if err != nil {
		t.Fatalf("Parse error: %v", err)
	}

	exp := schemas.Attachment{
		Filename: "logo.png", ContentType: "image/png", Size: 5, ContentID: "logo@x", Inline: true,
		SHA256: "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824", Part: "2",
	}
	if len(parsed.Email.Attachments) != 1 || parsed.Email.Attachments[0] != exp {
		t.Errorf("Attachments = %+v, expected [%+v]", parsed.Email.Attachments, exp)
	}
	if string(parsed.Parts[0]) != "hello" {
		t.Errorf("Parts[0] = %q, expected the decoded bytes hello", parsed.Parts[0])
	}
}
