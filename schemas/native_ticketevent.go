package schemas

// ticketEventToNative converts a TicketEvent to the native form of
// mailtriage.TicketEvent.
func ticketEventToNative(e *TicketEvent) map[string]any {
	return map[string]any{
		"eventId":   e.EventID,
		"tenant":    e.Tenant,
		"ticketRef": e.TicketRef,
		"kind":      e.Kind,
		"status":    e.Status,
		"actorKind": e.ActorKind,
		"at":        e.At,
	}
}

// ticketEventFromNative converts a decoded mailtriage.TicketEvent back to
// the Go type.
func ticketEventFromNative(r *recordReader) TicketEvent {
	return TicketEvent{
		EventID:   r.string("eventId"),
		Tenant:    r.string("tenant"),
		TicketRef: r.string("ticketRef"),
		Kind:      r.string("kind"),
		Status:    r.string("status"),
		ActorKind: r.string("actorKind"),
		At:        r.time("at"),
	}
}
