package schemas

// notificationToNative converts a Notification to the native form of
// mailtriage.Notification.
func notificationToNative(n *Notification) map[string]any {
	return map[string]any{
		"eventId":      n.EventID,
		"tenant":       n.Tenant,
		"channel":      n.Channel,
		"ticketRef":    n.TicketRef,
		"queue":        n.Queue,
		"priority":     n.Priority,
		"senderDomain": n.SenderDomain,
		"subject":      n.Subject,
		"excerpt":      n.Excerpt,
		"receivedAt":   n.ReceivedAt,
	}
}

// notificationFromNative converts a decoded mailtriage.Notification back to
// the Go type.
func notificationFromNative(r *recordReader) Notification {
	return Notification{
		EventID:      r.string("eventId"),
		Tenant:       r.string("tenant"),
		Channel:      r.string("channel"),
		TicketRef:    r.string("ticketRef"),
		Queue:        r.string("queue"),
		Priority:     r.string("priority"),
		SenderDomain: r.string("senderDomain"),
		Subject:      r.string("subject"),
		Excerpt:      r.string("excerpt"),
		ReceivedAt:   r.time("receivedAt"),
	}
}
