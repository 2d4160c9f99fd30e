package schemas

import "time"

// Values with every field populated, including non-ASCII text, for the
// round-trip and header tests. Times carry sub-millisecond digits and a
// non-UTC zone on purpose, so the tests see the millisecond truncation and
// the conversion to UTC.

var (
	fixtureZone       = time.FixedZone("CEST", 2*60*60)
	fixtureReceivedAt = time.Date(2025, time.March, 14, 9, 26, 53, 589_793_238, fixtureZone)
	fixtureDate       = time.Date(2025, time.March, 14, 9, 20, 1, 123_000_000, time.UTC)
	fixtureDecidedAt  = time.Date(2025, time.March, 14, 9, 26, 54, 1_000_000, time.UTC)
)

func fullInboundEmail() InboundEmail {
	return InboundEmail{
		Tenant:     "acme",
		MessageID:  "CAF=ü7x@mail.example.com",
		ThreadID:   "thread-42",
		Source:     SourceSMTP,
		ReceivedAt: fixtureReceivedAt,
		Date:       fixtureDate,
		Envelope: &Envelope{
			MailFrom:   "bounce+123@lists.example.org",
			RcptTo:     []string{"support@acme.test", "billing@acme.test"},
			Helo:       "mx1.example.org",
			RemoteAddr: "192.0.2.10:52344",
			TLS:        true,
		},
		From:      &Address{Name: "Zoë Ångström", Address: "zoe@example.org"},
		To:        []Address{{Name: "Support", Address: "support@acme.test"}, {Name: "", Address: "billing@acme.test"}},
		Cc:        []Address{{Name: "田中 太郎", Address: "tanaka@example.jp"}},
		ReplyTo:   []Address{{Name: "Zoë (home)", Address: "zoe@home.example"}},
		Subject:   "Réclamation: facture n° 2025-03 ✉",
		Text:      "Bonjour,\nma facture est fausse. 😞\n\n> ancien message\n-- \nZoë",
		HTML:      "<p>Bonjour,</p><p>ma facture est fausse. 😞</p>",
		ReplyText: "Bonjour,\nma facture est fausse. 😞",
		Headers: []Header{
			{Name: "Received", Value: "from mx1.example.org by mx.acme.test"},
			{Name: "Received", Value: "from client by mx1.example.org"},
			{Name: "Subject", Value: "Réclamation: facture n° 2025-03 ✉"},
		},
		InReplyTo:  []string{"prev-1@example.org"},
		References: []string{"root@example.org", "prev-1@example.org"},
		Attachments: []Attachment{
			{
				Filename:    "facture_été.pdf",
				ContentType: "application/pdf",
				Size:        48213,
				ContentID:   "",
				Inline:      false,
				SHA256:      "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
				StorageKey:  "acme/att/9f86d081",
				Part:        "2",
				Text:        "",
				DownloadURL: "https://files.example.net/acme/att/9f86d081?X-Amz-Expires=3600",
			},
			{
				Filename:    "",
				ContentType: "message/rfc822",
				Size:        1200,
				ContentID:   "fwd.1@example.org",
				Inline:      true,
				SHA256:      "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
				StorageKey:  "",
				Part:        "3.1",
				Text:        "Texte du message transféré",
			},
		},
		Auth:     Auth{SPF: "pass", DKIM: "fail", DMARC: "none", Spam: "ham"},
		Raw:      &BlobRef{Key: "acme/raw/abc", SHA256: "fcde2b2edba56bf408601fb721fe9b5c338d10ee429ea04fae5511b68fbf8fb9", Size: 51234},
		Warnings: []string{"invalid charset \"x-unknown\" in part 2", "bare LF line endings"},
		PII:      map[string]int32{"email": 3, "iban": 1, "téléphone": 2},
	}
}

