package mime

import (
	"strings"
	"testing"

	"mailtriage/schemas"
)

// pinnedAttachment is the expected metadata of one attachment. An empty
// SHA256 is not checked.
type pinnedAttachment struct {
	Part, Filename, ContentType string
	Size                        int64
	SHA256, ContentID           string
	Inline                      bool
	TextHas                     string
}

// pinnedMessage is what a corpus message must parse to, found by reading
// the message. Empty strings and nil slices are not checked, except that
// Attachments is always compared (nil means none).
type pinnedMessage struct {
	File        string
	Subject     string
	From        *schemas.Address
	TextHas     []string
	HTMLHas     []string
	Attachments []pinnedAttachment
	WarningHas  []string
	Check       func(t *testing.T, email *schemas.InboundEmail)
}

func TestParsePinnedCorpusMessages(t *testing.T) {
	for _, exp := range pinnedMessages {
		t.Run(exp.File, func(t *testing.T) {
			parsed := parseCorpusFile(t, exp.File)
			email := &parsed.Email

			if exp.Subject != "" && email.Subject != exp.Subject {
				t.Errorf("Subject = %q, expected %q", email.Subject, exp.Subject)
			}
			if exp.From != nil && (email.From == nil || *email.From != *exp.From) {
				t.Errorf("From = %+v, expected %+v", email.From, *exp.From)
			}
			for _, want := range exp.TextHas {
				if !strings.Contains(email.Text, want) {
					t.Errorf("Text does not contain %q; Text = %q", want, truncate(email.Text, 400))
				}
			}
			for _, want := range exp.HTMLHas {
				if !strings.Contains(email.HTML, want) {
					t.Errorf("HTML does not contain %q", want)
				}
			}
			for _, want := range exp.WarningHas {
				if !containsSubstring(email.Warnings, want) {
					t.Errorf("Warnings %q contain no %q", email.Warnings, want)
				}
			}
			checkAttachments(t, email.Attachments, exp.Attachments)
			if exp.Check != nil {
				exp.Check(t, email)
			}
		})
	}
}

func checkAttachments(t *testing.T, got []schemas.Attachment, exp []pinnedAttachment) {
	t.Helper()
	if len(got) != len(exp) {
		t.Fatalf("got %d attachments, expected %d: %+v", len(got), len(exp), got)
	}
	for i, e := range exp {
		g := got[i]
		if g.Part != e.Part || g.Filename != e.Filename || g.ContentType != e.ContentType || g.Size != e.Size {
			t.Errorf("attachment %d = part %q %q %s %d bytes, expected part %q %q %s %d bytes",
				i, g.Part, g.Filename, g.ContentType, g.Size, e.Part, e.Filename, e.ContentType, e.Size)
		}
		if e.SHA256 != "" && g.SHA256 != e.SHA256 {
			t.Errorf("attachment %d sha256 = %s, expected %s", i, g.SHA256, e.SHA256)
		}
		if g.ContentID != e.ContentID {
			t.Errorf("attachment %d content ID = %q, expected %q", i, g.ContentID, e.ContentID)
		}
		if g.Inline != e.Inline {
			t.Errorf("attachment %d inline = %v, expected %v", i, g.Inline, e.Inline)
		}
		if !strings.Contains(g.Text, e.TextHas) {
			t.Errorf("attachment %d text = %q, expected it to contain %q", i, g.Text, e.TextHas)
		}
	}
}

func containsSubstring(items []string, want string) bool {
	for _, item := range items {
		if strings.Contains(item, want) {
			return true
		}
	}
	return false
}

func headerNames(email *schemas.InboundEmail) []string {
	names := make([]string, 0, len(email.Headers))
	for _, h := range email.Headers {
		names = append(names, h.Name)
	}
	return names
}

