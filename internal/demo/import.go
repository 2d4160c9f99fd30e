package demo

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

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
// into the dead-letter topic when it could not be parsed at all. The key
// is the record key it went out with.
type imported struct {
	name string
	key  string
}

// importMail parses every message under cfg.Mail, stores its raw MIME and
// attachments and produces it to the inbound topic.
func importMail(ctx context.Context, client *kgo.Client, store blobstore.Store, cfg Config) ([]imported, error) {
	var (
		items   []imported
		pending []*kgo.Record
	)
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		if err := client.ProduceSync(ctx, pending...).FirstErr(); err != nil {
			return fmt.Errorf("producing %d records to %s: %w", len(pending), topics.Inbound, err)
		}
		pending = pending[:0]
		return nil
	}

	err := files.Walk(ctx, cfg.Mail, func(item files.Item) error {
		rec, entry, err := prepare(ctx, store, cfg.Tenant, item)
		if err != nil {
			return err
		}
		entry.name = displayName(item.Name, cfg.Mail)
		items = append(items, entry)
		pending = append(pending, rec)
		if len(pending) >= produceBatch {
			return flush()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return items, nil
}

// prepare turns one file into the record to produce: an InboundEmail, or a
// DeadLetter with the raw bytes when the file is not mail at all.
func prepare(ctx context.Context, store blobstore.Store, tenant string, item files.Item) (*kgo.Record, imported, error) {
	now := time.Now()
	opts := mime.Options{Tenant: tenant, Source: schemas.SourceImport, ReceivedAt: now}

	email, err := ingest.Prepare(ctx, item.Raw, opts, store)
	var parseErr *ingest.ParseError
	switch {
	case errors.As(err, &parseErr):
		dl := ingest.DeadLetterFor(parseErr, item.Raw, schemas.SourceImport, now)
		dl.Tenant = tenant
		value, err := schemas.Marshal(&dl)
		if err != nil {
			return nil, imported{}, fmt.Errorf("encoding the dead letter for %s: %w", item.Name, err)
		}
		key := tenant + "/" + item.Name
		rec := &kgo.Record{Topic: topics.DLQ, Key: []byte(key), Value: value}
		return rec, imported{name: item.Name, key: key}, nil
	case err != nil:
		return nil, imported{}, fmt.Errorf("importing %s: %w", item.Name, err)
	}

	value, err := schemas.Marshal(email)
	if err != nil {
		return nil, imported{}, fmt.Errorf("encoding %s: %w", item.Name, err)
	}
	key := email.Key()
	rec := &kgo.Record{Topic: topics.Inbound, Key: []byte(key), Value: value}
	return rec, imported{name: item.Name, key: key}, nil
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
