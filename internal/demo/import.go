package demo

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"mailtriage/connectors/blobstore"
	"mailtriage/connectors/files"
	"mailtriage/internal/ingest"
	"mailtriage/internal/mime"
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
}

// pendingRecord is a record waiting to be produced, with what it takes to
// replace it by a dead letter when Kafka rejects it.
type pendingRecord struct {
	record *kgo.Record
	item   files.Item
	index  int // of the message in importer.items

	// Exactly one of email and deadLetter is set: the record carries an
	// InboundEmail or the dead letter of a message that failed to parse.
	email      *schemas.InboundEmail
	deadLetter *schemas.DeadLetter
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
	now := time.Now()
	tenant := im.cfg.Tenant
	opts := mime.Options{Tenant: tenant, Source: schemas.SourceImport, ReceivedAt: now}
	p := pendingRecord{item: item, index: len(im.items)}

	email, err := ingest.Prepare(ctx, item.Raw, opts, im.store)
	var parseErr *ingest.ParseError
	switch {
	case errors.As(err, &parseErr):
		dl := ingest.DeadLetterFor(parseErr, item.Raw, schemas.SourceImport, now)
		record, err := deadLetterRecord(&dl, tenant, item.Name)
		if err != nil {
			return err
		}
		p.record, p.deadLetter = record, &dl
	case err != nil:
		return fmt.Errorf("importing %s: %w", item.Name, err)
	default:
		value, err := schemas.Marshal(email)
		if err != nil {
			return fmt.Errorf("encoding %s: %w", item.Name, err)
		}
		p.record = &kgo.Record{Topic: topics.Inbound, Key: []byte(email.Key()), Value: value}
		p.email = email
	}

	im.items = append(im.items, imported{name: displayName(item.Name, im.cfg.Mail), key: string(p.record.Key)})
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
		case isRejected(result.Err):
			rejected = append(rejected, byRecord[result.Record])
		default:
			return fmt.Errorf("producing the record of %s to %s: %w", byRecord[result.Record].item.Name, result.Record.Topic, result.Err)
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
	if !isRejected(err) {
		return fmt.Errorf("producing the record of %s to %s: %w", p.item.Name, p.record.Topic, err)
	}

	replacement, err := im.replacement(p, err)
	if err != nil {
		return err
	}
	if err := im.client.ProduceSync(ctx, replacement).FirstErr(); err != nil {
		return fmt.Errorf("producing the dead letter of %s, which replaces its rejected %d-byte record: %w", p.item.Name, len(p.record.Value), err)
	}
	im.items[p.index].key = string(replacement.Key)
	return nil
}

// replacement builds the dead-letter record that takes the place of the
// rejected record of p. For an InboundEmail it is an ingress dead letter.
// For a parse dead letter it is the same dead letter with its payload cut
// to ingest.MaxIngressPayload bytes.
func (im *importer) replacement(p pendingRecord, cause error) (*kgo.Record, error) {
	if p.deadLetter != nil {
		dl := *p.deadLetter
		if len(dl.Payload) > ingest.MaxIngressPayload {
			dl.Payload = dl.Payload[:ingest.MaxIngressPayload]
		}
		return deadLetterRecord(&dl, im.cfg.Tenant, p.item.Name)
	}

	reason := fmt.Sprintf("the %d-byte record of %s was rejected by %s: %v; raw storage has the whole message under %s",
		len(p.record.Value), p.item.Name, p.record.Topic, cause, p.email.Raw.Key)
	dl := ingest.RejectedDeadLetter(p.email, p.record.Key, p.item.Raw, reason, schemas.SourceImport, time.Now())
	return deadLetterRecord(&dl, im.cfg.Tenant, p.item.Name)
}

// isRejected reports whether Kafka, or the client before sending, refused
// the record itself. Such a record fails again however often it is sent.
// Any other error, such as a timeout or a lost connection, concerns the
// cluster and not the record.
func isRejected(err error) bool {
	return errors.Is(err, kerr.MessageTooLarge) ||
		errors.Is(err, kerr.RecordListTooLarge) ||
		errors.Is(err, kerr.InvalidRecord) ||
		errors.Is(err, kerr.CorruptMessage)
}

// copyRecord returns a new record with the topic, key and value of r, as
// kgo sets fields of a record it has produced.
func copyRecord(r *kgo.Record) *kgo.Record {
	return &kgo.Record{Topic: r.Topic, Key: r.Key, Value: r.Value}
}

// displayName shortens an item name to its path below the import root it
// came from, so the table shows "billing-refund.eml", not the whole path.
func displayName(name string, roots []string) string {
	for _, root := range roots {
		root = strings.TrimSuffix(root, "/")
		if rest, ok := strings.CutPrefix(name, root+"/"); ok {
			return rest
		}
		if name == root || strings.HasPrefix(name, root+"#") {
			return filepath.Base(name)
		}
	}
	return name
}