var pinnedMessages = []pinnedMessage{
	// Charsets in headers and bodies.
	{
		File:    "mikel-mail/multi_charset/japanese_iso_2022.eml",
		Subject: "まみむめも",
		From:    &schemas.Address{Name: "Mikel Lindsaar", Address: "raasdnil@gmail.com"},
		TextHas: []string{"すみません。"},
	},
	{
		File:    "mikel-mail/multi_charset/japanese_shift_jis.eml",
		Subject: "test",
		TextHas: []string{"あいうえお", "このメールはテスト用のメールです。"},
	},
	{
		File:    "mikel-mail/multi_charset/ks_c_5601-1987.eml",
		Subject: "test",
		TextHas: []string{"스티해"},
	},
	{
		File:    "mikel-mail/plain_emails/raw_email.eml",
		Subject: "NOTE: 한국말로 하는 것",
		From:    &schemas.Address{Name: "Jamis Buck", Address: "jamis@37signals.com"},
	},
	{
		File:    "mikel-mail/plain_emails/raw_email_bad_time.eml",
		From:    &schemas.Address{Name: "Атиковa", Address: "yusuf75thu@auracom.net"},
		TextHas: []string{"Filter2: This message has been scanned for viruses"},
	},
	{
		File:    "php-mime-mail-parser/issue116",
		Subject: "ЖД№41 от 28.09.2016",
		TextHas: []string{"toto"},
	},
	{
		File:    "php-mime-mail-parser/issue212",
		Subject: "Automatyczna odpowiedź: Piotrze, test z 6 miesięcy nauki ciągle na Ciebie czeka",
	},
	{
		File:        "php-mime-mail-parser/issue149",
		Subject:     "מענה 'אני לא נמצא': Invoice 02722027",
		Attachments: []pinnedAttachment{{Part: "2", Filename: "attach01", ContentType: "application/octet-stream", Size: 2}},
	},
	{
		File:    "mimekit/messages/japanese.txt",
		Subject: "日本語メールテスト (testing Japanese emails)",
		From:    &schemas.Address{Name: "Atsushi Eno", Address: "x@x.com"},
	},
	{
		File:    "mikel-mail/rfc2822/example14.eml",
		Subject: "Re: TEST  テストテスト",
		From:    &schemas.Address{Name: "Atsushi Yoshida", Address: "atsushi@example.com"},
	},
	{
		File:       "enmime/parts/chardet-success-big-5.raw",
		TextHas:    []string{"顏是家訓  北齊  顏之推", "音辭第十八"},
		WarningHas: []string{"decoded as big5"},
	},
	{
		File:    "mimekit/tnef/ukr.eml",
		Subject: "rr test 7",
		TextHas: []string{"шостий"},
		Attachments: []pinnedAttachment{{Part: "2", Filename: "winmail.dat", ContentType: "application/ms-tnef", Size: 9566,
			SHA256: "880bde64ee294e0670d4ef770c6b2e8a126df535ef0ed573292254383fb51ec3"}},
	},
	{
		File:       "php-mime-mail-parser/issue230",
		From:       &schemas.Address{Name: "Science and Education Foundation, Bulgaria", Address: "science@news-s.info"},
		WarningHas: []string{"text declared as x-mac-cyrillic is valid UTF-8"},
	},
	{
		File:    "mikel-mail/rfc6532/utf8_headers.eml",
		Subject: "Säying Hello",
		From:    &schemas.Address{Name: "Jöhn Doe", Address: "jdöe@mächine.example"},
	},
	{
		File:    "mikel-mail/error_emails/bad_encoded_subject.eml",
		Subject: "TEST",
	},

	// Encoded and continued filenames.
	{
		File: "mikel-mail/multi_charset/japanese_attachment.eml",
		Attachments: []pinnedAttachment{{Part: "2", Filename: "てすと.txt", ContentType: "text/plain", Size: 33,
			SHA256: "be049d6d281305a555065a8200d0d0c551b283a89abfbd4c6a5c78b18fbcc927"}},
	},
	{
		File:        "mikel-mail/multi_charset/japanese_attachment_long_name.eml",
		Attachments: []pinnedAttachment{{Part: "1", Filename: "かきくけこかきくけこかきくけこかきくけこかきくけこ.txt", ContentType: "text/plain", Size: 18}},
	},
	{
		File:        "mikel-mail/attachment_emails/attachment_nonascii_filename.eml",
		Attachments: []pinnedAttachment{{Part: "2", Filename: "ciële.txt", ContentType: "text/plain", Size: 11}},
	},
	{
		File:        "mikel-mail/attachment_emails/attachment_with_base64_encoded_name.eml",
		Attachments: []pinnedAttachment{{Part: "2", Filename: "This is a test.pdf", ContentType: "application/pdf", Size: 399}},
	},
	{
		// name*=iso-2022-jp'ja'01%20Quien%20Te%20Dij%8aat... : the %8a byte
		// is not valid ISO-2022-JP and becomes U+FFFD.
		File:        "mikel-mail/attachment_emails/attachment_with_encoded_name.eml",
		Attachments: []pinnedAttachment{{Part: "2", Filename: "01 Quien Te Dij\uFFFDat. Pitbull.mp3", ContentType: "application/octet-stream", Size: 399}},
	},
	{
		File:        "enmime/mail/mime-bad-8bit-filename.raw",
		Attachments: []pinnedAttachment{{Part: "2", Filename: "管理.doc", ContentType: "application/msword", Size: 7}},
	},
	{
		File: "php-mime-mail-parser/issue274.eml",
		Attachments: []pinnedAttachment{
			{Part: "2", Filename: "Hello from SwiftMailer.docx", ContentType: "application/vnd.openxmlformats-officedocument.wordprocessingml.document", Size: 11911},
			{Part: "3", Filename: "Hello from SwiftMailer.pdf", ContentType: "application/pdf", Size: 12798},
			{Part: "4", Filename: "Hello from SwiftMailer.odt", ContentType: "application/vnd.oasis.opendocument.text", Size: 9720},
			{Part: "5", Filename: "Cours-Tutoriels-Serge-Tahé-1568x268.png", ContentType: "image/png", Size: 42264},
			{Part: "6", Filename: "test-localhost.eml", ContentType: "message/rfc822", Size: 107190},
		},
	},

	// Inline images with content IDs.
	{
		File:    "enmime/mail/html-mime-inline.raw",
		Subject: "MIME test 1",
		HTMLHas: []string{"cid:8B8481A2-25CA-4886-9B5A-8EB9115DD064@skynet"},
		Attachments: []pinnedAttachment{{Part: "2.2", Filename: "favicon.png", ContentType: "image/png", Size: 687,
			SHA256:    "b2da38772091039c7ad57eda8c1c99f50b714f7eff56335c56ad5c2af44082bd",
			ContentID: "8B8481A2-25CA-4886-9B5A-8EB9115DD064@skynet", Inline: true}},
	},
	{
		File: "php-mime-mail-parser/issue115",
		Attachments: []pinnedAttachment{
			{Part: "1.2", Filename: "logo.jpg", ContentType: "image/gif", Size: 2695, ContentID: "same1", Inline: true,
				SHA256: "0678808ad4ccd1f149e2f094e06c5e7c47548c6036d81b84bfce4b0f715cfb5d"},
			{Part: "1.3", Filename: "background.jpg", ContentType: "image/gif", Size: 18255, ContentID: "same1", Inline: true,
				SHA256: "972641cf4ae73668b7ecb99b67bb369f9eacf6ebe17afcbed63238816c13ff64"},
			{Part: "2", Filename: "attachment.txt", ContentType: "text/plain", Size: 2229,
				SHA256: "01cd8c74b53a251af94a6d865dc80a48c221f6bed334128d99ca5572238fbbf9"},
		},
	},

	// Broken structure.
	{
		File:       "enmime/parts/badboundary.raw",
		TextHas:    []string{"A text section"},
		HTMLHas:    []string{"An HTML section"},
		WarningHas: []string{"was not closed correctly"},
	},
	{
		File:       "mikel-mail/mime_emails/raw_email_with_illegal_boundary.eml",
		Subject:    "Testing outlook",
		TextHas:    []string{"This is an outlook test"},
		HTMLHas:    []string{"<STRONG>This is an outlook"},
		WarningHas: []string{`leading mbox "From " line removed`},
		Check: func(t *testing.T, email *schemas.InboundEmail) {
			received := 0
			for _, h := range email.Headers {
				if h.Name == "Received" {
					received++
				}
			}
			if received != 3 {
				t.Errorf("got %d Received headers, expected 3", received)
			}
			if names := headerNames(email); names[0] != "Return-Path" || names[1] != "Received" || names[4] != "Date" {
				t.Errorf("header order = %q, expected Return-Path, Received x3, Date first", names[:5])
			}
		},
	},
	{
		File:    "mikel-mail/mime_emails/raw_email_with_quoted_illegal_boundary.eml",
		TextHas: []string{"This is an outlook test"},
		HTMLHas: []string{"<STRONG>This is an outlook"},
	},
	{
		File:        "mikel-mail/mime_emails/raw_email_with_multipart_mixed_quoted_boundary.eml",
		TextHas:     []string{"Just attaching another PDF"},
		Attachments: []pinnedAttachment{{Part: "2", Filename: "broken.pdf", ContentType: "application/pdf", Size: 1026}},
		Check: func(t *testing.T, email *schemas.InboundEmail) {
			if email.Subject != "Testing outlook" {
				t.Errorf("Subject = %q, expected the first of the two Subject fields", email.Subject)
			}
			subjects := 0
			for _, h := range email.Headers {
				if h.Name == "Subject" {
					subjects++
				}
			}
			if subjects != 2 {
				t.Errorf("got %d Subject headers, expected both kept", subjects)
			}
		},
	},
	{
		File:       "enmime/mail/multipart-wo-boundary.raw",
		Subject:    "Delivery Status Notification (Failure)",
		TextHas:    []string{"I'm  multipart message without boundary"},
		WarningHas: []string{"multipart/report has no delimiter line"},
	},
	{
		File:       "enmime/parts/multi-malformed.raw",
		TextHas:    []string{"Section one\n\nI'm section without headers\n\nSection two"},
		WarningHas: []string{"had no header block"},
	},
	{
		File:       "enmime/mail/qp-utf8-header-no-break.raw",
		Subject:    "MIME UTF8 Test ¢ More Text",
		TextHas:    []string{"Lorem ipsum dolor sit amet"},
		HTMLHas:    []string{"Lorem ipsum dolor sit amet"},
		WarningHas: []string{"no blank line between header and body"},
	},
	{
		File:       "mikel-mail/mime_emails/raw_email_with_binary_encoded.eml",
		Subject:    "Testing outlook",
		WarningHas: []string{`leading mbox "From " line removed`},
		Attachments: []pinnedAttachment{{Part: "1", Filename: "2013-08-13_19-08-28-1.jpg", ContentType: "image/jpeg", Size: 24,
			SHA256: "60531ecc28239c0b332a74a4b6682fd69e15450c5128090ee0e5c443c155f5ff"}},
	},
	{
		File:        "php-mime-mail-parser/issue163",
		Subject:     "Multiple text blocks",
		TextHas:     []string{"First we have a text block, then we insert an image:\n\n", "Then we have more text"},
		Attachments: []pinnedAttachment{{Part: "2", Filename: "image1.jpeg", ContentType: "image/jpeg", Size: 37211, Inline: true}},
	},
	{
		File:    "mikel-mail/mime_emails/raw_email_with_mimepart_without_content_type.eml",
		TextHas: []string{"THIS IS A WARNING MESSAGE ONLY", "The original message was received at Thu, 19 Oct 2006"},
		Attachments: []pinnedAttachment{
			{Part: "2", ContentType: "message/delivery-status", Size: 322},
			{Part: "3", ContentType: "message/rfc822", Size: 1548, TextHas: ""},
		},
	},

	// TNEF and attached messages.
	{
		File:    "mimekit/tnef/rich-text.eml",
		Subject: "Rich Text",
		Attachments: []pinnedAttachment{{Part: "2", Filename: "winmail.dat", ContentType: "application/ms-tnef", Size: 821421,
			SHA256: "ee87ed34b7b4df2b2998febe65753e733edea8f7b2ced03d4afec765f74046f8"}},
	},
	{
		File:    "mimekit/messages/simple-embedded-message.eml",
		TextHas: []string{"This is the message body."},
		Attachments: []pinnedAttachment{{Part: "2", ContentType: "message/rfc822", Size: 208,
			TextHas: "This is the embedded message body."}},
	},
	{
		File:    "mikel-mail/attachment_emails/attachment_message_rfc822.eml",
		TextHas: []string{"This is the first part."},
		Attachments: []pinnedAttachment{{Part: "2", Filename: "ForwardedMessage.eml", ContentType: "message/rfc822", Size: 3781,
			TextHas: "Just attaching another PDF, here, to see what the message looks like"}},
	},

	// Threading, addresses and verdicts.
	{
		File: "mikel-mail/plain_emails/raw_email_reply.eml",
		Check: func(t *testing.T, email *schemas.InboundEmail) {
			parent := "348F04F142D69C21-291E56D292BC@xxxx.net"
			if len(email.InReplyTo) != 1 || email.InReplyTo[0] != parent {
				t.Errorf("InReplyTo = %q, expected [%s]", email.InReplyTo, parent)
			}
			if len(email.References) != 2 || email.References[0] != "473FF3B8.9020707@xxx.org" || email.References[1] != parent {
				t.Errorf("References = %q, expected [473FF3B8.9020707@xxx.org %s]", email.References, parent)
			}
		},
	},
	{
		File: "mikel-mail/rfc2822/example03.eml",
		From: &schemas.Address{Name: "Joe Q. Public", Address: "john.q.public@example.com"},
		Check: func(t *testing.T, email *schemas.InboundEmail) {
			if len(email.To) != 3 || email.To[0].Name != "Mary Smith" || email.To[2].Name != "Who?" {
				t.Errorf("To = %+v, expected Mary Smith, jdoe, Who?", email.To)
			}
			if len(email.Cc) != 2 || email.Cc[1].Name != "Giant; \"Big\" Box" {
				t.Errorf("Cc = %+v, expected boss and Giant; \"Big\" Box", email.Cc)
			}
		},
	},
	{
		File: "mikel-mail/error_emails/encoding_madness.eml",
		Check: func(t *testing.T, email *schemas.InboundEmail) {
			if email.Auth.SPF != "neutral" {
				t.Errorf("Auth.SPF = %q, expected neutral", email.Auth.SPF)
			}
		},
	},
	{
		File: "mikel-mail/multipart_report_emails/report_422.eml",
		Attachments: []pinnedAttachment{
			{Part: "2", ContentType: "message/delivery-status", Size: 337},
			{Part: "3", ContentType: "text/rfc822-headers", Size: 686},
		},
		Check: func(t *testing.T, email *schemas.InboundEmail) {
			if email.Auth.Spam != "ham" {
				t.Errorf("Auth.Spam = %q, expected ham from X-Spam-Status: No", email.Auth.Spam)
			}
		},
	},
	{
		File:       "mikel-mail/error_emails/bad_date_header.eml",
		WarningHas: []string{"Date header", "could not be parsed"},
		Check: func(t *testing.T, email *schemas.InboundEmail) {
			if !email.Date.IsZero() {
				t.Errorf("Date = %v, expected zero for an unparsable Date", email.Date)
			}
		},
	},
}
