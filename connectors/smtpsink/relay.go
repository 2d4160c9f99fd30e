package smtpsink

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// sendOutcome classifies a failed session with the relay.
type sendOutcome int

const (
	// outcomeTemporary: the relay did not take the message and a later
	// session may succeed: a 4xx reply, or a connection that failed before
	// the end of the data was sent.
	outcomeTemporary sendOutcome = iota
	// outcomePermanent: the relay rejected the message with a 5xx reply.
	outcomePermanent
	// outcomeUnknown: the connection broke after the end of the data was
	// sent and before the relay replied, so the relay may have accepted
	// the message. The sink never sends it again.
	outcomeUnknown
)

// sendError is a failed session with the relay and its outcome.
type sendError struct {
	outcome sendOutcome
	err     error
}

func (e *sendError) Error() string { return e.err.Error() }

func (e *sendError) Unwrap() error { return e.err }

// send hands one message to the relay in a new session: EHLO, STARTTLS
// and AUTH when configured, MAIL FROM envelopeFrom ("" for <>), RCPT TO,
// DATA and QUIT. Every error it returns is a *sendError. ctx bounds the
// connection; each command is bounded by the relay's Timeout, so a session
// already under way finishes even when ctx ends.
func send(ctx context.Context, r *Relay, envelopeFrom string, out *Outgoing) error {
	dialer := net.Dialer{Timeout: r.Timeout}
	conn, err := dialer.DialContext(ctx, "tcp", r.Addr)
	if err != nil {
		return &sendError{outcomeTemporary, fmt.Errorf("connecting to the relay %s: %w", r.Addr, err)}
	}
	c, err := newClient(conn, r)
	if err != nil {
		conn.Close()
		return err
	}
	defer c.Close()

	if r.Username != "" {
		if err := c.Auth(sasl.NewPlainClient("", r.Username, r.Password)); err != nil {
			return classifySMTP("AUTH", err)
		}
	}

	if err := c.Mail(envelopeFrom, nil); err != nil {
		return classifySMTP("MAIL FROM", err)
	}
	if err := c.Rcpt(out.To, nil); err != nil {
		return classifySMTP("RCPT TO", err)
	}
	w, err := c.Data()
	if err != nil {
		return classifySMTP("DATA", err)
	}
	if _, err := w.Write(out.Data); err != nil {
		return classifySMTP("writing the message", err)
	}
	if err := w.Close(); err != nil {
		var smtpErr *smtp.SMTPError
		if errors.As(err, &smtpErr) {
			return classifySMTP("end of data", err)
		}
		return &sendError{outcomeUnknown, fmt.Errorf("waiting for the relay's reply to the end of data: %w", err)}
	}

	// The relay has accepted the message; a failed QUIT changes nothing.
	_ = c.Quit()
	return nil
}

// newClient starts the SMTP session on conn: the greeting, EHLO and, when
// configured, STARTTLS followed by a new EHLO.
func newClient(conn net.Conn, r *Relay) (*smtp.Client, error) {
	if !r.StartTLS {
		c := smtp.NewClient(conn)
		c.CommandTimeout = r.Timeout
		c.SubmissionTimeout = r.Timeout
		if err := c.Hello(r.HeloName); err != nil {
			c.Close()
			return nil, classifySMTP("EHLO", err)
		}
		return c, nil
	}

	config := r.TLSConfig
	if config == nil {
		host, _, _ := net.SplitHostPort(r.Addr)
		config = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	}
	// NewClientStartTLS uses the client's default timeouts of minutes, so
	// a deadline on the connection bounds the handshake instead.
	_ = conn.SetDeadline(time.Now().Add(r.Timeout))
	c, err := smtp.NewClientStartTLS(conn, config)
	if err != nil {
		return nil, classifySMTP("STARTTLS", err)
	}
	_ = conn.SetDeadline(time.Time{})
	c.CommandTimeout = r.Timeout
	c.SubmissionTimeout = r.Timeout
	if err := c.Hello(r.HeloName); err != nil {
		c.Close()
		return nil, classifySMTP("EHLO after STARTTLS", err)
	}
	return c, nil
}

// classifySMTP turns the error of one SMTP step into a *sendError: a 5xx
// reply is permanent, anything else temporary.
func classifySMTP(step string, err error) error {
	var smtpErr *smtp.SMTPError
	if errors.As(err, &smtpErr) && smtpErr.Code >= 500 && smtpErr.Code < 600 {
		return &sendError{outcomePermanent, fmt.Errorf("relay rejected %s: %w", step, err)}
	}
	return &sendError{outcomeTemporary, fmt.Errorf("%s failed: %w", step, err)}
}

// backoff returns the wait before retry number retry, 1 for the first:
// BaseDelay doubled per retry up to MaxDelay, less a random part of up to
// half, so that sinks that failed together do not retry together.
func (p RetryPolicy) backoff(retry int) time.Duration {
	d := p.BaseDelay
	for i := 1; i < retry && d < p.MaxDelay; i++ {
		d *= 2
	}
	d = min(d, p.MaxDelay)
	half := d / 2
	return half + rand.N(half+1)
}

// sleep waits for d and reports false when ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
