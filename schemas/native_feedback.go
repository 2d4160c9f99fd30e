package schemas

// feedbackEventToNative converts a FeedbackEvent to the native form of
// mailtriage.FeedbackEvent.
func feedbackEventToNative(e *FeedbackEvent) map[string]any {
	return map[string]any{
		"eventId":   e.EventID,
		"tenant":    e.Tenant,
		"ticketRef": e.TicketRef,
		"messageId": e.MessageID,
		"actor":     e.Actor,
		"source":    e.Source,
		"at":        e.At,
		"from":      assignmentToNative(&e.From),
		"to":        assignmentToNative(&e.To),
		"reason":    reasonToNative(&e.Reason),
		"subject":   e.Subject,
		"replyText": e.ReplyText,
	}
}

// feedbackEventFromNative converts a decoded mailtriage.FeedbackEvent back
// to the Go type.
func feedbackEventFromNative(r *recordReader) FeedbackEvent {
	return FeedbackEvent{
		EventID:   r.string("eventId"),
		Tenant:    r.string("tenant"),
		TicketRef: r.string("ticketRef"),
		MessageID: r.string("messageId"),
		Actor:     r.string("actor"),
		Source:    r.string("source"),
		At:        r.time("at"),
		From:      assignmentFromNative(r.record("from")),
		To:        assignmentFromNative(r.record("to")),
		Reason:    reasonFromNative(r.record("reason")),
		Subject:   r.string("subject"),
		ReplyText: r.string("replyText"),
	}
}

func assignmentToNative(a *Assignment) map[string]any {
	return map[string]any{
		"queue":    a.Queue,
		"priority": a.Priority,
	}
}

func assignmentFromNative(r *recordReader) Assignment {
	return Assignment{
		Queue:    r.string("queue"),
		Priority: r.string("priority"),
	}
}
