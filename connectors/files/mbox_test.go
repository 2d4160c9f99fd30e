package files

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestWalkMboxSplitsAndUnquotes(t *testing.T) {
	root := t.TempDir()
	mboxText := strings.Join([]string{
		"From ana@example.org Tue Mar  5 09:12:44 2024",
		"From: Ana <ana@example.org>",
		"Subject: first",
		"",
		">From the start of a quoted line",
		">>From a doubly quoted line",
		">>>Frog is not a From line",
		"From here on, no blank line before, so not a separator",
		"",
		"From ben@example.net Tue Mar  5 10:00:00 2024",
		"From: Ben <ben@example.net>",
		"Subject: second",
		"",
		"Second body.",
		"",
		"From carla@example.com Tue Mar  5 11:00:00 2024",
		"From: Carla <carla@example.com>",
		"Subject: third",
		"",
		"Third body, last line.",
		"",
	}, "\n")
	path := filepath.Join(root, "archive")
	writeFiles(t, root, map[string]string{"archive": mboxText})

	items := collect(t, path)
	assertNames(t, items, []string{path + "#1", path + "#2", path + "#3"})
	if len(items) != 3 {
		return
	}

	want := []string{
		"From: Ana <ana@example.org>\nSubject: first\n\n" +
			"From the start of a quoted line\n" +
			">From a doubly quoted line\n" +
			">>>Frog is not a From line\n" +
			"From here on, no blank line before, so not a separator\n",
		"From: Ben <ben@example.net>\nSubject: second\n\nSecond body.\n",
		"From: Carla <carla@example.com>\nSubject: third\n\nThird body, last line.\n",
	}
	for i, w := range want {
		if string(items[i].Raw) != w {
			t.Errorf("message %d:\n got %q\nwant %q", i+1, items[i].Raw, w)
		}
	}
}

func TestWalkMboxCRLF(t *testing.T) {
	root := t.TempDir()
	text := "From a@example.org Mon Jan  1 00:00:00 2024\r\n" +
		"Subject: one\r\n\r\n>From body\r\n\r\n" +
		"From b@example.org Mon Jan  1 00:00:01 2024\r\n" +
		"Subject: two\r\n\r\nbody two\r\n"
	writeFiles(t, root, map[string]string{"inbox.mbox": text})

	items := collect(t, filepath.Join(root, "inbox.mbox"))
	if len(items) != 2 {
		t.Fatalf("got %d items (%q), want 2", len(items), names(items))
	}
	if got, want := string(items[0].Raw), "Subject: one\r\n\r\nFrom body\r\n"; got != want {
		t.Errorf("message 1 = %q, want %q", got, want)
	}
	if got, want := string(items[1].Raw), "Subject: two\r\n\r\nbody two\r\n"; got != want {
		t.Errorf("message 2 = %q, want %q", got, want)
	}
}

func TestWalkMboxSingleMessageFile(t *testing.T) {
	// A .eml saved with an mbox envelope line is an mbox of one message:
	// the envelope line is not part of the message.
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"saved.eml": "From ana@example.org Tue Mar  5 09:12:44 2024\n" + plainMessage,
	})
	path := filepath.Join(root, "saved.eml")

	items := collect(t, path)
	assertNames(t, items, []string{path + "#1"})
	if len(items) == 1 && string(items[0].Raw) != plainMessage {
		t.Errorf("Raw = %q, want %q", items[0].Raw, plainMessage)
	}
}

func TestWalkMboxLongLine(t *testing.T) {
	// A line longer than the read buffer arrives in several chunks; only
	// the first chunk can start a separator or a quoted From line.
	root := t.TempDir()
	long := strings.Repeat("y", 200_000)
	text := "From a@example.org Mon Jan  1 00:00:00 2024\n" +
		"Subject: long\n\n" + long + "From not a separator\n\n" +
		"From b@example.org Mon Jan  1 00:00:01 2024 " + long + "\n" +
		"Subject: two\n\nbody\n"
	writeFiles(t, root, map[string]string{"long.mbox": text})

	items := collect(t, filepath.Join(root, "long.mbox"))
	if len(items) != 2 {
		t.Fatalf("got %d items (%q), want 2", len(items), names(items))
	}
	if got, want := string(items[0].Raw), "Subject: long\n\n"+long+"From not a separator\n"; got != want {
		t.Errorf("message 1 has %d bytes, want %d", len(got), len(want))
	}
	if got, want := string(items[1].Raw), "Subject: two\n\nbody\n"; got != want {
		t.Errorf("message 2 = %q, want %q", got, want)
	}

	n, err := Count([]string{filepath.Join(root, "long.mbox")})
	if err != nil || n != 2 {
		t.Errorf("Count = %d, %v; want 2, nil", n, err)
	}
}
