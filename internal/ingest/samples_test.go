package ingest

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"mailtriage/connectors/files"
	"mailtriage/processors"
	"mailtriage/schemas"
)

const (
	sampleDir = "../../samples/mailbox"
	rulesFile = "../../config/rules.yaml"
)

// sampleRow is one row of the table in the sample mailbox README.
type sampleRow struct {
	file, what, queue, rule, duplicate string
}

// readSampleTable returns the rows of the README table, by file name.
func readSampleTable(t *testing.T) map[string]sampleRow {
	t.Helper()
	f, err := os.Open(filepath.Join(sampleDir, "README.md"))
	if err != nil {
		t.Fatalf("opening the sample mailbox README: %v", err)
	}
	defer f.Close()

	rows := map[string]sampleRow{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "| ") || strings.HasPrefix(line, "| file ") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) != 5 {
			t.Fatalf("README table row has %d cells, want 5: %s", len(cells), line)
		}
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		rows[cells[0]] = sampleRow{file: cells[0], what: cells[1], queue: cells[2], rule: cells[3], duplicate: cells[4]}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("reading the sample mailbox README: %v", err)
	}
	return rows
}

// prepareSamples walks the sample mailbox and prepares every message for
// the default tenant, by file name.
func prepareSamples(t *testing.T) map[string]*schemas.InboundEmail {
	t.Helper()
	ctx := context.Background()
	store := newCountingStore(t)
	opts := testOpts
	opts.Tenant = "default"

	emails := map[string]*schemas.InboundEmail{}
	err := files.Walk(ctx, []string{sampleDir}, func(it files.Item) error {
		e, err := Prepare(ctx, it.Raw, opts, store)
		if err != nil {
			t.Errorf("%s: Prepare: %v", it.Name, err)
			return nil
		}
		stored, err := store.Get(ctx, e.Raw.Key)
		if err != nil || !bytes.Equal(stored, it.Raw) {
			t.Errorf("%s: stored raw message missing or different (%v)", it.Name, err)
		}
		for _, a := range e.Attachments {
			if _, err := store.Get(ctx, a.StorageKey); err != nil {
				t.Errorf("%s: attachment %q not stored: %v", it.Name, a.Filename, err)
			}
		}
		emails[filepath.Base(it.Name)] = e
		return nil
	})
	if err != nil {
		t.Fatalf("walking %s: %v", sampleDir, err)
	}
	return emails
}

func TestSampleMailboxTableListsEveryFile(t *testing.T) {
	rows := readSampleTable(t)
	paths, err := filepath.Glob(filepath.Join(sampleDir, "*.eml"))
	if err != nil {
		t.Fatal(err)
	}
	var onDisk []string
	for _, p := range paths {
		onDisk = append(onDisk, filepath.Base(p))
	}
	var listed []string
	for name := range rows {
		listed = append(listed, name)
	}
	sort.Strings(listed)

	if strings.Join(onDisk, "\n") != strings.Join(listed, "\n") {
		t.Errorf("README table and folder differ:\n folder %q\n  table %q", onDisk, listed)
	}
	if len(onDisk) < 34 {
		t.Errorf("sample mailbox has %d messages, want at least 34", len(onDisk))
	}

	n, err := files.Count([]string{sampleDir})
	if err != nil {
		t.Fatalf("Count: %v", err)
	}
	if n != len(onDisk) {
		t.Errorf("files.Count = %d, want %d: one item per .eml file and none for README.md", n, len(onDisk))
	}
}

