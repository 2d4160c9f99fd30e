package files

import (
	"bufio"
	"context"
	"io/fs"
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

// corpusFiles lists the regular files under corpusDir, as slash-separated
// paths relative to it, split into those a folder walk reads and those it
// skips by name. Hidden entries are in neither list.
func corpusFiles(t *testing.T) (read, skipped []string) {
	t.Helper()
	err := filepath.WalkDir(corpusDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path != corpusDir && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(corpusDir, path)
		if err != nil {
			return err
		}
		upper := strings.ToUpper(d.Name())
		if strings.HasPrefix(upper, "README") || strings.HasPrefix(upper, "LICENSE") || strings.HasPrefix(upper, "COPYING") {
			skipped = append(skipped, filepath.ToSlash(rel))
		} else {
			read = append(read, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("listing %s: %v", corpusDir, err)
	}
	sort.Strings(read)
	sort.Strings(skipped)
	return read, skipped
}

func TestWalkCorpus(t *testing.T) {
	if _, err := os.Stat(corpusDir); err != nil {
		t.Skipf("MIME corpus not found at %s (it lives in the shared folder beside the repository): %v", corpusDir, err)
	}

	want, skipped := corpusFiles(t)
	if len(skipped) == 0 {
		t.Errorf("the corpus has no README, LICENSE or COPYING file, so the skip rule is not exercised")
	}

	var got []string
	perFile := map[string]int{}
	raw := map[string][]byte{}
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
		raw[rel] = it.Raw
		return nil
	})
	if err != nil {
		t.Fatalf("Walk(%s): %v", corpusDir, err)
	}
	sort.Strings(got)

	missing, extra := difference(want, got), difference(got, want)
	if len(missing) > 0 {
		t.Errorf("files Walk did not read (%d): %q", len(missing), missing)
	}
	if len(extra) > 0 {
		t.Errorf("files Walk read that should be skipped (%d): %q", len(extra), extra)
	}
	for file, n := range perFile {
		if n != 1 {
			t.Errorf("%s gave %d items, want 1: every corpus file holds at most one message", file, n)
		}
	}

	// Every file the corpus lists as a whole message is read, with content.
	for _, listed := range readMessageList(t) {
		if perFile[listed] == 0 {
			t.Errorf("%s: listed in MESSAGES but not read", listed)
			continue
		}
		if len(raw[listed]) == 0 {
			t.Errorf("%s: empty Raw", listed)
		}
	}

	n, err := Count([]string{corpusDir})
	if err != nil {
		t.Fatalf("Count(%s): %v", corpusDir, err)
	}
	if n != len(want) {
		t.Errorf("Count(%s) = %d, want %d (every regular file but the %d skipped by name)", corpusDir, n, len(want), len(skipped))
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
