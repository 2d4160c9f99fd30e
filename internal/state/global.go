package state

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// GlobalTable is a key-value table that every processor instance holds in
// full, backed by all partitions of one compacted topic. It serves state
// that a per-partition store cannot: the input topic is keyed by
// tenant/messageId, so a reply and the message it replies to land on
// different input partitions, and the instance that processes the reply
// must still find the ticket that the other one recorded.
//
// Writes follow the same transaction as a Changelog's: Put and Delete go to
// a pending overlay that Get already returns, the runner produces the
// records of Pending in the batch's transaction, and then calls Commit or
// Abort. A background reader (Restore, then Follow) reads the topic with
// read_committed isolation, so the writes of an aborted transaction never
// reach the table. An instance sees its own committed writes at once, and
// those of other instances once the reader has fetched them.
//
// Entries older than MaxAge, by the timestamp of the record that wrote
// them, count as absent and are dropped from memory, so that the table
// matches what the topic's retention keeps. It is safe for concurrent use.
type GlobalTable struct {
	topic  string
	client *kgo.Client
	log    *slog.Logger
	maxAge time.Duration
	now    func() time.Time

	mu       sync.Mutex             // guards the fields below
	base     map[string]globalEntry // state read from the topic
	recent   map[string]ownWrite    // own committed writes the reader has not read back yet
	pending  map[string]write       // writes of the open batch
	order    []string               // keys of pending in the order of their first write
	produced []*kgo.Record          // the records Pending returned for the open batch
	next     map[int32]int64        // next offset the reader applies, per partition

	closeOnce sync.Once
}

// globalEntry is one value read from the topic with its record timestamp.
type globalEntry struct {
	value []byte
	at    time.Time
}

// ownWrite is a committed write of this instance with the position of its
// record, kept until the reader reaches that position.
type ownWrite struct {
	write
	partition int32
	offset    int64
	at        time.Time
}

// GlobalTableConfig configures NewGlobalTable.
type GlobalTableConfig struct {
	// Topic is the compacted topic that backs the table. Required.
	Topic string
	// ClientOpts reach the cluster: seed brokers, TLS, SASL. Required: at
	// least kgo.SeedBrokers.
	ClientOpts []kgo.Opt
	// MaxAge is the age after which an entry counts as absent and is
	// dropped from memory. Zero keeps every entry.
	MaxAge time.Duration
	// Logger receives fetch errors. Default: logs are discarded.
	Logger *slog.Logger
	// Now returns the current time for MaxAge. Default time.Now.
	Now func() time.Time
}

// sweepInterval is how often Follow drops entries older than MaxAge.
const sweepInterval = 10 * time.Minute

// NewGlobalTable creates the table and the consumer that reads its topic
// from the start of every partition. Call Restore before the first Get,
// then Follow in the background, and Close at the end.
func NewGlobalTable(cfg GlobalTableConfig) (*GlobalTable, error) {
	switch {
	case cfg.Topic == "":
		return nil, errors.New("global table config: Topic is empty: name the compacted topic that backs the table")
	case len(cfg.ClientOpts) == 0:
		return nil, errors.New("global table config: ClientOpts is empty: pass at least kgo.SeedBrokers")
	case cfg.MaxAge < 0:
		return nil, fmt.Errorf("global table config: MaxAge %v is negative: use 0 to keep every entry", cfg.MaxAge)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}

	opts := append(append([]kgo.Opt(nil), cfg.ClientOpts...),
		kgo.ConsumeTopics(cfg.Topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Transaction markers come back as records, so the reader sees
		// that it passed the offset Restore waits for even when the last
		// data record before it belonged to an aborted transaction.
		kgo.KeepControlRecords(),
	)
	client, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("creating the reader of %s: %w", cfg.Topic, err)
	}
	return &GlobalTable{
		topic:   cfg.Topic,
		client:  client,
		log:     cfg.Logger.With("table", cfg.Topic),
		maxAge:  cfg.MaxAge,
		now:     cfg.Now,
		base:    make(map[string]globalEntry),
		recent:  make(map[string]ownWrite),
		pending: make(map[string]write),
		next:    make(map[int32]int64),
	}, nil
}

// Topic returns the topic that backs the table.
func (g *GlobalTable) Topic() string { return g.topic }