func TestSampleMailboxParses(t *testing.T) {
	emails := prepareSamples(t)
	for name, e := range emails {
		if e.MessageID == "" || e.Date.IsZero() || e.From == nil || len(e.To) == 0 || e.Subject == "" {
			t.Errorf("%s: Message-ID %q, Date %v, From %v, To %v, Subject %q: want all five set", name, e.MessageID, e.Date, e.From, e.To, e.Subject)
		}
		if strings.TrimSpace(e.Text) == "" {
			t.Errorf("%s: empty text body", name)
		}
	}

	checks := []struct {
		file  string
		check func(e *schemas.InboundEmail) bool
		want  string
	}{
		{"billing-invoice-dispute-pdf.eml", func(e *schemas.InboundEmail) bool {
			return len(e.Attachments) == 1 && e.Attachments[0].ContentType == "application/pdf" && e.Attachments[0].Filename == "INV-2024-0207.pdf"
		}, "one application/pdf attachment INV-2024-0207.pdf"},
		{"orders-damaged-item-photo.eml", func(e *schemas.InboundEmail) bool {
			return len(e.Attachments) == 1 && e.Attachments[0].ContentType == "image/png" && e.Attachments[0].Filename == "damaged-box.png"
		}, "one image/png attachment damaged-box.png"},
		{"general-html-only.eml", func(e *schemas.InboundEmail) bool {
			return strings.Contains(e.HTML, "<b>shared inbox</b>") && strings.Contains(e.Text, "shared inbox")
		}, "HTML body with text derived from it"},
		{"general-german.eml", func(e *schemas.InboundEmail) bool {
			return e.Subject == "Weiterleitung an Ihr System und Größe von Anhängen" && e.From.Name == "Jürgen Köhler" && strings.Contains(e.Text, "Größenbeschränkung")
		}, "decoded German subject, sender name and body"},
		{"general-japanese.eml", func(e *schemas.InboundEmail) bool {
			return e.Subject == "APIのレート制限について" && e.From.Name == "佐藤 健" && strings.Contains(e.Text, "レート制限")
		}, "decoded Japanese subject, sender name and body"},
		{"general-reply-thread.eml", func(e *schemas.InboundEmail) bool {
			return len(e.InReplyTo) == 1 && e.InReplyTo[0] == "ticket-48190.reply-1@support.example.com" &&
				len(e.References) == 2 && e.References[0] == "CAJ8p.dkim.export@mail.example.org" &&
				strings.Contains(e.Text, "> Hi Daniel,")
		}, "In-Reply-To, two References and quoted text"},
		{"system-bounce.eml", func(e *schemas.InboundEmail) bool {
			for _, a := range e.Attachments {
				if a.ContentType == "message/delivery-status" {
					return e.From.Address == "MAILER-DAEMON@mx.example.net"
				}
			}
			return false
		}, "a message/delivery-status part from MAILER-DAEMON"},
	}
	for _, c := range checks {
		e, ok := emails[c.file]
		if !ok {
			t.Errorf("%s: not in the sample mailbox", c.file)
			continue
		}
		if !c.check(e) {
			t.Errorf("%s: want %s; got subject %q, attachments %+v", c.file, c.want, e.Subject, e.Attachments)
		}
	}
}

func TestSampleMailboxDuplicates(t *testing.T) {
	rows := readSampleTable(t)
	emails := prepareSamples(t)
	fingerprint := func(name string) string {
		e := emails[name]
		if e == nil {
			t.Fatalf("%s: listed in the README but not prepared", name)
		}
		return processors.Fingerprint(e.MessageID, e.Text, e.HTML)
	}

	originals := map[string]string{} // fingerprint to file, for files that are not duplicates
	for name, row := range rows {
		switch {
		case strings.HasPrefix(row.duplicate, "yes, of "):
			of := strings.TrimPrefix(row.duplicate, "yes, of ")
			if fingerprint(name) != fingerprint(of) {
				t.Errorf("%s: README says duplicate of %s, but the dedupe fingerprints differ", name, of)
			}
			if !strings.HasSuffix(name, ".redelivered.eml") {
				t.Errorf("%s: a duplicate's name should end in .redelivered.eml", name)
			}
		case strings.HasPrefix(row.duplicate, "no: same body as "):
			of, _, _ := strings.Cut(strings.TrimPrefix(row.duplicate, "no: same body as "), ",")
			if emails[name].Text != emails[of].Text {
				t.Errorf("%s: README says same body as %s, but the text differs", name, of)
			}
			if emails[name].MessageID == emails[of].MessageID {
				t.Errorf("%s: near-duplicate has the Message-ID of %s", name, of)
			}
			if fingerprint(name) == fingerprint(of) {
				t.Errorf("%s: near-duplicate has the dedupe fingerprint of %s", name, of)
			}
			fallthrough
		case row.duplicate == "no":
			if other, seen := originals[fingerprint(name)]; seen {
				t.Errorf("%s and %s have the same dedupe fingerprint but neither is marked a duplicate", name, other)
			}
			originals[fingerprint(name)] = name
		default:
			t.Errorf("%s: duplicate column %q, want \"no\", \"yes, of FILE\" or \"no: same body as FILE, …\"", name, row.duplicate)
		}
	}
}

func TestSampleMailboxQueues(t *testing.T) {
	rules, err := processors.LoadRules(rulesFile)
	if err != nil {
		t.Fatalf("loading the ruleset: %v", err)
	}
	rows := readSampleTable(t)
	emails := prepareSamples(t)

	for name, row := range rows {
		e := emails[name]
		if e == nil {
			t.Errorf("%s: listed in the README but not prepared", name)
			continue
		}
		queue, ruleID := "general", "none (default)"
		rule, matched := rules.Match(e)
		if rule != nil {
			queue, ruleID = rule.Action.Queue, rule.ID
		}
		if queue != row.queue || ruleID != row.rule {
			t.Errorf("%s: rules give queue %q by rule %q (%s); README says %q by %q", name, queue, ruleID, matched, row.queue, row.rule)
		}
	}
}
