package smtp

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// rejectWriteTimeout bounds the write of the 421 reply to a connection over
// a limit, so that a client that does not read cannot stall Accept.
const rejectWriteTimeout = time.Second

// rejectLogInterval is the least time between two log lines about
// connections rejected over a limit; the lines count the rejections.
const rejectLogInterval = 10 * time.Second

// limitListener wraps the listening socket. It rejects connections over
// the total and per-IP limits with a 421 reply, before they reach go-smtp.
// It tracks the open ones, so that a shutdown can end idle sessions and
// close all of them after its grace period.
type limitListener struct {
	net.Listener
	hostname string
	maxTotal int
	maxPerIP int
	log      *slog.Logger

	mu    sync.Mutex // guards conns and perIP
	conns map[*trackedConn]struct{}
	perIP map[string]int

	rejectMu      sync.Mutex // guards the fields below
	rejected      int        // rejections since the last log line
	lastRejectLog time.Time
}

func newLimitListener(ln net.Listener, hostname string, limits Limits, log *slog.Logger) *limitListener {
	return &limitListener{
		Listener: ln,
		hostname: hostname,
		maxTotal: limits.MaxConnections,
		maxPerIP: limits.MaxConnectionsPerIP,
		log:      log,
		conns:    make(map[*trackedConn]struct{}),
		perIP:    make(map[string]int),
	}
}

// Accept returns the next connection within the limits. It replies 421 to
// the others and closes them.
func (l *limitListener) Accept() (net.Conn, error) {
	for {
		conn, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := remoteIP(conn)

		l.mu.Lock()
		var reject string
		switch {
		case len(l.conns) >= l.maxTotal:
			reject = fmt.Sprintf("421 4.3.2 %s Too many connections, try again later\r\n", l.hostname)
		case l.perIP[ip] >= l.maxPerIP:
			reject = fmt.Sprintf("421 4.7.0 %s Too many connections from your address, try again later\r\n", l.hostname)
		default:
			tc := &trackedConn{Conn: conn, owner: l, ip: ip, opened: time.Now()}
			l.conns[tc] = struct{}{}
			l.perIP[ip]++
			l.mu.Unlock()
			return tc, nil
		}
		l.mu.Unlock()

		_ = conn.SetWriteDeadline(time.Now().Add(rejectWriteTimeout))
		_, _ = conn.Write([]byte(reject))
		_ = conn.Close()
		l.countReject(conn.RemoteAddr().String())
	}
}

// countReject logs rejected connections, at most once per
// rejectLogInterval, with the number rejected since the last line.
func (l *limitListener) countReject(remote string) {
	l.rejectMu.Lock()
	defer l.rejectMu.Unlock()
	l.rejected++
	if time.Since(l.lastRejectLog) < rejectLogInterval {
		return
	}
	l.log.Warn("connections rejected over the connection limits", "remote", remote,
		"rejected", l.rejected, "max_connections", l.maxTotal, "max_connections_per_ip", l.maxPerIP)
	l.rejected = 0
	l.lastRejectLog = time.Now()
}

func (l *limitListener) release(tc *trackedConn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.conns[tc]; !ok {
		return
	}
	delete(l.conns, tc)
	l.perIP[tc.ip]--
	if l.perIP[tc.ip] <= 0 {
		delete(l.perIP, tc.ip)
	}
}

// open returns the number of tracked connections.
func (l *limitListener) open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}

// interruptIdle makes every connection that is not transferring or
// publishing a message fail its pending read at once. go-smtp then
// replies 421 and closes the connection. A session that starts a command in the
// same moment sets a fresh deadline and is caught by the next call.
func (l *limitListener) interruptIdle() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for tc := range l.conns {
		if !tc.busy.Load() {
			_ = tc.SetReadDeadline(time.Now())
		}
	}
}

// closeAll closes every tracked connection.
func (l *limitListener) closeAll() {
	l.mu.Lock()
	conns := make([]*trackedConn, 0, len(l.conns))
	for tc := range l.conns {
		conns = append(conns, tc)
	}
	l.mu.Unlock()
	for _, tc := range conns {
		_ = tc.Close()
	}
}

// trackedConn is one accepted connection. Its session marks it busy while
// a message is transferred or published, so that a shutdown waits for it.
type trackedConn struct {
	net.Conn
	owner  *limitListener
	ip     string
	opened time.Time
	busy   atomic.Bool

	messages atomic.Int64 // messages that got a reply after DATA
	rejected atomic.Int64 // recipients rejected with 550

	closeOnce sync.Once
	closeErr  error
}

// Close closes the socket and frees its place in the limits. Calling it
// again returns the first result.
func (tc *trackedConn) Close() error {
	tc.closeOnce.Do(func() {
		tc.closeErr = tc.Conn.Close()
		tc.owner.release(tc)
		tc.owner.log.Info("connection closed", "remote", tc.RemoteAddr().String(),
			"messages", tc.messages.Load(), "rejected_recipients", tc.rejected.Load(),
			"duration_ms", time.Since(tc.opened).Milliseconds())
	})
	return tc.closeErr
}

// trackedFrom returns the trackedConn under conn, which go-smtp wraps in a
// *tls.Conn after STARTTLS, or nil when conn is not one of ours.
func trackedFrom(conn net.Conn) *trackedConn {
	if tlsConn, ok := conn.(*tls.Conn); ok {
		conn = tlsConn.NetConn()
	}
	tc, _ := conn.(*trackedConn)
	return tc
}

// remoteIP returns the IP of the remote end of conn, or its whole address
// when it has no host part (a Unix socket).
func remoteIP(conn net.Conn) string {
	addr := conn.RemoteAddr().String()
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}
