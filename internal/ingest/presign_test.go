package ingest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"mailtriage/connectors/blobstore"
	"mailtriage/schemas"
)

// presigningStore is a local folder that presigns like an S3 store.
type presigningStore struct {
	*blobstore.Dir
	err error
}

func (s presigningStore) PresignGet(_ context.Context, key string, ttl time.Duration) (string, error) {
	if s.err != nil {
		return "", s.err
	}
	return "https://files.example.net/" + key + "?expires=" + ttl.String(), nil
}

func newPresigningStore(t *testing.T, err error) presigningStore {
	t.Helper()
	dir, derr := blobstore.NewDir(t.TempDir())
	if derr != nil {
		t.Fatal(derr)
	}
	return presigningStore{Dir: dir, err: err}
}

func TestSetDownloadURLsPresigns(t *testing.T) {
	email := &schemas.InboundEmail{Attachments: []schemas.Attachment{
		{Filename: "a.pdf", StorageKey: "acme/k/attachments/0-a"},
		{Filename: "not-stored.bin"},
	}}
	SetDownloadURLs(context.Background(), email, newPresigningStore(t, nil))

	if got, want := email.Attachments[0].DownloadURL, "https://files.example.net/acme/k/attachments/0-a?expires=1h0m0s"; got != want {
		t.Errorf("download URL = %q, want %q", got, want)
	}
	if got := email.Attachments[1].DownloadURL; got != "" {
		t.Errorf("download URL of an attachment without bytes = %q, want empty", got)
	}
	if len(email.Warnings) != 0 {
		t.Errorf("warnings = %q, want none", email.Warnings)
	}
}

func TestSetDownloadURLsLocalFolderIsSilent(t *testing.T) {
	dir, err := blobstore.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	email := &schemas.InboundEmail{Attachments: []schemas.Attachment{{Filename: "a.pdf", StorageKey: "acme/k/attachments/0-a"}}}
	SetDownloadURLs(context.Background(), email, dir)

	if email.Attachments[0].DownloadURL != "" || len(email.Warnings) != 0 {
		t.Errorf("local folder: URL %q, warnings %q; want neither", email.Attachments[0].DownloadURL, email.Warnings)
	}
}

func TestSetDownloadURLsFailureWarns(t *testing.T) {
	email := &schemas.InboundEmail{Attachments: []schemas.Attachment{{Filename: "a.pdf", StorageKey: "acme/k/attachments/0-a"}}}
	SetDownloadURLs(context.Background(), email, newPresigningStore(t, errors.New("credentials expired")))

	if email.Attachments[0].DownloadURL != "" {
		t.Errorf("download URL = %q, want empty after a failure", email.Attachments[0].DownloadURL)
	}
	if len(email.Warnings) != 1 || !strings.Contains(email.Warnings[0], "a.pdf") || !strings.Contains(email.Warnings[0], "credentials expired") {
		t.Errorf("warnings = %q, want one naming a.pdf and the cause", email.Warnings)
	}
}

func TestPrepareSetsDownloadURLs(t *testing.T) {
	raw := "From: Ana <ana@example.org>\r\nTo: support@example.com\r\nSubject: File\r\nMessage-ID: <p-1@example.org>\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n" +
		"--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=a.pdf\r\n\r\n%PDF-1.4\r\n--b--\r\n"
	email, err := Prepare(context.Background(), []byte(raw), testOpts, newPresigningStore(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(email.Attachments) != 1 {
		t.Fatalf("attachments = %d, want 1", len(email.Attachments))
	}
	a := email.Attachments[0]
	if a.StorageKey == "" || a.DownloadURL != "https://files.example.net/"+a.StorageKey+"?expires=1h0m0s" {
		t.Errorf("attachment key %q URL %q, want a URL presigned for the key", a.StorageKey, a.DownloadURL)
	}
}
