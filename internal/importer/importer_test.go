package importer

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"mailtriage/connectors/ingress"
	"mailtriage/internal/ingest"
	"mailtriage/schemas"
	"mailtriage/topics"
)

// mailTree writes a folder with two .eml files and a note that is not
// mail, an mbox file with three messages and a Maildir with two, and
// returns the paths of the three.
func mailTree(t *testing.T) (folder, mboxFile, maildir string) {
	t.Helper()
	root := t.TempDir()
	folder = filepath.Join(root, "folder")
	writeFile(t, filepath.Join(folder, "a.eml"), message("folder-a", ""))
	writeFile(t, filepath.Join(folder, "sub", "b.eml"), message("folder-b", ""))
	writeFile(t, filepath.Join(folder, "notes.txt"), "remember to buy milk\n")

	mboxFile = filepath.Join(root, "archive.mbox")
	writeFile(t, mboxFile, mbox("mbox-1", "mbox-2", "mbox-3"))

	maildir = filepath.Join(root, "Maildir")
	writeFile(t, filepath.Join(maildir, "cur", "1.host:2,S"), message("maildir-cur", ""))
	writeFile(t, filepath.Join(maildir, "new", "2.host"), message("maildir-new", ""))
	writeFile(t, filepath.Join(maildir, "tmp", "3.host"), message("maildir-tmp", ""))
	return folder, mboxFile, maildir
}

func TestRunImportsFolderMboxMaildir(t *testing.T) {
	folder, mboxFile, maildir := mailTree(t)
	cases := []struct {
		name         string
		path         string
		imported     []string // message IDs expected on the inbound topic
		deadLettered int
	}{
		{"folder", folder, []string{"folder-a@example.com", "folder-b@example.com"}, 1},
		{"mbox", mboxFile, []string{"mbox-1@example.com", "mbox-2@example.com", "mbox-3@example.com"}, 0},
		{"maildir", maildir, []string{"maildir-cur@example.com", "maildir-new@example.com"}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			brokers := startCluster(t, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()

			totals, err := Run(ctx, Config{
				Paths:     []string{tc.path},
				Tenant:    "acme",
				Store:     newStore(t),
				Publisher: newPublisher(t, brokers, 10*time.Second),
			})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			want := len(tc.imported) + tc.deadLettered
			if totals.Total != want || totals.Imported != len(tc.imported) || totals.DeadLettered != tc.deadLettered || totals.Failed != 0 {
				t.Errorf("totals %+v, expected total %d, imported %d, dead-lettered %d, failed 0",
					totals, want, len(tc.imported), tc.deadLettered)
			}

			var keys []string
			for _, r := range topicRecords(t, brokers, topics.Inbound, "", nil) {
				keys = append(keys, string(r.Key))
			}
			slices.Sort(keys)
			var wantKeys []string
			for _, id := range tc.imported {
				wantKeys = append(wantKeys, "acme/"+id)
			}
			if !slices.Equal(keys, wantKeys) {
				t.Errorf("inbound keys %v, expected %v", keys, wantKeys)
			}
			if n := len(topicRecords(t, brokers, topics.DLQ, "", nil)); n != tc.deadLettered {
				t.Errorf("dead-letter topic holds %d records, expected %d", n, tc.deadLettered)
			}
		})
	}
}