// Get returns the value under key: the pending write of the open batch
// first, then this instance's committed writes, then the state read from
// the topic.
func (g *GlobalTable) Get(key string) ([]byte, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if w, ok := g.pending[key]; ok {
		return visible(w)
	}
	if w, ok := g.recent[key]; ok && !g.expired(w.at) {
		return visible(w.write)
	}
	e, ok := g.base[key]
	if !ok || g.expired(e.at) {
		return nil, false
	}
	return e.value, true
}

func visible(w write) ([]byte, bool) {
	if w.deleted {
		return nil, false
	}
	return w.value, true
}

// expired reports whether a record written at at is older than maxAge.
// The caller holds mu.
func (g *GlobalTable) expired(at time.Time) bool {
	return g.maxAge > 0 && !at.IsZero() && g.now().Sub(at) > g.maxAge
}

// Put stores a copy of value under key in the pending overlay. A nil value
// is stored as an empty one, because a nil record value is a tombstone.
func (g *GlobalTable) Put(key string, value []byte) {
	v := bytes.Clone(value)
	if v == nil {
		v = []byte{}
	}
	g.record(key, write{value: v})
}

// Delete removes key in the pending overlay.
func (g *GlobalTable) Delete(key string) {
	g.record(key, write{deleted: true})
}

func (g *GlobalTable) record(key string, w write) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, seen := g.pending[key]; !seen {
		g.order = append(g.order, key)
	}
	g.pending[key] = w
}

// Pending returns the records of the open batch: one per written key with
// its last value, or a tombstone for a deleted key. The records leave
// Partition unset, so the producer's key partitioner places them and
// every write of a key lands on one partition. The table keeps the
// records, and Commit reads the offsets that producing them assigned.
func (g *GlobalTable) Pending() []*kgo.Record {
	g.mu.Lock()
	defer g.mu.Unlock()
	recs := make([]*kgo.Record, 0, len(g.order))
	for _, key := range g.order {
		w := g.pending[key]
		rec := &kgo.Record{Topic: g.topic, Key: []byte(key)}
		if !w.deleted {
			rec.Value = w.value
		}
		recs = append(recs, rec)
	}
	g.produced = recs
	return recs
}

// Commit makes the records that Pending returned part of this instance's
// view. Call it once the transaction that carried them has committed and
// the producer has flushed them, so their offsets are set. A write whose
// record the reader has already passed is left to the reader, because a
// later record of another instance may have replaced it.
func (g *GlobalTable) Commit() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, rec := range g.produced {
		key := string(rec.Key)
		if rec.Offset < g.next[rec.Partition] {
			continue
		}
		w := write{value: rec.Value, deleted: rec.Value == nil}
		g.recent[key] = ownWrite{write: w, partition: rec.Partition, offset: rec.Offset, at: rec.Timestamp}
	}
	g.clearPending()
}

// Abort discards the pending overlay. Call it when the batch's transaction
// aborted or was never ended.
func (g *GlobalTable) Abort() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.clearPending()
}

func (g *GlobalTable) clearPending() {
	clear(g.pending)
	g.order = g.order[:0]
	g.produced = nil
}

// Len returns the number of keys visible outside the open batch.
func (g *GlobalTable) Len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := len(g.base)
	for key, w := range g.recent {
		_, inBase := g.base[key]
		switch {
		case w.deleted && inBase:
			n--
		case !w.deleted && !inBase:
			n++
		}
	}
	return n
}

// apply sets the state of one record read from the topic. A transaction
// marker only moves the read position.
func (g *GlobalTable) apply(rec *kgo.Record) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.next[rec.Partition] = max(g.next[rec.Partition], rec.Offset+1)
	if rec.Attrs.IsControl() {
		return
	}

	key := string(rec.Key)
	if w, ok := g.recent[key]; ok && w.partition == rec.Partition && w.offset <= rec.Offset {
		delete(g.recent, key)
	}
	if rec.Value == nil || g.expired(rec.Timestamp) {
		delete(g.base, key)
		return
	}
	g.base[key] = globalEntry{value: bytes.Clone(rec.Value), at: rec.Timestamp}
}

// sweep drops the entries older than maxAge and returns how many it
// dropped.
func (g *GlobalTable) sweep() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.maxAge <= 0 {
		return 0
	}
	dropped := 0
	for key, e := range g.base {
		if g.expired(e.at) {
			delete(g.base, key)
			dropped++
		}
	}
	for key, w := range g.recent {
		if g.expired(w.at) {
			delete(g.recent, key)
		}
	}
	return dropped
}

// Close stops the reader. It is safe to call more than once; Restore and
// Follow then return.
func (g *GlobalTable) Close() {
	g.closeOnce.Do(g.client.Close)
}
