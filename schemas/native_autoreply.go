package schemas

// autoReplyToNative converts an AutoReply to the native form of
// mailtriage.AutoReply.
func autoReplyToNative(a *AutoReply) map[string]any {
	return map[string]any{
		"eventId":    a.EventID,
		"tenant":     a.Tenant,
		"kind":       a.Kind,
		"ticketRef":  a.TicketRef,
		"queue":      a.Queue,
		"to":         addressToNative(&a.To),
		"subject":    a.Subject,
		"inReplyTo":  a.InReplyTo,
		"references": stringsToNative(a.References),
		"receivedAt": a.ReceivedAt,
		"decidedAt":  a.DecidedAt,
	}
}

// autoReplyFromNative converts a decoded mailtriage.AutoReply back to the
// Go type.
func autoReplyFromNative(r *recordReader) AutoReply {
	return AutoReply{
		EventID:    r.string("eventId"),
		Tenant:     r.string("tenant"),
		Kind:       r.string("kind"),
		TicketRef:  r.string("ticketRef"),
		Queue:      r.string("queue"),
		To:         addressFromNative(r.record("to")),
		Subject:    r.string("subject"),
		InReplyTo:  r.string("inReplyTo"),
		References: r.strings("references"),
		ReceivedAt: r.time("receivedAt"),
		DecidedAt:  r.time("decidedAt"),
	}
}
