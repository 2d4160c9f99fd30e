package e2e

import (
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// maxRelayMessageBytes bounds a message the test relay reads.
const maxRelayMessageBytes = 1 << 20

// receivedMail is one message the test relay accepted.
type receivedMail struct {
	mailFrom string
	rcptTo   []string
	data     []byte
}

// ackRelay is an SMTP server on 127.0.0.1, built with emersion/go-smtp,
// that replaces the relay of the SMTP sink and keeps every message.
type ackRelay struct {
	addr string

	mu       sync.Mutex // guards received
	received []receivedMail
}

func startAckRelay(t *testing.T) *ackRelay {
	t.Helper()
	r := &ackRelay{}
	server := smtp.NewServer(r)
	server.Domain = "relay.test"
	server.ReadTimeout = 30 * time.Second
	server.WriteTimeout = 30 * time.Second
	server.MaxMessageBytes = maxRelayMessageBytes
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listening for the test relay: %v", err)
	}
	r.addr = l.Addr().String()
	go func() { _ = server.Serve(l) }()
	t.Cleanup(func() { _ = server.Close() })
	return r
}

func (r *ackRelay) NewSession(*smtp.Conn) (smtp.Session, error) {
	return &ackSession{relay: r}, nil
}

// messages returns a copy of what the relay accepted.
func (r *ackRelay) messages() []receivedMail {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]receivedMail(nil), r.received...)
}

// count returns the number of messages for recipient rcpt.
func (r *ackRelay) count(rcpt string) int {
	n := 0
	for _, m := range r.messages() {
		for _, to := range m.rcptTo {
			if strings.EqualFold(to, rcpt) {
				n++
			}
		}
	}
	return n
}

// waitFor waits up to conversationWait for the first message to rcpt
// and returns it.
func (r *ackRelay) waitFor(ctx context.Context, t *testing.T, rcpt string) receivedMail {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, conversationWait)
	defer cancel()
	for {
		for _, m := range r.messages() {
			for _, to := range m.rcptTo {
				if strings.EqualFold(to, rcpt) {
					return m
				}
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("timed out after %v waiting for a message to the customer at the relay (%d messages to others)", conversationWait, len(r.messages()))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

type ackSession struct {
	relay *ackRelay
	msg   receivedMail
}

func (s *ackSession) Reset()        { s.msg = receivedMail{} }
func (s *ackSession) Logout() error { return nil }

func (s *ackSession) Mail(from string, _ *smtp.MailOptions) error {
	s.msg.mailFrom = from
	return nil
}

func (s *ackSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.msg.rcptTo = append(s.msg.rcptTo, to)
	return nil
}

func (s *ackSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.msg.data = data
	s.relay.mu.Lock()
	s.relay.received = append(s.relay.received, s.msg)
	s.relay.mu.Unlock()
	return nil
}
