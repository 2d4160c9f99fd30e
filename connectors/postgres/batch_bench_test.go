package postgres

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/topics"
)

// BenchmarkApplyBatch writes batches of new tickets, and of follow-ups to
// open tickets, with applyBatch against the stack's PostgreSQL in a schema
// of its own. Besides ns/op it reports commands/s, the client's CPU time
// per command and the round trips to PostgreSQL per command, counted on
// the connection. The schema and the tickets that the follow-ups need
// are set up outside the timed part.
func BenchmarkApplyBatch(b *testing.B) {
	for _, n := range []int{100, 500} {
		b.Run(fmt.Sprintf("creates=%d", n), func(b *testing.B) {
			benchmarkApplyBatch(b, n, false)
		})
	}
	b.Run("appends=100", func(b *testing.B) {
		benchmarkApplyBatch(b, 100, true)
	})
}

// benchmarkApplyBatch applies b.N batches of n commands, each batch in one
// partition. With appends set, every command is a follow-up to a ticket
// that a batch applied before the timer started.
func benchmarkApplyBatch(b *testing.B, n int, appends bool) {
	ctx := context.Background()
	counter := &roundTripCounter{}
	sink := newApplySink(b, counter, time.Now())

	var offset int64
	batch := func(i int, action string) []partitionItems {
		part := partitionItems{partition: 0, items: make([]item, n)}
		for j := range part.items {
			cmd := command("acme", fmt.Sprintf("B-%d-%d", i, j), action, j)
			rec := &kgo.Record{Topic: topics.Tickets, Partition: 0, Offset: offset}
			offset++
			part.items[j] = item{rec: rec, cmd: &cmd}
		}
		return []partitionItems{part}
	}
	apply := func(parts []partitionItems) {
		res, err := sink.applyBatch(ctx, parts, false)
		if err != nil {
			b.Fatalf("applying a batch: %v", err)
		}
		if res.applied != n {
			b.Fatalf("applied %d commands, expected %d", res.applied, n)
		}
	}

	action := ActionCreate
	if appends {
		action = ActionAppend
		for i := 0; i < b.N; i++ {
			apply(batch(i, ActionCreate))
		}
	}
	batches := make([][]partitionItems, b.N)
	for i := range batches {
		batches[i] = batch(i, action)
	}

	serverStart, serverOK := backendCPU(b, sink.pool)
	counter.reset()
	cpuStart := cpuTime(b)
	b.ResetTimer()
	for _, parts := range batches {
		apply(parts)
	}
	b.StopTimer()

	commands := float64(b.N * n)
	b.ReportMetric(commands/b.Elapsed().Seconds(), "commands/s")
	b.ReportMetric(float64((cpuTime(b)-cpuStart).Microseconds())/commands, "cpu-µs/command")
	b.ReportMetric(float64(counter.roundTrips())/commands, "round-trips/command")
	if serverEnd, ok := backendCPU(b, sink.pool); ok && serverOK {
		b.ReportMetric(float64((serverEnd-serverStart).Microseconds())/commands, "server-cpu-µs/command")
	}
}

// newApplySink returns a Sink on a migrated schema of its own, for tests
// that call applyBatch without Kafka. With counter set, its pool counts
// the round trips of its connections in counter. Its seed broker is a
// placeholder that it never dials, and its Config.Now returns now.
func newApplySink(tb testing.TB, counter *roundTripCounter, now time.Time) *Sink {
	tb.Helper()
	dsn := testSchema(tb)
	cfg := Config{
		DSN:       dsn,
		KafkaOpts: []kgo.Opt{kgo.SeedBrokers("127.0.0.1:9")},
		Group:     "apply-test",
		Now:       func() time.Time { return now },
	}
	sink, err := New(cfg)
	if err != nil {
		tb.Fatalf("creating the sink: %v", err)
	}
	sink.pool.Close()

	config, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		tb.Fatalf("parsing the test DSN: %v", err)
	}
	if counter != nil {
		// One connection, so that one backend runs every batch and
		// backendCPU reads its CPU time.
		config.MaxConns = 1
		dialer := &net.Dialer{}
		config.ConnConfig.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &countingConn{Conn: conn, counter: counter}, nil
		}
	}
	sink.pool = newPoolConfig(tb, config)
	if _, err := Migrate(context.Background(), sink.pool); err != nil {
		tb.Fatalf("migrating the test schema: %v", err)
	}
	return sink
}

// newPoolConfig opens a pool with config that the test closes at
// cleanup.
func newPoolConfig(tb testing.TB, config *pgxpool.Config) *pgxpool.Pool {
	tb.Helper()
	pool, err := pgxpool.NewWithConfig(context.Background(), config)
	if err != nil {
		tb.Fatalf("opening a pool: %v", err)
	}
	tb.Cleanup(pool.Close)
	return pool
}

// roundTripCounter counts round trips on the connections of a pool: a
// read that returns data after the connection wrote is the end of one.
type roundTripCounter struct {
	mu    sync.Mutex
	wrote map[*countingConn]bool
	trips int
}

func (c *roundTripCounter) write(conn *countingConn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.wrote == nil {
		c.wrote = make(map[*countingConn]bool)
	}
	c.wrote[conn] = true
}

func (c *roundTripCounter) read(conn *countingConn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.wrote[conn] {
		c.wrote[conn] = false
		c.trips++
	}
}

func (c *roundTripCounter) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.trips = 0
}

func (c *roundTripCounter) roundTrips() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.trips
}

// countingConn reports its reads and writes to counter.
type countingConn struct {
	net.Conn
	counter *roundTripCounter
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if n > 0 {
		c.counter.write(c)
	}
	return n, err
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.counter.read(c)
	}
	return n, err
}

// backendCPU returns the CPU time of the PostgreSQL backend behind the
// only connection of pool, read from /proc. It reports false when the
// server does not run on this machine or /proc cannot be read.
func backendCPU(b *testing.B, pool *pgxpool.Pool) (time.Duration, bool) {
	b.Helper()
	switch pool.Config().ConnConfig.Host {
	case "127.0.0.1", "::1", "localhost":
	default:
		return 0, false
	}
	var pid int
	if err := pool.QueryRow(context.Background(), `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		b.Fatalf("reading the backend PID: %v", err)
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// The command name in parentheses may contain spaces, so the fields
	// are counted from its closing parenthesis: utime and stime are fields 14 and
	// 15 of proc(5), in ticks of 1/100 s (USER_HZ).
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	if len(fields) < 13 {
		return 0, false
	}
	utime, errU := strconv.ParseInt(fields[11], 10, 64)
	stime, errS := strconv.ParseInt(fields[12], 10, 64)
	if errU != nil || errS != nil {
		return 0, false
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, true
}

// cpuTime returns the user and system CPU time of the process so far.
func cpuTime(b *testing.B) time.Duration {
	b.Helper()
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		b.Fatalf("reading the CPU time: %v", err)
	}
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
}
