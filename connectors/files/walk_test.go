package files

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeFiles creates each file of files (slash-separated path to content)
// under root.
func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		path := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// collect walks paths and returns the items in the order Walk passed them.
func collect(t *testing.T, paths ...string) []Item {
	t.Helper()
	var items []Item
	err := Walk(context.Background(), paths, func(it Item) error {
		items = append(items, it)
		return nil
	})
	if err != nil {
		t.Fatalf("Walk(%v): %v", paths, err)
	}
	return items
}

func names(items []Item) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.Name
	}
	return out
}

func assertNames(t *testing.T, got []Item, want []string) {
	t.Helper()
	if strings.Join(names(got), "\n") != strings.Join(want, "\n") {
		t.Errorf("item names:\n got %q\nwant %q", names(got), want)
	}
}

const plainMessage = "From: Ana <ana@example.org>\nTo: support@example.com\nSubject: Hello\n\nBody text.\n"

func TestWalkFolderRules(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"b-second.eml":         plainMessage,
		"a-first.eml":          plainMessage,
		"c-no-extension":       "Received: from mx.example.net\nFrom: x@example.org\n\nhi\n",
		"d-broken.eml":         "this is not a header line\n",
		"README.md":            "# Samples\n",
		"readme.txt":           "Subject: looks like a header\n",
		"notes.txt":            "Shopping list\n- milk\n",
		"license":              "The MIT License (MIT)\n",
		"indented":             " From: starts with a space\n",
		"empty":                "",
		".hidden.eml":          plainMessage,
		".git/objects/x.eml":   plainMessage,
		"nested/deeper/z.eml":  plainMessage,
		"nested/y.txt":         "Subject: a text file that is a message\n\nbody\n",
		"nested/picture.png":   "\x89PNG\r\n\x1a\n\x00\x00",
		"nested/.DS_Store.eml": plainMessage,
	})

	items := collect(t, root)
	assertNames(t, items, []string{
		filepath.Join(root, "a-first.eml"),
		filepath.Join(root, "b-second.eml"),
		filepath.Join(root, "c-no-extension"),
		filepath.Join(root, "d-broken.eml"),
		filepath.Join(root, "nested", "deeper", "z.eml"),
		filepath.Join(root, "nested", "y.txt"),
	})
	if string(items[0].Raw) != plainMessage {
		t.Errorf("Raw of a-first.eml = %q, want the file content %q", items[0].Raw, plainMessage)
	}
	if string(items[3].Raw) != "this is not a header line\n" {
		t.Errorf("Raw of d-broken.eml = %q, want the file content unchanged", items[3].Raw)
	}
}

func TestWalkExplicitPaths(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		".hidden-but-named.eml": plainMessage,
		"one.eml":               plainMessage,
		"message.txt":           plainMessage,
	})
	paths := []string{
		filepath.Join(root, "one.eml"),
		filepath.Join(root, ".hidden-but-named.eml"),
		filepath.Join(root, "message.txt"),
	}

	items := collect(t, paths...)
	assertNames(t, items, paths)
}

func TestWalkPathErrors(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"notes.txt": "Shopping list\n",
		"empty":     "",
	})
	tests := []struct {
		name  string
		paths []string
		want  []string // substrings of the error
	}{
		{"no paths", nil, []string{"no mail paths given", ".eml"}},
		{"empty path", []string{""}, []string{"empty mail path"}},
		{"missing", []string{filepath.Join(root, "missing.mbox")}, []string{"missing.mbox", "does not exist", "check the spelling"}},
		{"not a message", []string{filepath.Join(root, "notes.txt")}, []string{"notes.txt", "is not a message", "rename it to .eml"}},
		{"empty file", []string{filepath.Join(root, "empty")}, []string{"empty", "is empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Walk(context.Background(), tt.paths, func(Item) error { return nil })
			if err == nil {
				t.Fatalf("Walk(%q) = nil, want an error", tt.paths)
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Walk(%q) error %q does not contain %q", tt.paths, err, want)
				}
			}
			if _, err := Count(tt.paths); err == nil {
				t.Errorf("Count(%q) = nil error, want the same failure as Walk", tt.paths)
			}
		})
	}
}

func TestWalkStopsOnCallbackError(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{"a.eml": plainMessage, "b.eml": plainMessage})
	stop := errors.New("stop here")

	calls := 0
	err := Walk(context.Background(), []string{root}, func(Item) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) {
		t.Errorf("Walk error = %v, want the callback's error", err)
	}
	if calls != 1 {
		t.Errorf("callback ran %d times, want 1", calls)
	}
}

func TestWalkCanceledContext(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{"a.eml": plainMessage})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	err := Walk(ctx, []string{root}, func(Item) error {
		t.Errorf("callback ran after the context was canceled")
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Walk error = %v, want context.Canceled", err)
	}
}

func TestWalkNilCallback(t *testing.T) {
	if err := Walk(context.Background(), []string{t.TempDir()}, nil); err == nil {
		t.Errorf("Walk with a nil callback succeeded, want an error")
	}
}

func TestWalkMessageTooLarge(t *testing.T) {
	root := t.TempDir()
	path := filepath.Join(root, "huge.eml")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(MaxMessageSize + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()

	err = Walk(context.Background(), []string{path}, func(Item) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "huge.eml") || !strings.Contains(err.Error(), "64 MiB") {
		t.Errorf("Walk over a %d-byte message: error %v, want one naming the file and the 64 MiB limit", MaxMessageSize+1, err)
	}
	if _, err := Count([]string{path}); err == nil || !strings.Contains(err.Error(), "huge.eml") {
		t.Errorf("Count over a %d-byte message: error %v, want the same limit error as Walk", MaxMessageSize+1, err)
	}
}

func TestCountMatchesWalk(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"a.eml":            plainMessage,
		"box.mbox":         "From a@example.org Mon Jan  1 00:00:00 2024\n" + plainMessage + "\nFrom b@example.org Mon Jan  1 00:00:01 2024\n" + plainMessage + "\n",
		"md/cur/1:2,S":     plainMessage,
		"md/new/2":         plainMessage,
		"md/tmp/3":         plainMessage,
		"skip/README":      plainMessage,
		"skip/picture.jpg": "\xff\xd8\xff\xe0",
	})

	items := collect(t, root)
	n, err := Count([]string{root})
	if err != nil {
		t.Fatalf("Count: %v", err)
	}
	if len(items) != 5 {
		t.Errorf("Walk found %d items (%q), want 5", len(items), names(items))
	}
	if n != len(items) {
		t.Errorf("Count = %d, want %d as Walk found", n, len(items))
	}
}
