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
		"b-second.eml":            plainMessage,
		"a-first.eml":             plainMessage,
		"c-no-extension":          "Received: from mx.example.net\nFrom: x@example.org\n\nhi\n",
		"d-broken.eml":            "this is not a header line\n",
		"README.md":               "# Samples\n",
		"readme.txt":              "Subject: looks like a header\n",
		"LICENSE-MIT":             "The MIT License (MIT)\n",
		"license":                 "The MIT License (MIT)\n",
		"COPYING":                 "GNU GENERAL PUBLIC LICENSE\n",
		"notes.txt":               "Shopping list\n- milk\n",
		"indented":                " From: starts with a space\n",
		"empty":                   "",
		".hidden.eml":             plainMessage,
		".git/objects/x.eml":      plainMessage,
		"nested/deeper/z.eml":     plainMessage,
		"nested/y.txt":            "Subject: a text file that is a message\n\nbody\n",
		"nested/picture.png":      "\x89PNG\r\n\x1a\n\x00\x00",
		"nested/.DS_Store.eml":    plainMessage,
		"readme-folder/inner.eml": plainMessage,
	})

	items := collect(t, root)
	assertNames(t, items, []string{
		filepath.Join(root, "a-first.eml"),
		filepath.Join(root, "b-second.eml"),
		filepath.Join(root, "c-no-extension"),
		filepath.Join(root, "d-broken.eml"),
		filepath.Join(root, "empty"),
		filepath.Join(root, "indented"),
		filepath.Join(root, "nested", "deeper", "z.eml"),
		filepath.Join(root, "nested", "picture.png"),
		filepath.Join(root, "nested", "y.txt"),
		filepath.Join(root, "notes.txt"),
		filepath.Join(root, "readme-folder", "inner.eml"),
	})
	raws := map[string]string{}
	for _, it := range items {
		raws[filepath.Base(it.Name)] = string(it.Raw)
	}
	for name, want := range map[string]string{
		"a-first.eml":  plainMessage,
		"d-broken.eml": "this is not a header line\n",
		"empty":        "",
		"picture.png":  "\x89PNG\r\n\x1a\n\x00\x00",
		"notes.txt":    "Shopping list\n- milk\n",
	} {
		if raws[name] != want {
			t.Errorf("Raw of %s = %q, want the file content %q unchanged", name, raws[name], want)
		}
	}
}

func TestSkipEntry(t *testing.T) {
	tests := []struct {
		name  string
		isDir bool
		want  bool
	}{
		{"message.eml", false, false},
		{"notes.txt", false, false},
		{"photo.jpg", false, false},
		{".hidden.eml", false, true},
		{".git", true, true},
		{"README", false, true},
		{"Readme.md", false, true},
		{"LICENSE", false, true},
		{"license.txt", false, true},
		{"COPYING.LESSER", false, true},
		{"readme", true, false},
		{"licenses", true, false},
		{"my-readme.txt", false, false},
	}
	for _, tt := range tests {
		if got := skipEntry(tt.name, tt.isDir); got != tt.want {
			t.Errorf("skipEntry(%q, isDir %v) = %v, want %v", tt.name, tt.isDir, got, tt.want)
		}
	}
}

func TestWalkExplicitPaths(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		".hidden-but-named.eml": plainMessage,
		"one.eml":               plainMessage,
		"message.txt":           plainMessage,
		"notes.txt":             "Shopping list\n",
		"README":                "# not mail, but named\n",
		"empty":                 "",
	})
	paths := []string{
		filepath.Join(root, "one.eml"),
		filepath.Join(root, ".hidden-but-named.eml"),
		filepath.Join(root, "message.txt"),
		filepath.Join(root, "notes.txt"),
		filepath.Join(root, "README"),
		filepath.Join(root, "empty"),
	}

	items := collect(t, paths...)
	assertNames(t, items, paths)
	if got := string(items[3].Raw); got != "Shopping list\n" {
		t.Errorf("Raw of notes.txt = %q, want the file content", got)
	}
	if len(items[5].Raw) != 0 {
		t.Errorf("Raw of the empty file = %q, want empty", items[5].Raw)
	}
	n, err := Count(paths)
	if err != nil || n != len(paths) {
		t.Errorf("Count(%d named files) = %d, %v; want %d, nil", len(paths), n, err, len(paths))
	}
}

func TestWalkPathErrors(t *testing.T) {
	root := t.TempDir()
	tests := []struct {
		name  string
		paths []string
		want  []string // substrings of the error
	}{
		{"no paths", nil, []string{"no mail paths given", ".eml"}},
		{"empty path", []string{""}, []string{"empty mail path"}},
		{"missing", []string{filepath.Join(root, "missing.mbox")}, []string{"missing.mbox", "does not exist", "check the spelling"}},
		{"device", []string{os.DevNull}, []string{os.DevNull, "not a regular file or a folder"}},
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
		"skip/LICENSE":     "MIT\n",
		"skip/picture.jpg": "\xff\xd8\xff\xe0",
	})

	items := collect(t, root)
	n, err := Count([]string{root})
	if err != nil {
		t.Fatalf("Count: %v", err)
	}
	// a.eml, two mbox messages, two Maildir messages and picture.jpg.
	if len(items) != 6 {
		t.Errorf("Walk found %d items (%q), want 6", len(items), names(items))
	}
	if n != len(items) {
		t.Errorf("Count = %d, want %d as Walk found", n, len(items))
	}
}
