package ingest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"mailtriage/connectors/blobstore"
	"mailtriage/internal/mime"
	"mailtriage/schemas"
)

// countingStore wraps a Dir and counts the Put calls per key.
type countingStore struct {
	*blobstore.Dir
	mu   sync.Mutex
	puts map[string]int
}

func newCountingStore(t *testing.T) *countingStore {
	t.Helper()
	d, err := blobstore.NewDir(t.TempDir())
	if err != nil {
		t.Fatalf("NewDir: %v", err)
	}
	return &countingStore{Dir: d, puts: map[string]int{}}
}

func (s *countingStore) Put(ctx context.Context, key string, data []byte) error {
	s.mu.Lock()
	s.puts[key]++
	s.mu.Unlock()
	return s.Dir.Put(ctx, key, data)
}

// failingStore rejects every Put.
type failingStore struct{ err error }

func (s failingStore) Put(context.Context, string, []byte) error { return s.err }

func (s failingStore) PutStream(context.Context, string, io.Reader, int64) (blobstore.ObjectInfo, error) {
	return blobstore.ObjectInfo{}, s.err
}

func (s failingStore) Get(context.Context, string) ([]byte, error) { return nil, s.err }

func (s failingStore) PresignGet(context.Context, string, time.Duration) (string, error) {
	return "", s.err
}

// messageFolder is the storage folder that Prepare uses for a message with
// the given ID under testOpts: acme/2024/03/05/<sha256 of the ID, 16 hex>.
func messageFolder(messageID string) string {
	sum := sha256.Sum256([]byte(messageID))
	return "acme/2024/03/05/" + hex.EncodeToString(sum[:])[:16]
}

var testOpts = mime.Options{
	Tenant:     "acme",
	Source:     schemas.SourceImport,
	ReceivedAt: time.Date(2024, 3, 5, 14, 0, 0, 0, time.UTC),
}

// attachmentBytes is the decoded content of the attachment in withAttachment.
const attachmentBytes = "order,total\n100482,49.00\n"

const withAttachment = "Message-ID: <att-1@example.org>\r\n" +
	"Date: Tue, 05 Mar 2024 09:12:44 +0000\r\n" +
	"From: Ana <ana@example.org>\r\n" +
	"To: orders@support.example.com\r\n" +
	"Subject: Order export\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/mixed; boundary=\"b1\"\r\n" +
	"\r\n" +
	"--b1\r\n" +
	"Content-Type: text/plain; charset=UTF-8\r\n" +
	"\r\n" +
	"See the attached export.\r\n" +
	"--b1\r\n" +
	"Content-Type: text/csv; name=\"orders.csv\"\r\n" +
	"Content-Disposition: attachment; filename=\"orders.csv\"\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"\r\n" +
	"b3JkZXIsdG90YWwKMTAwNDgyLDQ5LjAwCg==\r\n" +
	"--b1--\r\n"

func TestPrepareStoresRawAndAttachments(t *testing.T) {
	ctx := context.Background()
	store := newCountingStore(t)
	raw := []byte(withAttachment)

	email, err := Prepare(ctx, raw, testOpts, store)
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}

	wantRaw := schemas.BlobRef{
		Key:    messageFolder("att-1@example.org") + "/raw.eml",
		SHA256: blobstore.Sum(raw),
		Size:   int64(len(raw)),
	}
	if email.Raw == nil || *email.Raw != wantRaw {
		t.Errorf("Raw = %+v, want %+v", email.Raw, wantRaw)
	}
	stored, err := store.Get(ctx, wantRaw.Key)
	if err != nil {
		t.Fatalf("Get raw: %v", err)
	}
	if !bytes.Equal(stored, raw) {
		t.Errorf("stored raw message differs from the input")
	}

	if len(email.Attachments) != 1 {
		t.Fatalf("got %d attachments, want 1", len(email.Attachments))
	}
	a := email.Attachments[0]
	wantSum := blobstore.Sum([]byte(attachmentBytes))
	wantKey := messageFolder("att-1@example.org") + "/attachments/0-" + wantSum[:16]
	if a.StorageKey != wantKey {
		t.Errorf("StorageKey = %q, want %q", a.StorageKey, wantKey)
	}
	if a.SHA256 != wantSum {
		t.Errorf("SHA256 = %q, want %q", a.SHA256, wantSum)
	}
	if a.Filename != "orders.csv" {
		t.Errorf("Filename = %q, want %q", a.Filename, "orders.csv")
	}
	got, err := store.Get(ctx, a.StorageKey)
	if err != nil {
		t.Fatalf("Get attachment: %v", err)
	}
	if string(got) != attachmentBytes {
		t.Errorf("stored attachment = %q, want %q", got, attachmentBytes)
	}

	if email.Tenant != "acme" || email.Source != schemas.SourceImport {
		t.Errorf("Tenant, Source = %q, %q; want %q, %q", email.Tenant, email.Source, "acme", schemas.SourceImport)
	}
	if email.MessageID != "att-1@example.org" {
		t.Errorf("MessageID = %q, want %q", email.MessageID, "att-1@example.org")
	}
}

