package demo

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/connectors/blobstore"
	"mailtriage/connectors/files"
	"mailtriage/connectors/ingress"
	mailimport "mailtriage/internal/importer"
	"mailtriage/schemas"
	"mailtriage/topics"
)

// produceBatch is how many records the import sends per synchronous produce.
const produceBatch = 100

// imported is one message the demo put on the inbound topic, or straight
// into the dead-letter topic when it could not be parsed or Kafka rejected
// its record. The key is the record key its outcome is found under.
type imported struct {
	name string
	key  string
}

// importer reads the mail, prepares one record per message and produces
// the records in batches.
type importer struct {
	client *kgo.Client
	store  blobstore.Store
	cfg    Config

	items   []imported
	pending []pendingRecord
	// stamps keeps the import order in the record timestamps, so that the
	// processor meets an original before a reply on another partition.
	stamps ingress.Timestamps
}

// pendingRecord is a record waiting to be produced, with what it takes to
// replace it by a dead letter when Kafka rejects it.
type pendingRecord struct {
	record   *kgo.Record
	prepared *mailimport.Record
	index    int // of the message in importer.items
}

// importMail parses every message under cfg.Mail, stores its raw MIME and
// attachments and produces it to the inbound topic. A record that Kafka
// rejects becomes a dead letter, so one message never stops the import.
func importMail(ctx context.Context, client *kgo.Client, store blobstore.Store, cfg Config) ([]imported, error) {
	im := &importer{client: client, store: store, cfg: cfg}
	err := files.Walk(ctx, cfg.Mail, func(item files.Item) error {
		if err := im.add(ctx, item); err != nil {
			return err
		}
		if len(im.pending) >= produceBatch {
			return im.flush(ctx)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := im.flush(ctx); err != nil {
		return nil, err
	}
	if len(im.items) == 0 {
		return nil, fmt.Errorf("no files found under %s: inside folders, hidden entries and files named README*, LICENSE* or COPYING* are skipped; pass a folder or file that contains mail",
			strings.Join(cfg.Mail, ", "))
	}
	return im.items, nil
}

// add turns one message into a pending record: an InboundEmail, or a
// DeadLetter with the raw bytes when the message is not mail at all.
func (im *importer) add(ctx context.Context, item files.Item) error {
	prepared, err := mailimport.Prepare(ctx, item.Name, item.Raw, mailimport.PrepareOptions{
		Tenant: im.cfg.Tenant, Source: schemas.SourceImport, Store: im.store, Now: time.Now(),
	})
	if err != nil {
		return fmt.Errorf("importing %s: %w", item.Name, err)
	}
	p := pendingRecord{prepared: prepared, index: len(im.items)}
	if prepared.DeadLetter != nil {
		p.record, err = deadLetterRecord(prepared.DeadLetter, im.cfg.Tenant, item.Name)
		if err != nil {
			return err
		}
	} else {
		value, err := schemas.Marshal(prepared.Email)
		if err != nil {
			return fmt.Errorf("encoding %s: %w", item.Name, err)
		}
		p.record = &kgo.Record{Topic: topics.Inbound, Key: []byte(prepared.Email.Key()), Value: value,
			Timestamp: im.stamps.Next(time.Now())}
	}

	im.items = append(im.items, imported{name: mailimport.DisplayName(item.Name, im.cfg.Mail), key: string(p.record.Key)})
	im.pending = append(im.pending, p)
	return nil
}

// deadLetterRecord encodes dl as a record of the dead-letter topic. Its key
// is tenant/name, so that the outcome of each file is found under its own
// key.
func deadLetterRecord(dl *schemas.DeadLetter, tenant, name string) (*kgo.Record, error) {
	dl.Tenant = tenant
	value, err := schemas.Marshal(dl)
	if err != nil {
		return nil, fmt.Errorf("encoding the dead letter for %s: %w", name, err)
	}
	return &kgo.Record{Topic: topics.DLQ, Key: []byte(tenant + "/" + name), Value: value}, nil
}

// flush produces the pending records. A record that Kafka rejects is sent
// again on its own, because a broker rejects a whole batch for one record
// that is too large. When Kafka rejects it again, a dead letter replaces
// it. Any other error stops the import.
func (im *importer) flush(ctx context.Context) error {
	if len(im.pending) == 0 {
		return nil
	}
	byRecord := make(map[*kgo.Record]pendingRecord, len(im.pending))
	records := make([]*kgo.Record, len(im.pending))
	for i, p := range im.pending {
		byRecord[p.record] = p
		records[i] = p.record
	}

	var rejected []pendingRecord
	for _, result := range im.client.ProduceSync(ctx, records...) {
		switch {
		case result.Err == nil:
		case mailimport.IsRejected(result.Err):
			rejected = append(rejected, byRecord[result.Record])
		default:
			return fmt.Errorf("producing the record of %s to %s: %w", byRecord[result.Record].prepared.Name, result.Record.Topic, result.Err)
		}
	}

	for _, p := range rejected {
		if err := im.produceAlone(ctx, p); err != nil {
			return err
		}
	}
	im.pending = im.pending[:0]
	return nil
}

// produceAlone sends the record of p in a batch of its own, and a dead
// letter in its place when Kafka rejects it.
func (im *importer) produceAlone(ctx context.Context, p pendingRecord) error {
	err := im.client.ProduceSync(ctx, copyRecord(p.record)).FirstErr()
	if err == nil {
		return nil
	}
	if !mailimport.IsRejected(err) {
		return fmt.Errorf("producing the record of %s to %s: %w", p.prepared.Name, p.record.Topic, err)
	}

	dl := p.prepared.Replacement(p.record.Topic, len(p.record.Value), err, time.Now())
	replacement, err := deadLetterRecord(dl, im.cfg.Tenant, p.prepared.Name)
	if err != nil {
		return err
	}
	if err := im.client.ProduceSync(ctx, replacement).FirstErr(); err != nil {
		return fmt.Errorf("producing the dead letter of %s, which replaces its rejected %d-byte record: %w", p.prepared.Name, len(p.record.Value), err)
	}
	im.items[p.index].key = string(replacement.Key)
	return nil
}

// copyRecord returns a new record with the topic, key and value of r, as
// kgo sets fields of a record it has produced.
func copyRecord(r *kgo.Record) *kgo.Record {
	return &kgo.Record{Topic: r.Topic, Key: r.Key, Value: r.Value}
}
