package smtp

import (
	"errors"
	"io"
	"net"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"mailtriage/schemas"
)

// session is the state of one SMTP or LMTP session between HELO and the
// end of the connection or STARTTLS. go-smtp calls its methods from one
// goroutine at a time.
type session struct {
	srv     *Server
	conn    *gosmtp.Conn
	tracked *trackedConn // nil only when the connection did not come from Serve

	from  string      // MAIL FROM of the open transaction; empty for <>
	rcpts []recipient // accepted RCPT TO of the open transaction, in order
}

// recipient is one accepted RCPT TO with the tenant its route gives.
type recipient struct {
	addr   string // as the client gave it, subaddress included
	tenant string
}

var _ gosmtp.LMTPSession = (*session)(nil)

// Mail starts a transaction. go-smtp has already checked the syntax and
// the SIZE parameter against the size limit.
func (s *session) Mail(from string, _ *gosmtp.MailOptions) (err error) {
	defer s.countReply("mail", &err)
	if s.srv.draining.Load() {
		return replyShuttingDown
	}
	if s.srv.cfg.RequireTLS && !s.isTLS() {
		return replyTLSRequired
	}
	s.from = from
	s.rcpts = nil
	return nil
}

// Rcpt accepts a recipient that a route takes and rejects the others with
// 550 5.1.1, so that the sending server bounces them at once.
func (s *session) Rcpt(to string, _ *gosmtp.RcptOptions) (err error) {
	defer s.countReply("rcpt", &err)
	tenant, ok := s.srv.router.tenant(to)
	if !ok {
		if s.tracked != nil {
			s.tracked.rejected.Add(1)
		}
		return replyUnknownRecipient
	}
	s.rcpts = append(s.rcpts, recipient{addr: to, tenant: tenant})
	return nil
}

// Data reads the message and publishes it for every tenant among the
// recipients. Its error is the one reply to the whole transaction: 250
// only when every tenant's record was acknowledged or kept as a dead
// letter.
func (s *session) Data(r io.Reader) (err error) {
	defer s.countReply("data", &err)
	defer s.markBusy()()
	raw, err := s.readData(r)
	if err != nil {
		return err
	}
	outcomes := s.srv.deliver(raw, s.envelope(), s.rcpts)
	return combineReplies(outcomes)
}

// LMTPData reads the message, publishes it for every tenant among the
// recipients and gives each recipient the reply of its tenant. A failure
// to read the data is the reply of every recipient.
func (s *session) LMTPData(r io.Reader, status gosmtp.StatusCollector) error {
	defer s.markBusy()()
	raw, err := s.readData(r)
	if err != nil {
		s.countReply("data", &err)
		return err
	}
	outcomes := s.srv.deliver(raw, s.envelope(), s.rcpts)
	byTenant := make(map[string]*gosmtp.SMTPError, len(outcomes))
	for _, o := range outcomes {
		byTenant[o.tenant] = o.reply
	}
	for _, rc := range s.rcpts {
		status.SetStatus(rc.addr, byTenant[rc.tenant])
		s.srv.metrics.Reply("data", metricReplyCode("data", byTenant[rc.tenant]))
	}
	return nil
}

// Reset ends the open transaction, after DATA, RSET or a new EHLO.
func (s *session) Reset() {
	s.from = ""
	s.rcpts = nil
}

// Logout ends the session. The connection logs its own summary when it
// closes.
func (s *session) Logout() error { return nil }

// markBusy marks the connection as transferring a message, so that a
// shutdown waits for its reply, and returns the function that clears the
// mark.
func (s *session) markBusy() func() {
	if s.tracked == nil {
		return func() {}
	}
	s.tracked.busy.Store(true)
	return func() {
		s.tracked.messages.Add(1)
		s.tracked.busy.Store(false)
	}
}

// readData reads the whole message. go-smtp stops it at the size limit
// and at a line over the line limit. The deadlineReader adds the idle and
// total timeouts of DATA.
func (s *session) readData(r io.Reader) ([]byte, error) {
	dr := &deadlineReader{
		r:    r,
		conn: s.conn.Conn(),
		idle: s.srv.cfg.Timeouts.Read,
		end:  time.Now().Add(s.srv.cfg.Timeouts.Data),
	}
	raw, err := io.ReadAll(dr)
	if err == nil {
		return raw, nil
	}

	var netErr net.Error
	switch {
	case errors.Is(err, gosmtp.ErrDataTooLarge):
		return nil, gosmtp.ErrDataTooLarge
	case errors.Is(err, gosmtp.ErrTooLongLine):
		return nil, replyLineTooLong(s.srv.cfg.Limits.MaxLineLength)
	case errors.As(err, &netErr) && netErr.Timeout():
		s.srv.log.Warn("message data timed out", "remote", s.remoteAddr(), "bytes_read", len(raw))
		return nil, replyDataTimeout
	default:
		s.srv.log.Warn("reading message data failed", "remote", s.remoteAddr(), "bytes_read", len(raw), "error", err)
		return nil, replyReadFailed
	}
}

// envelope returns the SMTP envelope of the open transaction, with every
// accepted recipient. HELO and TLS are read now, because a client may
// repeat EHLO and STARTTLS starts a new session.
func (s *session) envelope() schemas.Envelope {
	rcpts := make([]string, len(s.rcpts))
	for i, rc := range s.rcpts {
		rcpts[i] = rc.addr
	}
	return schemas.Envelope{
		MailFrom:   s.from,
		RcptTo:     rcpts,
		Helo:       s.conn.Hostname(),
		RemoteAddr: s.remoteAddr(),
		TLS:        s.isTLS(),
	}
}

func (s *session) isTLS() bool {
	_, ok := s.conn.TLSConnectionState()
	return ok
}

func (s *session) remoteAddr() string {
	return s.conn.Conn().RemoteAddr().String()
}

// deadlineReader sets the read deadline of conn before every read of r to
// the earlier of now + idle and end. go-smtp sets a deadline only before
// each command line, so without it the whole transfer of a large message
// would have to fit in one command timeout.
type deadlineReader struct {
	r    io.Reader
	conn net.Conn
	idle time.Duration
	end  time.Time
}

func (d *deadlineReader) Read(p []byte) (int, error) {
	deadline := time.Now().Add(d.idle)
	if d.end.Before(deadline) {
		deadline = d.end
	}
	if err := d.conn.SetReadDeadline(deadline); err != nil {
		return 0, err
	}
	return d.r.Read(p)
}
