package poller

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/internal/state"
	"mailtriage/topics"
)

// cursorState is the value of a cursor record, JSON-encoded.
type cursorState struct {
	// Tenant and URL name the polled API. URL has no query, because a
	// query may carry an API key.
	Tenant string `json:"tenant"`
	URL    string `json:"url"`
	// Cursor is the nextCursor of the last committed page; empty before
	// the first page.
	Cursor string `json:"cursor"`
	// Pages counts the committed pages.
	Pages int64 `json:"pages"`
	// CommittedAt is when the page was produced.
	CommittedAt time.Time `json:"committedAt"`
}

// urlHash returns the first 32 hex digits of the SHA-256 of u.
func urlHash(u *url.URL) string {
	sum := sha256.Sum256([]byte(u.String()))
	return hex.EncodeToString(sum[:16])
}

// cursorKey returns the key of the cursor record of tenant and u.
func cursorKey(tenant string, u *url.URL) string {
	return tenant + "/" + urlHash(u)
}

// cursorRecord encodes s as the cursor record under key.
func cursorRecord(key string, s cursorState) (*kgo.Record, error) {
	value, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("encoding the cursor record: %w", err)
	}
	return &kgo.Record{Topic: topics.PollerCursors, Key: []byte(key), Value: value}, nil
}

// loadCursor reads every partition of the cursor topic with read_committed
// and returns the last committed state under key, or the zero state when
// there is none. client must be a consumer without a group, created with
// read_committed and kgo.KeepControlRecords, as state.Restore requires.
//
// state.Restore first waits until no transaction is open on a partition,
// so the caller initializes its transactional ID before, which aborts a
// transaction that an earlier instance left open.
func loadCursor(ctx context.Context, client *kgo.Client, key string) (cursorState, error) {
	details, err := kadm.NewClient(client).ListTopics(ctx, topics.PollerCursors)
	if err != nil {
		return cursorState{}, fmt.Errorf("listing the cursor topic %s: %w", topics.PollerCursors, err)
	}
	detail, ok := details[topics.PollerCursors]
	if !ok || errors.Is(detail.Err, kerr.UnknownTopicOrPartition) {
		return cursorState{}, fmt.Errorf("the cursor topic %s is missing: let the poller create it (it needs the right to create topics) or create it as a compacted topic", topics.PollerCursors)
	}
	if detail.Err != nil {
		return cursorState{}, fmt.Errorf("reading the metadata of the cursor topic %s: %w", topics.PollerCursors, detail.Err)
	}

	var found cursorState
	for _, partition := range detail.Partitions.Numbers() {
		store, err := state.Restore(ctx, client, topics.PollerCursors, partition)
		if err != nil {
			return cursorState{}, fmt.Errorf("reading the committed cursor: %w", err)
		}
		value, ok := store.Get(key)
		if !ok {
			continue
		}
		var s cursorState
		if err := json.Unmarshal(value, &s); err != nil {
			return cursorState{}, fmt.Errorf("decoding the cursor record %s in %s partition %d: %w; delete the record (produce a tombstone) to poll from the start", key, topics.PollerCursors, partition, err)
		}
		// A key is found in two partitions only when the partition count
		// changed; the state with more committed pages is the newer one.
		if s.Pages >= found.Pages {
			found = s
		}
	}
	return found, nil
}
