package schemas

// outboundMessageToNative converts an OutboundMessage to the native form
// of mailtriage.OutboundMessage.
func outboundMessageToNative(m *OutboundMessage) map[string]any {
	return map[string]any{
		"eventId":    m.EventID,
		"tenant":     m.Tenant,
		"kind":       m.Kind,
		"ticketRef":  m.TicketRef,
		"messageId":  m.MessageID,
		"to":         addressToNative(&m.To),
		"subject":    m.Subject,
		"text":       m.Text,
		"html":       m.HTML,
		"inReplyTo":  m.InReplyTo,
		"references": stringsToNative(m.References),
		"actor":      m.Actor,
		"createdAt":  m.CreatedAt,
	}
}

// outboundMessageFromNative converts a decoded mailtriage.OutboundMessage
// back to the Go type.
func outboundMessageFromNative(r *recordReader) OutboundMessage {
	return OutboundMessage{
		EventID:    r.string("eventId"),
		Tenant:     r.string("tenant"),
		Kind:       r.string("kind"),
		TicketRef:  r.string("ticketRef"),
		MessageID:  r.string("messageId"),
		To:         addressFromNative(r.record("to")),
		Subject:    r.string("subject"),
		Text:       r.string("text"),
		HTML:       r.string("html"),
		InReplyTo:  r.string("inReplyTo"),
		References: r.strings("references"),
		Actor:      r.string("actor"),
		CreatedAt:  r.time("createdAt"),
	}
}
