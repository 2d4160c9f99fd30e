package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"mailtriage/connectors/webhook"
)

// latencyTenant is the gateway tenant of the latency run.
const latencyTenant = "bench"

// sender posts signed JSON webhooks to the gateway.
type sender struct {
	url     string
	secret  []byte
	client  *http.Client
	workers int
}

func newSender(baseURL string, secret []byte, workers int) *sender {
	return &sender{
		url:     baseURL + "/v1/inbound/" + latencyTenant + "/json",
		secret:  secret,
		workers: workers,
		client: &http.Client{
			Timeout:   30 * time.Second,
			Transport: &http.Transport{MaxIdleConnsPerHost: workers},
		},
	}
}

// post sends one body and returns an error unless the gateway responds 202 Accepted.
func (s *sender) post(body []byte) error {
	now := time.Now().Unix()
	req, err := http.NewRequest(http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(webhook.HeaderTimestamp, strconv.FormatInt(now, 10))
	req.Header.Set(webhook.HeaderSignature, webhook.Sign(s.secret, now, body))
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	message, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("status %d: %s", resp.StatusCode, bytes.TrimSpace(message))
	}
	return nil
}

// warmup sends n emails of tag one after the other.
func (s *sender) warmup(tag string, n int) error {
	rng := rand.New(rand.NewPCG(7, uint64(n)))
	for i := range n {
		body, err := latencyPayload(rng, tag, i)
		if err != nil {
			return err
		}
		if err := s.post(body); err != nil {
			return fmt.Errorf("warm-up email %d: %w", i, err)
		}
	}
	return nil
}

// loadResult is the outcome of the timed load.
type loadResult struct {
	sent, accepted int
	elapsed        time.Duration
	maxLag         time.Duration
	answered       []time.Duration // start to response of each accepted request
}

// load sends n emails of tag on a fixed schedule of rate per second. A
// request starts at its planned time, or as soon as one of the workers is
// free, so the schedule does not wait for responses unless every worker is
// busy. The bodies are built before the clock starts.
func (s *sender) load(tag string, n int, rate float64) (loadResult, error) {
	rng := rand.New(rand.NewPCG(44, uint64(n)))
	bodies := make([][]byte, n)
	for i := range bodies {
		var err error
		if bodies[i], err = latencyPayload(rng, tag, i); err != nil {
			return loadResult{}, err
		}
	}

	var (
		mu       sync.Mutex
		accepted int
		failures int
		wg       sync.WaitGroup
	)
	slots := make(chan struct{}, s.workers)
	interval := time.Duration(float64(time.Second) / rate)
	res := loadResult{sent: n}
	start := time.Now()
	for i := range n {
		planned := start.Add(time.Duration(i) * interval)
		time.Sleep(time.Until(planned))
		slots <- struct{}{}
		res.maxLag = max(res.maxLag, time.Since(planned))
		wg.Add(1)
		go func(body []byte) {
			defer wg.Done()
			sent := time.Now()
			err := s.post(body)
			took := time.Since(sent)
			<-slots
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				accepted++
				res.answered = append(res.answered, took)
				return
			}
			failures++
			// Only the first three failures are printed, and the result counts them all.
			if failures <= 3 {
				fmt.Fprintf(os.Stderr, "latency: request failed: %v\n", err)
			}
		}(bodies[i])
	}
	res.elapsed = time.Since(start)
	wg.Wait()
	res.accepted = accepted
	return res, nil
}

// rowSample is one email's ticket row.
type rowSample struct {
	visible   time.Duration // receivedAt to the start of the poll that saw the row
	written   time.Duration // receivedAt to the row's insert time
	writtenAt time.Time     // the row's insert time
}

// rowPoller reads the new ticket_messages rows at a fixed interval. A row
// that a query returns was committed before the query's snapshot, which is
// taken when the query starts, so the start time bounds the commit time
// from above.
type rowPoller struct {
	conn     *pgx.Conn
	interval time.Duration
	ctx      context.Context
	cancel   context.CancelFunc
	done     chan struct{}

	mu   sync.Mutex
	rows map[string]map[int]rowSample // tag → email index → sample
	err  error
}

func newRowPoller(ctx context.Context, dsn string, interval time.Duration) (*rowPoller, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("connecting the row poller: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	return &rowPoller{conn: conn, interval: interval, ctx: ctx, cancel: cancel, done: make(chan struct{}),
		rows: map[string]map[int]rowSample{}}, nil
}

func (p *rowPoller) run() {
	defer close(p.done)
	const query = `SELECT id, message_id, received_at, ` + writtenColumn + ` FROM ticket_messages WHERE id > $1 ORDER BY id`
	var last int64
	tick := time.NewTicker(p.interval)
	defer tick.Stop()
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-tick.C:
		}
		started := time.Now()
		rows, err := p.conn.Query(p.ctx, query, last)
		if err == nil {
			err = p.collect(rows, started, &last)
		}
		if err != nil {
			if p.ctx.Err() == nil {
				p.mu.Lock()
				p.err = fmt.Errorf("polling ticket_messages: %w", err)
				p.mu.Unlock()
			}
			return
		}
	}
}

func (p *rowPoller) collect(rows pgx.Rows, started time.Time, last *int64) error {
	defer rows.Close()
	for rows.Next() {
		var (
			id                  int64
			messageID           string
			received, insertion time.Time
		)
		if err := rows.Scan(&id, &messageID, &received, &insertion); err != nil {
			return err
		}
		*last = id
		tag, i, ok := splitMessageID(messageID)
		if !ok {
			continue
		}
		p.mu.Lock()
		if p.rows[tag] == nil {
			p.rows[tag] = map[int]rowSample{}
		}
		if _, seen := p.rows[tag][i]; !seen {
			p.rows[tag][i] = rowSample{visible: started.Sub(received), written: insertion.Sub(received), writtenAt: insertion}
		}
		p.mu.Unlock()
	}
	return rows.Err()
}

// samples returns a copy of the samples of tag.
func (p *rowPoller) samples(tag string) map[int]rowSample {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[int]rowSample, len(p.rows[tag]))
	for i, s := range p.rows[tag] {
		out[i] = s
	}
	return out
}

func (p *rowPoller) failure() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

func (p *rowPoller) close() {
	p.cancel()
	<-p.done
	_ = p.conn.Close(context.Background())
}

// splitMessageID returns the tag and index of a message ID that
// latencyPayload made.
func splitMessageID(messageID string) (string, int, bool) {
	id := strings.Trim(messageID, "<>")
	// A tag is its prefix and 8 hex digits.
	for _, prefix := range []string{"warmup-latency-", "latency-"} {
		if strings.HasPrefix(id, prefix) && len(id) >= len(prefix)+8 {
			tag := id[:len(prefix)+8]
			i, ok := latencyIndex(tag, id)
			return tag, i, ok
		}
	}
	return "", 0, false
}

// waitReady polls url until it responds 200 OK, a role exits or timeout
// passes.
func (run *latencyRun) waitReady(url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		for _, r := range run.roles {
			if err := r.running(); err != nil {
				return err
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the gateway at %s was not ready within %s (last error %v)", url, timeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
