package benchparse

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeFiles creates each file of files under dir, keyed by a
// slash-separated path.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func testCorpus(t *testing.T) string {
	t.Helper()
	corpus := t.TempDir()
	writeFiles(t, corpus, map[string]string{
		"a/one.eml":  "Subject: one\n\nbody one\n",
		"a/README":   "about this folder\n",
		"LICENSE.md": "MIT\n",
		".hidden":    "Subject: hidden\n\nx\n",
		"b/box.mbox": "From someone Mon Jun  2 10:00:00 2025\nSubject: first\n\nx\n\nFrom other Mon Jun  2 10:01:00 2025\nSubject: second\n\ny\n",
		"MESSAGES":   "a/one.eml\nb/box.mbox\n",
	})
	return corpus
}

func TestWritePackFolderRule(t *testing.T) {
	corpus := testCorpus(t)
	out := t.TempDir()
	index, err := WritePack(context.Background(), PackOptions{Corpus: corpus}, out)
	if err != nil {
		t.Fatalf("WritePack: %v", err)
	}

	var names []string
	for _, m := range index.Messages {
		names = append(names, m.Name)
	}
	exp := "MESSAGES a/one.eml b/box.mbox#1 b/box.mbox#2"
	if got := strings.Join(names, " "); got != exp {
		t.Errorf("messages = %q, expected %q (README, LICENSE and hidden files skipped, the mbox split)", got, exp)
	}

	pack, err := ReadPack(out)
	if err != nil {
		t.Fatalf("ReadPack: %v", err)
	}
	if got, exp := string(pack.Raw[1]), "Subject: one\n\nbody one\n"; got != exp {
		t.Errorf("Raw[1] = %q, expected %q", got, exp)
	}
	if got, exp := string(pack.Raw[3]), "Subject: second\n\ny\n"; got != exp {
		t.Errorf("Raw[3] = %q, expected %q (the mbox separator line removed)", got, exp)
	}
	var total int64
	for _, raw := range pack.Raw {
		total += int64(len(raw))
	}
	if total != pack.Bytes {
		t.Errorf("sum of message sizes = %d, Bytes = %d, expected them equal", total, pack.Bytes)
	}
}

func TestWritePackListed(t *testing.T) {
	corpus := testCorpus(t)
	out := t.TempDir()
	index, err := WritePack(context.Background(), PackOptions{Corpus: corpus, Listed: filepath.Join(corpus, "MESSAGES")}, out)
	if err != nil {
		t.Fatalf("WritePack: %v", err)
	}
	if got, exp := len(index.Messages), 3; got != exp {
		t.Errorf("listed messages = %d, expected %d (one.eml and both messages of box.mbox)", got, exp)
	}
	if !strings.Contains(index.Selection, "MESSAGES") {
		t.Errorf("Selection = %q, expected it to name the list file", index.Selection)
	}
}

func TestWritePackEmptySelection(t *testing.T) {
	corpus := t.TempDir()
	writeFiles(t, corpus, map[string]string{"README": "x\n"})
	if _, err := WritePack(context.Background(), PackOptions{Corpus: corpus}, t.TempDir()); err == nil {
		t.Fatal("WritePack over a folder with only a README returned no error, expected one")
	}
}

func TestReadPackSizeMismatch(t *testing.T) {
	corpus := testCorpus(t)
	out := t.TempDir()
	if _, err := WritePack(context.Background(), PackOptions{Corpus: corpus}, out); err != nil {
		t.Fatalf("WritePack: %v", err)
	}
	if err := os.WriteFile(filepath.Join(out, DataFile), []byte("short"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ReadPack(out)
	if err == nil || !strings.Contains(err.Error(), "write the pack again") {
		t.Fatalf("ReadPack of a truncated pack = %v, expected an error that says to write the pack again", err)
	}
}

func TestFileOf(t *testing.T) {
	cases := map[string]string{
		"a/box.mbox#12": "a/box.mbox",
		"a/one.eml":     "a/one.eml",
		"a/odd#name":    "a/odd#name",
		"a/trailing#":   "a/trailing#",
	}
	for name, exp := range cases {
		if got := fileOf(name); got != exp {
			t.Errorf("fileOf(%q) = %q, expected %q", name, got, exp)
		}
	}
}
