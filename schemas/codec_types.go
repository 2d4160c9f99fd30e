package schemas

import "fmt"

// nativeFromGo converts a contract value, or a non-nil pointer to one, to
// its schema name and goavro native form.
func nativeFromGo(v any) (string, map[string]any, error) {
	switch x := v.(type) {
	case InboundEmail:
		return NameInboundEmail, inboundEmailToNative(&x), nil
	case TicketCommand:
		return NameTicketCommand, ticketCommandToNative(&x), nil
	case Notification:
		return NameNotification, notificationToNative(&x), nil
	case DecisionEvent:
		return NameDecisionEvent, decisionEventToNative(&x), nil
	case DeadLetter:
		return NameDeadLetter, deadLetterToNative(&x), nil
	case FeedbackEvent:
		return NameFeedbackEvent, feedbackEventToNative(&x), nil
	case AutoReply:
		return NameAutoReply, autoReplyToNative(&x), nil
	case OutboundMessage:
		return NameOutboundMessage, outboundMessageToNative(&x), nil
	case TicketEvent:
		return NameTicketEvent, ticketEventToNative(&x), nil
	}

	name, err := schemaNameOfPointer(v)
	if err != nil {
		return "", nil, err
	}

	var native map[string]any
	switch x := v.(type) {
	case *InboundEmail:
		native = inboundEmailToNative(x)
	case *TicketCommand:
		native = ticketCommandToNative(x)
	case *Notification:
		native = notificationToNative(x)
	case *DecisionEvent:
		native = decisionEventToNative(x)
	case *DeadLetter:
		native = deadLetterToNative(x)
	case *FeedbackEvent:
		native = feedbackEventToNative(x)
	case *AutoReply:
		native = autoReplyToNative(x)
	case *OutboundMessage:
		native = outboundMessageToNative(x)
	case *TicketEvent:
		native = ticketEventToNative(x)
	}
	return name, native, nil
}

// schemaNameOfPointer returns the schema name for a non-nil pointer to a
// contract type.
func schemaNameOfPointer(v any) (string, error) {
	var name string
	var isNil bool
	switch x := v.(type) {
	case *InboundEmail:
		name, isNil = NameInboundEmail, x == nil
	case *TicketCommand:
		name, isNil = NameTicketCommand, x == nil
	case *Notification:
		name, isNil = NameNotification, x == nil
	case *DecisionEvent:
		name, isNil = NameDecisionEvent, x == nil
	case *DeadLetter:
		name, isNil = NameDeadLetter, x == nil
	case *FeedbackEvent:
		name, isNil = NameFeedbackEvent, x == nil
	case *AutoReply:
		name, isNil = NameAutoReply, x == nil
	case *OutboundMessage:
		name, isNil = NameOutboundMessage, x == nil
	case *TicketEvent:
		name, isNil = NameTicketEvent, x == nil
	default:
		return "", unsupportedType(v, "a pointer to")
	}

	if isNil {
		return "", fmt.Errorf("schemas: %w: nil *%s; pass a pointer to a %s value", ErrUnsupportedType, shortName(name), shortName(name))
	}
	return name, nil
}

// goFromNative fills v, a non-nil pointer to a contract type, from the
// decoded native form of its schema.
func goFromNative(native any, v any) error {
	switch x := v.(type) {
	case *InboundEmail:
		return fillFromNative(x, NameInboundEmail, native, inboundEmailFromNative)
	case *TicketCommand:
		return fillFromNative(x, NameTicketCommand, native, ticketCommandFromNative)
	case *Notification:
		return fillFromNative(x, NameNotification, native, notificationFromNative)
	case *DecisionEvent:
		return fillFromNative(x, NameDecisionEvent, native, decisionEventFromNative)
	case *DeadLetter:
		return fillFromNative(x, NameDeadLetter, native, deadLetterFromNative)
	case *FeedbackEvent:
		return fillFromNative(x, NameFeedbackEvent, native, feedbackEventFromNative)
	case *AutoReply:
		return fillFromNative(x, NameAutoReply, native, autoReplyFromNative)
	case *OutboundMessage:
		return fillFromNative(x, NameOutboundMessage, native, outboundMessageFromNative)
	case *TicketEvent:
		return fillFromNative(x, NameTicketEvent, native, ticketEventFromNative)
	}
	return unsupportedType(v, "a pointer to")
}

// fillFromNative converts the native form of the record named name and
// stores the result in dst only when every field converted.
func fillFromNative[T any](dst *T, name string, native any, convert func(*recordReader) T) error {
	r := newRecordReader(name, native)
	value := convert(r)
	if err := r.failed(); err != nil {
		return fmt.Errorf("schemas: converting the decoded %s failed: %w; the schema and its Go conversion disagree, which is a bug in package schemas", name, err)
	}

	*dst = value
	return nil
}