func TestPrepareTwiceWritesSameKeys(t *testing.T) {
	ctx := context.Background()
	store := newCountingStore(t)
	raw := []byte(withAttachment)

	first, err := Prepare(ctx, raw, testOpts, store)
	if err != nil {
		t.Fatalf("first Prepare: %v", err)
	}
	second, err := Prepare(ctx, raw, testOpts, store)
	if err != nil {
		t.Fatalf("second Prepare: %v", err)
	}

	if *first.Raw != *second.Raw {
		t.Errorf("raw refs differ: %+v and %+v", first.Raw, second.Raw)
	}
	if first.Attachments[0].StorageKey != second.Attachments[0].StorageKey {
		t.Errorf("attachment keys differ: %q and %q", first.Attachments[0].StorageKey, second.Attachments[0].StorageKey)
	}
	if len(store.puts) != 2 {
		t.Errorf("Put was called for %d distinct keys, want 2 (raw and attachment): %v", len(store.puts), store.puts)
	}

	files := 0
	err = filepath.WalkDir(store.Root(), func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files++
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if files != 2 {
		t.Errorf("storage folder holds %d files, want 2", files)
	}
}

func TestPrepareParseError(t *testing.T) {
	ctx := context.Background()
	store := newCountingStore(t)
	raw := []byte("\r\n   \r\n")

	email, err := Prepare(ctx, raw, testOpts, store)
	if email != nil {
		t.Errorf("Prepare returned a message for unparsable input: %+v", email)
	}
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("Prepare error = %v (%T), want *ParseError", err, err)
	}
	if !errors.Is(err, mime.ErrNotMail) {
		t.Errorf("ParseError does not wrap mime.ErrNotMail: %v", err)
	}
	if pe.Tenant != "acme" {
		t.Errorf("ParseError.Tenant = %q, want %q", pe.Tenant, "acme")
	}
	wantKey := "acme/2024/03/05/unparsed-" + blobstore.Sum(raw)[:16] + "/raw.eml"
	if pe.Raw.Key != wantKey || pe.Raw.SHA256 != blobstore.Sum(raw) || pe.Raw.Size != int64(len(raw)) {
		t.Errorf("ParseError.Raw = %+v, want key %q, digest %s and size %d", pe.Raw, wantKey, blobstore.Sum(raw), len(raw))
	}

	stored, err := store.Get(ctx, pe.Raw.Key)
	if err != nil {
		t.Fatalf("raw message of the failed parse is not stored: %v", err)
	}
	if !bytes.Equal(stored, raw) {
		t.Errorf("stored raw = %q, want %q", stored, raw)
	}
}

func TestPrepareStoreFailure(t *testing.T) {
	storeErr := errors.New("disk full")
	_, err := Prepare(context.Background(), []byte(withAttachment), testOpts, failingStore{storeErr})

	if !errors.Is(err, storeErr) {
		t.Errorf("Prepare error = %v, want one wrapping the store error", err)
	}
	var pe *ParseError
	if errors.As(err, &pe) {
		t.Errorf("a storage failure was reported as a ParseError, so the caller would dead-letter a retryable error")
	}
	if !strings.Contains(err.Error(), "raw message") {
		t.Errorf("error %q does not say what was being stored", err)
	}
}

func TestPrepareUnparsableStoreFailure(t *testing.T) {
	storeErr := errors.New("disk full")
	_, err := Prepare(context.Background(), []byte("  \n"), testOpts, failingStore{storeErr})

	if !errors.Is(err, storeErr) {
		t.Errorf("Prepare error = %v, want one wrapping the store error", err)
	}
	var pe *ParseError
	if errors.As(err, &pe) {
		t.Errorf("unparsable input whose raw bytes could not be stored was reported as a ParseError, so the caller would dead-letter a message that is not stored")
	}
}