func fullReason() Reason {
	return Reason{
		Kind:           ReasonModel,
		RuleID:         "billing-keywords",
		RulesetVersion: "2025-03-01",
		ModelVersion:   "nb-7",
		TopLabels: []LabelScore{
			{Label: "billing", Probability: 0.8125},
			{Label: "réclamation", Probability: 0.1},
			{Label: "other", Probability: 1e-9},
		},
		Threshold: 0.6,
		Detail:    "model confidence 0.81 ≥ 0.60",
	}
}

func fullTicketCommand() TicketCommand {
	return TicketCommand{
		EventID:         "evt-7f3a",
		Tenant:          "acme",
		Action:          "append",
		TicketRef:       "T-1024",
		MessageID:       "CAF=ü7x@mail.example.com",
		Queue:           "billing",
		Priority:        "high",
		Tags:            []string{"invoice", "fr", "réclamation"},
		Requester:       Address{Name: "Zoë Ångström", Address: "zoe@example.org"},
		Recipients:      []Address{{Name: "Support", Address: "support@acme.test"}, {Name: "田中 太郎", Address: "tanaka@example.jp"}},
		Subject:         "Réclamation: facture n° [REDACTED]",
		Text:            "Mon IBAN est [IBAN] 😞",
		ReplyText:       "Mon IBAN est [IBAN]",
		InReplyTo:       []string{"prev-1@example.org", "prev-0@example.org"},
		Attachments:     fullInboundEmail().Attachments,
		Raw:             &BlobRef{Key: "acme/raw/abc", SHA256: "fcde2b2e", Size: 51234},
		ReceivedAt:      fixtureReceivedAt,
		Reason:          fullReason(),
		SkipAutoReply:   true,
		LinkedTicketRef: "T-1BCDEFGH23",
	}
}

func fullNotification() Notification {
	return Notification{
		EventID:      "evt-7f3a-slack",
		Tenant:       "acme",
		Channel:      "slack",
		TicketRef:    "T-1024",
		Queue:        "billing",
		Priority:     "urgent",
		SenderDomain: "example.org",
		Subject:      "Réclamation: facture n° [REDACTED]",
		Excerpt:      "Bonjour, ma facture est fausse. 😞 Merci de…",
		ReceivedAt:   fixtureReceivedAt,
	}
}

func fullDecisionEvent() DecisionEvent {
	return DecisionEvent{
		EventID:      "evt-7f3a",
		Tenant:       "acme",
		MessageID:    "CAF=ü7x@mail.example.com",
		TicketRef:    "T-1024",
		Queue:        "billing",
		Priority:     "normal",
		Tags:         []string{"invoice", "fr"},
		Reason:       fullReason(),
		Duplicate:    true,
		FollowUp:     true,
		PII:          map[string]int32{"email": 3, "téléphone": 2},
		Source:       SourceWebhookJSON,
		SenderDomain: "example.org",
		Subject:      "Réclamation: facture n° [REDACTED]",
		Attachments:  2,
		Warnings:     -1,
		ReceivedAt:   fixtureReceivedAt,
		DecidedAt:    fixtureDecidedAt,
	}
}

func fullDeadLetter() DeadLetter {
	return DeadLetter{
		EventID:         "dlq-91c2",
		Tenant:          "acme",
		Stage:           "classify",
		Error:           "model nb-7: feature vector has 0 terms; retrain or fix the tokenizer",
		SourceTopic:     "mailtriage.inbound.v1",
		SourcePartition: 7,
		SourceOffset:    1<<40 + 3,
		Attempts:        3,
		TraceID:         "4bf92f3577b34da6a3ce929d0e0e4736",
		FailedAt:        fixtureDecidedAt,
		Key:             []byte("acme/CAF=ü7x@mail.example.com"),
		Payload:         []byte{0xC3, 0x01, 0x00, 0xFF, 0x80, 0x7F},
		Raw:             &BlobRef{Key: "acme/raw/abc", SHA256: "fcde2b2e", Size: 51234},
	}
}
