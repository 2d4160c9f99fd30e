package poller

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/internal/importer"
	"mailtriage/internal/ingest"
	"mailtriage/schemas"
	"mailtriage/topics"
)

// item is one element of a page's items array.
type item struct {
	Raw     *string         `json:"raw"`
	Message json.RawMessage `json:"message"`
}

// prepareItems turns the items of pg into prepared records, in page order.
// An item that cannot be decoded or parsed becomes a dead letter. An error
// means the object store failed, and the page is worth requesting again.
func (p *Poller) prepareItems(ctx context.Context, pg *page, cursor string, now time.Time) ([]*importer.Record, error) {
	out := make([]*importer.Record, 0, len(pg.Items))
	for i, data := range pg.Items {
		name := fmt.Sprintf("poll/%s/after=%s#%d", p.urlHash, cursor, i+1)
		rec, err := p.prepareItem(ctx, name, data, now)
		if err != nil {
			return nil, fmt.Errorf("item %d of the page after cursor %q: %w", i+1, cursor, err)
		}
		out = append(out, rec)
	}
	return out, nil
}

func (p *Poller) prepareItem(ctx context.Context, name string, data []byte, now time.Time) (*importer.Record, error) {
	tenant := p.cfg.Tenant
	deadLetter := func(cause error) *importer.Record {
		return &importer.Record{Name: name, Tenant: tenant, Source: schemas.SourcePoller, Raw: data,
			DeadLetter: itemDeadLetter(tenant, data, cause, now)}
	}

	var it item
	if err := json.Unmarshal(data, &it); err != nil {
		return deadLetter(fmt.Errorf("the item is not a JSON object with raw or message: %w", err)), nil
	}
	hasMessage := len(it.Message) > 0 && !bytes.Equal(it.Message, []byte("null"))
	switch {
	case it.Raw != nil && hasMessage:
		return deadLetter(errors.New("the item has both raw and message: send one of them")), nil
	case it.Raw != nil:
		raw, err := base64.StdEncoding.DecodeString(*it.Raw)
		if err != nil {
			return deadLetter(fmt.Errorf("the raw field is not standard base64 with padding: %w", err)), nil
		}
		return importer.Prepare(ctx, name, raw, importer.PrepareOptions{
			Tenant: tenant, Source: schemas.SourcePoller, Store: p.cfg.Store, Now: now,
		})
	case hasMessage:
		email, err := ingest.FromJSON(it.Message, tenant, now)
		if err != nil {
			return deadLetter(fmt.Errorf("reading the message payload: %w", err)), nil
		}
		email.Source = schemas.SourcePoller
		return &importer.Record{Name: name, Tenant: tenant, Source: schemas.SourcePoller, Raw: it.Message, Email: email}, nil
	}
	return deadLetter(errors.New(`the item has neither raw nor message: send {"raw": "<base64 MIME>"} or {"message": {...}}`)), nil
}

// itemDeadLetter returns the parse dead letter of an item that could not
// be read. Its payload is the item's JSON, cut to ingest.MaxParsePayload
// bytes. The event ID is derived from the tenant and the item's SHA-256,
// so the same item failing again gets the same ID.
func itemDeadLetter(tenant string, data []byte, cause error, now time.Time) *schemas.DeadLetter {
	itemSum := sha256.Sum256(data)
	id := sha256.Sum256([]byte(tenant + "\x00" + ingest.StageParse + "\x00" + hex.EncodeToString(itemSum[:])))
	payload := data
	if len(payload) > ingest.MaxParsePayload {
		payload = payload[:ingest.MaxParsePayload]
	}
	return &schemas.DeadLetter{
		EventID:         hex.EncodeToString(id[:16]),
		Tenant:          tenant,
		Stage:           ingest.StageParse,
		Error:           cause.Error(),
		SourceTopic:     schemas.SourcePoller,
		SourcePartition: -1,
		SourceOffset:    -1,
		Attempts:        1,
		FailedAt:        now.UTC(),
		Payload:         payload,
	}
}

// encode returns the Kafka record of rec: an inbound record, or a
// dead-letter record under rec.DeadLetterKey.
func (p *Poller) encode(rec *importer.Record) (*kgo.Record, error) {
	if rec.Email != nil {
		value, err := p.cfg.Serde.Encode(topics.Inbound, rec.Email)
		if err != nil {
			return nil, fmt.Errorf("encoding message %s: %w", rec.Name, err)
		}
		return &kgo.Record{Topic: topics.Inbound, Key: []byte(rec.Key()), Value: value}, nil
	}
	return p.encodeDeadLetter(rec, rec.DeadLetter)
}

func (p *Poller) encodeDeadLetter(rec *importer.Record, dl *schemas.DeadLetter) (*kgo.Record, error) {
	value, err := p.cfg.Serde.Encode(topics.DLQ, dl)
	if err != nil {
		return nil, fmt.Errorf("encoding the dead letter of %s: %w", rec.Name, err)
	}
	return &kgo.Record{Topic: topics.DLQ, Key: []byte(rec.DeadLetterKey()), Value: value}, nil
}