func TestPrepareSameMessageIDOtherBytes(t *testing.T) {
	ctx := context.Background()
	store := newCountingStore(t)
	first := []byte(withAttachment)
	second := []byte("Received: from relay2.example.net\r\n" + withAttachment)

	e1, err := Prepare(ctx, first, testOpts, store)
	if err != nil {
		t.Fatalf("Prepare of the first copy: %v", err)
	}
	e2, err := Prepare(ctx, second, testOpts, store)
	if err != nil {
		t.Fatalf("Prepare of the second copy: %v", err)
	}

	folder := messageFolder("att-1@example.org")
	if e1.Raw.Key != folder+"/raw.eml" {
		t.Errorf("first copy stored under %q, want %q", e1.Raw.Key, folder+"/raw.eml")
	}
	wantCopy := folder + "/raw-" + blobstore.Sum(second)[:16] + ".eml"
	if e2.Raw.Key != wantCopy {
		t.Errorf("second copy stored under %q, want %q", e2.Raw.Key, wantCopy)
	}
	for _, c := range []struct {
		ref  *schemas.BlobRef
		want []byte
	}{{e1.Raw, first}, {e2.Raw, second}} {
		stored, err := store.Get(ctx, c.ref.Key)
		if err != nil || !bytes.Equal(stored, c.want) || c.ref.SHA256 != blobstore.Sum(stored) {
			t.Errorf("object %s does not contain the bytes its reference describes (error %v)", c.ref.Key, err)
		}
	}
	if !warningsMention(e2.Warnings, wantCopy) {
		t.Errorf("warnings %q do not name the key of the second copy", e2.Warnings)
	}
	if warningsMention(e1.Warnings, "Message-ID and different bytes") {
		t.Errorf("first copy got a warning about a second copy: %q", e1.Warnings)
	}

	again, err := Prepare(ctx, second, testOpts, store)
	if err != nil {
		t.Fatalf("Prepare of the second copy again: %v", err)
	}
	if again.Raw.Key != wantCopy {
		t.Errorf("second copy prepared again went to %q, want %q", again.Raw.Key, wantCopy)
	}
}

func TestPrepareZeroReceivedAt(t *testing.T) {
	opts := testOpts
	opts.ReceivedAt = time.Time{}
	before := time.Now().UTC()

	email, err := Prepare(context.Background(), []byte(withAttachment), opts, newCountingStore(t))
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	if email.ReceivedAt.Before(before) {
		t.Errorf("ReceivedAt = %s, want the time of the call (after %s)", email.ReceivedAt, before)
	}
	wantPrefix := "acme/" + email.ReceivedAt.UTC().Format("2006/01/02") + "/"
	if !strings.HasPrefix(email.Raw.Key, wantPrefix) {
		t.Errorf("raw key %q does not start with the date of ReceivedAt, %q", email.Raw.Key, wantPrefix)
	}
}

func warningsMention(warnings []string, part string) bool {
	for _, w := range warnings {
		if strings.Contains(w, part) {
			return true
		}
	}
	return false
}

func TestPrepareNilStore(t *testing.T) {
	if _, err := Prepare(context.Background(), []byte(withAttachment), testOpts, nil); err == nil {
		t.Errorf("Prepare with a nil store succeeded, want an error")
	}
}

func TestCheckPartsContract(t *testing.T) {
	part := []byte("abc")
	good := schemas.Attachment{Part: "2", Size: 3, SHA256: blobstore.Sum(part)}
	tests := []struct {
		name        string
		attachments []schemas.Attachment
		parts       [][]byte
		wantErr     string
	}{
		{"matching", []schemas.Attachment{good}, [][]byte{part}, ""},
		{"digest left empty", []schemas.Attachment{{Part: "2", Size: 3}}, [][]byte{part}, ""},
		{"fewer parts", []schemas.Attachment{good, good}, [][]byte{part}, "1 attachment parts for 2 attachments"},
		{"size differs", []schemas.Attachment{{Part: "2", Size: 4}}, [][]byte{part}, "has 3 bytes but the parser reported 4"},
		{"digest differs", []schemas.Attachment{{Part: "2", Size: 3, SHA256: blobstore.Sum([]byte("xyz"))}}, [][]byte{part}, "SHA-256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkParts(&schemas.InboundEmail{Attachments: tt.attachments}, tt.parts)
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("checkParts = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("checkParts = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}
