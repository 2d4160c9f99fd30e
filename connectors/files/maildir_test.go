package files

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWalkMaildir(t *testing.T) {
	root := t.TempDir()
	md := filepath.Join(root, "Mail")
	writeFiles(t, md, map[string]string{
		"cur/1709630000.M1P100.host:2,S":       "Subject: seen\n\nread already\n",
		"cur/1709620000.M2P100.host:2,RS":      "Subject: older\n\nreplied\n",
		"new/1709640000.M3P100.host":           "not even a header: content is not checked\n",
		"tmp/1709650000.M4P100.host":           "Subject: still being delivered\n\n",
		"cur/.hidden":                          "Subject: hidden\n\n",
		".Sent/cur/1709600000.M5P100.host:2,S": "Subject: Maildir++ subfolder\n\n",
		".Sent/new/.keep":                      "",
		".Sent/tmp/.keep":                      "",
		"dovecot-uidlist":                      "3 V1709600000 N4\n",
	})
	if err := os.MkdirAll(filepath.Join(md, "tmp"), 0o755); err != nil {
		t.Fatal(err)
	}

	items := collect(t, md)
	assertNames(t, items, []string{
		filepath.Join(md, "cur", "1709620000.M2P100.host:2,RS"),
		filepath.Join(md, "cur", "1709630000.M1P100.host:2,S"),
		filepath.Join(md, "new", "1709640000.M3P100.host"),
	})
	if len(items) == 3 && string(items[2].Raw) != "not even a header: content is not checked\n" {
		t.Errorf("Raw of the new message = %q, want the file content", items[2].Raw)
	}

	// A Maildir++ subfolder is read when passed on its own.
	sent := collect(t, filepath.Join(md, ".Sent"))
	assertNames(t, sent, []string{filepath.Join(md, ".Sent", "cur", "1709600000.M5P100.host:2,S")})
}

func TestWalkMaildirInsideFolder(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"a.eml":                  plainMessage,
		"accounts/ana/cur/1:2,S": plainMessage,
		"accounts/ana/new/.keep": "",
		"accounts/ana/tmp/.keep": "",
		"accounts/ana/cur-notes": "Subject: outside cur and new\n\n",
		"z.eml":                  plainMessage,
	})

	items := collect(t, root)
	assertNames(t, items, []string{
		filepath.Join(root, "a.eml"),
		filepath.Join(root, "accounts", "ana", "cur", "1:2,S"),
		filepath.Join(root, "z.eml"),
	})
}

func TestWalkFolderWithCurOnlyIsNotMaildir(t *testing.T) {
	// Without tmp the folder is an ordinary one, so every file in it is
	// read, also those outside cur and new.
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"cur/1":   plainMessage,
		"new/2":   "plain text, not a message\n",
		"other/3": plainMessage,
	})

	items := collect(t, root)
	assertNames(t, items, []string{
		filepath.Join(root, "cur", "1"),
		filepath.Join(root, "new", "2"),
		filepath.Join(root, "other", "3"),
	})
}
