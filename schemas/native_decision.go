package schemas

// decisionEventToNative converts a DecisionEvent to the native form of
// mailtriage.DecisionEvent.
func decisionEventToNative(d *DecisionEvent) map[string]any {
	return map[string]any{
		"eventId":      d.EventID,
		"tenant":       d.Tenant,
		"messageId":    d.MessageID,
		"ticketRef":    d.TicketRef,
		"queue":        d.Queue,
		"priority":     d.Priority,
		"tags":         stringsToNative(d.Tags),
		"reason":       reasonToNative(&d.Reason),
		"duplicate":    d.Duplicate,
		"followUp":     d.FollowUp,
		"pii":          countsToNative(d.PII),
		"source":       d.Source,
		"senderDomain": d.SenderDomain,
		"subject":      d.Subject,
		"attachments":  d.Attachments,
		"warnings":     d.Warnings,
		"receivedAt":   d.ReceivedAt,
		"decidedAt":    d.DecidedAt,
	}
}

// decisionEventFromNative converts a decoded mailtriage.DecisionEvent back
// to the Go type.
func decisionEventFromNative(r *recordReader) DecisionEvent {
	return DecisionEvent{
		EventID:      r.string("eventId"),
		Tenant:       r.string("tenant"),
		MessageID:    r.string("messageId"),
		TicketRef:    r.string("ticketRef"),
		Queue:        r.string("queue"),
		Priority:     r.string("priority"),
		Tags:         r.strings("tags"),
		Reason:       reasonFromNative(r.record("reason")),
		Duplicate:    r.bool("duplicate"),
		FollowUp:     r.bool("followUp"),
		PII:          r.counts("pii"),
		Source:       r.string("source"),
		SenderDomain: r.string("senderDomain"),
		Subject:      r.string("subject"),
		Attachments:  r.int32("attachments"),
		Warnings:     r.int32("warnings"),
		ReceivedAt:   r.time("receivedAt"),
		DecidedAt:    r.time("decidedAt"),
	}
}
