package files

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// corpusDir is the shared MIME corpus, beside the repository.
const corpusDir = "../../../shared/corpus/mime"

// readMessageList returns the corpus files that its MESSAGES file lists
// as whole messages, as slash-separated paths relative to corpusDir.
func readMessageList(t *testing.T) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(corpusDir, "MESSAGES"))
	if err != nil {
		t.Fatalf("opening the corpus message list: %v", err)
	}
	defer f.Close()

	var list []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			list = append(list, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("reading the corpus message list: %v", err)
	}
	return list
}

func TestWalkCorpus(t *testing.T) {
	if _, err := os.Stat(corpusDir); err != nil {
		t.Skipf("MIME corpus not found at %s (it lives in the shared folder beside the repository): %v", corpusDir, err)
	}

	want := readMessageList(t)
	// MimeKit's body.N.txt files are complete messages (headers, blank
	// line, body) that its tests load to check TextBody and HtmlBody, but
	// MESSAGES lists them as expected bodies. By content they are messages,
	// so Walk reads them.
	for i := 1; i <= 9; i++ {
		want = append(want, fmt.Sprintf("mimekit/messages/body.%d.txt", i))
	}
	sort.Strings(want)

	var got []string
	perFile := map[string]int{}
	err := Walk(context.Background(), []string{corpusDir}, func(it Item) error {
		file, _, _ := strings.Cut(it.Name, "#")
		rel, err := filepath.Rel(corpusDir, file)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if perFile[rel] == 0 {
			got = append(got, rel)
		}
		perFile[rel]++
		if len(it.Raw) == 0 {
			t.Errorf("%s: empty Raw", it.Name)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Walk(%s): %v", corpusDir, err)
	}
	sort.Strings(got)

	missing, extra := difference(want, got), difference(got, want)
	if len(missing) > 0 {
		t.Errorf("message files Walk did not read (%d): %q", len(missing), missing)
	}
	if len(extra) > 0 {
		t.Errorf("files Walk read that are not messages (%d): %q", len(extra), extra)
	}
	for file, n := range perFile {
		if n != 1 {
			t.Errorf("%s gave %d items, want 1: every corpus file holds one message", file, n)
		}
	}

	n, err := Count([]string{corpusDir})
	if err != nil {
		t.Fatalf("Count(%s): %v", corpusDir, err)
	}
	if n != len(want) {
		t.Errorf("Count(%s) = %d, want %d (the %d listed in MESSAGES plus 9 MimeKit body files)", corpusDir, n, len(want), len(want)-9)
	}
}

// difference returns the entries of a, sorted, that are not in sorted b.
func difference(a, b []string) []string {
	in := make(map[string]bool, len(b))
	for _, s := range b {
		in[s] = true
	}
	var out []string
	for _, s := range a {
		if !in[s] {
			out = append(out, s)
		}
	}
	return out
}
