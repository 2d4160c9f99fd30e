package smtp

import (
	"fmt"

	gosmtp "github.com/emersion/go-smtp"
)

// Replies of the listener. go-smtp writes a *gosmtp.SMTPError that a
// session method returns as the reply, so even the 250 after DATA is one.
// It carries the hash of the record key, which the sender's log keeps and
// the listener's log shows beside the tenant.
var (
	replyUnknownRecipient = &gosmtp.SMTPError{
		Code:         550,
		EnhancedCode: gosmtp.EnhancedCode{5, 1, 1},
		Message:      "Recipient not accepted here: no mailbox or domain of this listener matches it",
	}
	replyTemporaryFailure = &gosmtp.SMTPError{
		Code:         451,
		EnhancedCode: gosmtp.EnhancedCode{4, 3, 0},
		Message:      "Temporary failure storing the message; keep it and try again later",
	}
	replyShuttingDown = &gosmtp.SMTPError{
		Code:         421,
		EnhancedCode: gosmtp.EnhancedCode{4, 3, 2},
		Message:      "Service shutting down; try again later",
	}
	replyTLSRequired = &gosmtp.SMTPError{
		Code:         530,
		EnhancedCode: gosmtp.EnhancedCode{5, 7, 0},
		Message:      "Must issue a STARTTLS command first",
	}
	replyPermanentFailure = &gosmtp.SMTPError{
		Code:         554,
		EnhancedCode: gosmtp.EnhancedCode{5, 3, 0},
		Message:      "Message rejected: it can be neither published nor kept as a dead letter",
	}
	replyDataTimeout = &gosmtp.SMTPError{
		Code:         451,
		EnhancedCode: gosmtp.EnhancedCode{4, 4, 2},
		Message:      "Timed out reading the message data; try again later",
	}
	replyReadFailed = &gosmtp.SMTPError{
		Code:         451,
		EnhancedCode: gosmtp.EnhancedCode{4, 3, 0},
		Message:      "Reading the message data failed; try again later",
	}
)

// replyLineTooLong is the reply to a data line longer than limit bytes.
// go-smtp closes the connection after it.
func replyLineTooLong(limit int) *gosmtp.SMTPError {
	return &gosmtp.SMTPError{
		Code:         554,
		EnhancedCode: gosmtp.EnhancedCode{5, 6, 0},
		Message:      fmt.Sprintf("Message has a line longer than %d bytes", limit),
	}
}

// replyQueued is the reply to a message on the inbound topic.
func replyQueued(keyHash string) *gosmtp.SMTPError {
	return &gosmtp.SMTPError{
		Code:         250,
		EnhancedCode: gosmtp.EnhancedCode{2, 0, 0},
		Message:      "OK: queued as " + keyHash,
	}
}

// replyKept is the reply to a message on the dead-letter topic.
func replyKept(keyHash string) *gosmtp.SMTPError {
	return &gosmtp.SMTPError{
		Code:         250,
		EnhancedCode: gosmtp.EnhancedCode{2, 0, 0},
		Message:      "OK: kept for review as " + keyHash,
	}
}
