package schemas

// ticketCommandToNative converts a TicketCommand to the native form of
// mailtriage.TicketCommand.
func ticketCommandToNative(c *TicketCommand) map[string]any {
	return map[string]any{
		"eventId":         c.EventID,
		"tenant":          c.Tenant,
		"action":          c.Action,
		"ticketRef":       c.TicketRef,
		"messageId":       c.MessageID,
		"queue":           c.Queue,
		"priority":        c.Priority,
		"tags":            stringsToNative(c.Tags),
		"requester":       addressToNative(&c.Requester),
		"recipients":      recordsToNative(c.Recipients, addressToNative),
		"subject":         c.Subject,
		"text":            c.Text,
		"replyText":       c.ReplyText,
		"inReplyTo":       stringsToNative(c.InReplyTo),
		"attachments":     recordsToNative(c.Attachments, attachmentToNative),
		"raw":             optionalBlobRefToNative(c.Raw),
		"receivedAt":      c.ReceivedAt,
		"reason":          reasonToNative(&c.Reason),
		"skipAutoReply":   c.SkipAutoReply,
		"linkedTicketRef": c.LinkedTicketRef,
	}
}

// ticketCommandFromNative converts a decoded mailtriage.TicketCommand back
// to the Go type.
func ticketCommandFromNative(r *recordReader) TicketCommand {
	return TicketCommand{
		EventID:         r.string("eventId"),
		Tenant:          r.string("tenant"),
		Action:          r.string("action"),
		TicketRef:       r.string("ticketRef"),
		MessageID:       r.string("messageId"),
		Queue:           r.string("queue"),
		Priority:        r.string("priority"),
		Tags:            r.strings("tags"),
		Requester:       addressFromNative(r.record("requester")),
		Recipients:      recordsFromNative(r.records("recipients"), addressFromNative),
		Subject:         r.string("subject"),
		Text:            r.string("text"),
		ReplyText:       r.string("replyText"),
		InReplyTo:       r.strings("inReplyTo"),
		Attachments:     recordsFromNative(r.records("attachments"), attachmentFromNative),
		Raw:             optionalBlobRefFromNative(r.optionalRecord("raw", unionBlobRef)),
		ReceivedAt:      r.time("receivedAt"),
		Reason:          reasonFromNative(r.record("reason")),
		SkipAutoReply:   r.bool("skipAutoReply"),
		LinkedTicketRef: r.string("linkedTicketRef"),
	}
}
