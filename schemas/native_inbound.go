package schemas

// inboundEmailToNative converts an InboundEmail to the native form of
// mailtriage.InboundEmail.
func inboundEmailToNative(e *InboundEmail) map[string]any {
	return map[string]any{
		"tenant":      e.Tenant,
		"messageId":   e.MessageID,
		"threadId":    e.ThreadID,
		"source":      e.Source,
		"receivedAt":  e.ReceivedAt,
		"date":        optionalTimeToNative(e.Date),
		"envelope":    optionalEnvelopeToNative(e.Envelope),
		"from":        optionalAddressToNative(e.From),
		"to":          recordsToNative(e.To, addressToNative),
		"cc":          recordsToNative(e.Cc, addressToNative),
		"replyTo":     recordsToNative(e.ReplyTo, addressToNative),
		"subject":     e.Subject,
		"text":        e.Text,
		"html":        e.HTML,
		"replyText":   e.ReplyText,
		"headers":     recordsToNative(e.Headers, headerToNative),
		"inReplyTo":   stringsToNative(e.InReplyTo),
		"references":  stringsToNative(e.References),
		"attachments": recordsToNative(e.Attachments, attachmentToNative),
		"auth":        authToNative(&e.Auth),
		"raw":         optionalBlobRefToNative(e.Raw),
		"warnings":    stringsToNative(e.Warnings),
		"pii":         countsToNative(e.PII),
	}
}

// inboundEmailFromNative converts a decoded mailtriage.InboundEmail back to
// the Go type.
func inboundEmailFromNative(r *recordReader) InboundEmail {
	return InboundEmail{
		Tenant:      r.string("tenant"),
		MessageID:   r.string("messageId"),
		ThreadID:    r.string("threadId"),
		Source:      r.string("source"),
		ReceivedAt:  r.time("receivedAt"),
		Date:        r.optionalTime("date"),
		Envelope:    optionalEnvelopeFromNative(r.optionalRecord("envelope", unionEnvelope)),
		From:        optionalAddressFromNative(r.optionalRecord("from", unionAddress)),
		To:          recordsFromNative(r.records("to"), addressFromNative),
		Cc:          recordsFromNative(r.records("cc"), addressFromNative),
		ReplyTo:     recordsFromNative(r.records("replyTo"), addressFromNative),
		Subject:     r.string("subject"),
		Text:        r.string("text"),
		HTML:        r.string("html"),
		ReplyText:   r.string("replyText"),
		Headers:     recordsFromNative(r.records("headers"), headerFromNative),
		InReplyTo:   r.strings("inReplyTo"),
		References:  r.strings("references"),
		Attachments: recordsFromNative(r.records("attachments"), attachmentFromNative),
		Auth:        authFromNative(r.record("auth")),
		Raw:         optionalBlobRefFromNative(r.optionalRecord("raw", unionBlobRef)),
		Warnings:    r.strings("warnings"),
		PII:         r.counts("pii"),
	}
}
