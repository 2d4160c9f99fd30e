package smtp

import (
	"errors"

	gosmtp "github.com/emersion/go-smtp"
)

// countReply counts the reply that *err makes go-smtp send to command.
func (s *session) countReply(command string, err *error) {
	s.srv.metrics.Reply(command, metricReplyCode(command, *err))
}

// metricReplyCode returns the reply code that go-smtp v0.26 sends to
// command for err. That is 250 for nil or a nil *gosmtp.SMTPError (an LMTP
// status), the code of any other *gosmtp.SMTPError, and for other errors
// 554 after DATA and 451 after MAIL or RCPT.
func metricReplyCode(command string, err error) int {
	if err == nil {
		return 250
	}
	var smtpErr *gosmtp.SMTPError
	if errors.As(err, &smtpErr) {
		if smtpErr == nil {
			return 250
		}
		return smtpErr.Code
	}
	if command == "data" {
		return 554
	}
	return 451
}