func TestRunDeadLetterKeepsRawBytes(t *testing.T) {
	brokers := startCluster(t, nil)
	folder, _, _ := mailTree(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	if _, err := Run(ctx, Config{Paths: []string{folder}, Tenant: "acme", Store: newStore(t), Publisher: newPublisher(t, brokers, 10*time.Second)}); err != nil {
		t.Fatalf("Run: %v", err)
	}
	recs := topicRecords(t, brokers, topics.DLQ, "", nil)
	if len(recs) != 1 {
		t.Fatalf("dead-letter topic holds %d records, expected 1", len(recs))
	}
	wantKey := "acme/" + filepath.Join(folder, "notes.txt")
	if string(recs[0].Key) != wantKey {
		t.Errorf("dead-letter key %q, expected %q", recs[0].Key, wantKey)
	}
	dl := decodeDeadLetters(t, recs)[0]
	if dl.Stage != ingest.StageParse || dl.SourceTopic != schemas.SourceImport {
		t.Errorf("dead letter stage %q and source %q, expected %q and %q", dl.Stage, dl.SourceTopic, ingest.StageParse, schemas.SourceImport)
	}
	if !bytes.Equal(dl.Payload, []byte("remember to buy milk\n")) {
		t.Errorf("dead-letter payload %q, expected the raw bytes of notes.txt", dl.Payload)
	}
}

// A record above the inbound topic's max.message.bytes is replaced by an
// ingress dead letter, and the other messages are imported.
func TestRunRejectedRecordBecomesDeadLetter(t *testing.T) {
	brokers := startCluster(t, map[string]int{topics.Inbound: 64 << 10})
	folder := t.TempDir()
	writeFile(t, filepath.Join(folder, "a.eml"), message("small-a", ""))
	writeFile(t, filepath.Join(folder, "b.eml"), message("huge-b", padding(200<<10)))
	writeFile(t, filepath.Join(folder, "c.eml"), message("small-c", ""))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	totals, err := Run(ctx, Config{Paths: []string{folder}, Tenant: "acme", Store: newStore(t), Publisher: newPublisher(t, brokers, 10*time.Second)})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if totals.Imported != 2 || totals.DeadLettered != 1 || totals.Failed != 0 {
		t.Errorf("totals %+v, expected 2 imported and 1 dead-lettered", totals)
	}
	dls := decodeDeadLetters(t, topicRecords(t, brokers, topics.DLQ, "", nil))
	if len(dls) != 1 {
		t.Fatalf("dead-letter topic holds %d records, expected 1", len(dls))
	}
	if dls[0].Stage != ingest.StageIngress || !strings.Contains(dls[0].Error, "b.eml") {
		t.Errorf("dead letter stage %q, error %q; expected stage %q naming b.eml", dls[0].Stage, dls[0].Error, ingest.StageIngress)
	}
	if string(dls[0].Key) != "acme/huge-b@example.com" {
		t.Errorf("dead letter carries the source key %q, expected acme/huge-b@example.com", dls[0].Key)
	}
}

func TestRunBrokerDownStops(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	brokers := cluster.ListenAddrs()
	ensureTopics(t, brokers, nil)
	folder, _, _ := mailTree(t)
	pub := newPublisher(t, brokers, time.Second)
	// With the cluster gone, every publish times out.
	cluster.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	totals, err := Run(ctx, Config{Paths: []string{folder}, Tenant: "acme", Store: newStore(t), Publisher: pub, Concurrency: 1})
	if !errors.Is(err, ingress.ErrUnavailable) {
		t.Fatalf("Run with the broker down returned %v, expected ErrUnavailable", err)
	}
	if totals.Imported != 0 || totals.Failed != 1 {
		t.Errorf("totals %+v, expected nothing imported and the one attempted message failed", totals)
	}
	if totals.NotAttempted() != 2 {
		t.Errorf("%d messages not attempted, expected the 2 after the failure", totals.NotAttempted())
	}
}

func TestRunNoFilesFound(t *testing.T) {
	folder := t.TempDir()
	writeFile(t, filepath.Join(folder, "README.md"), "about this folder\n")
	_, err := Run(context.Background(), Config{Paths: []string{folder}, Tenant: "acme", Store: newStore(t), Publisher: &ingress.Publisher{}})
	if err == nil || !strings.Contains(err.Error(), "no files found under "+folder) {
		t.Errorf("Run over a folder with only a README returned %v, expected an error naming the folder", err)
	}
}
