package ingest

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTruncateUTF8(t *testing.T) {
	tests := []struct {
		name string
		s    string
		max  int
		want string
	}{
		{"short", "abc", 5, "abc"},
		{"exact", "abcde", 5, "abcde"},
		{"ascii cut", "abcdef", 4, "abcd"},
		{"before two-byte rune", "abcé", 4, "abc"},
		{"after two-byte rune", "abcéd", 5, "abcé"},
		{"inside three-byte rune", "ab日本", 4, "ab"},
		{"inside four-byte rune", "a😀b", 3, "a"},
		{"invalid bytes", "a\x80\x80\x80\x80\x80", 5, "a\x80"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := truncateUTF8(tt.s, tt.max); got != tt.want {
				t.Errorf("truncateUTF8(%q, %d) = %q, want %q", tt.s, tt.max, got, tt.want)
			}
		})
	}
}

// bigMessage returns a plain-text message whose body is n bytes of line
// after line of text, ending in a two-byte character so that a cut at any
// byte may land inside one.
func bigMessage(contentType string, n int) (raw []byte, body string) {
	line := "Our order export failed again, see the log: é\n" // 47 bytes
	body = strings.Repeat(line, n/len(line)+1)[:n]
	header := "From: Ana <ana@example.org>\r\nTo: support@example.com\r\nSubject: Big log\r\n" +
		"Message-ID: <big-1@example.org>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: " + contentType + "; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
	return []byte(header + body), body
}

func TestPrepareTruncatesTwoMegabyteBody(t *testing.T) {
	ctx := context.Background()
	store := newCountingStore(t)
	raw, _ := bigMessage("text/plain", 2<<20)

	email, err := Prepare(ctx, raw, testOpts, store)
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}

	if len(email.Text) > MaxTextBytes || len(email.Text) < MaxTextBytes-utf8.UTFMax {
		t.Errorf("len(Text) = %d, want at most %d and within a character of it", len(email.Text), MaxTextBytes)
	}
	if !utf8.ValidString(email.Text) {
		t.Errorf("Text was cut inside a UTF-8 sequence")
	}
	if !strings.HasPrefix(email.Text, "Our order export failed again") {
		t.Errorf("Text does not start with the body: %q", email.Text[:40])
	}
	if len(email.ReplyText) > MaxTextBytes {
		t.Errorf("len(ReplyText) = %d, want at most %d", len(email.ReplyText), MaxTextBytes)
	}

	warning := fmt.Sprintf("text truncated from %d to %d bytes; the full message is in raw storage under %s", 2<<20, len(email.Text), email.Raw.Key)
	if !contains(email.Warnings, warning) {
		t.Errorf("warnings %q lack %q", email.Warnings, warning)
	}

	stored, err := store.Get(ctx, email.Raw.Key)
	if err != nil {
		t.Fatalf("raw message not stored: %v", err)
	}
	if !bytes.Equal(stored, raw) {
		t.Errorf("stored raw has %d bytes, want the whole %d-byte message", len(stored), len(raw))
	}
}

func TestPrepareTruncatesHTML(t *testing.T) {
	raw, _ := bigMessage("text/html", 600<<10)

	email, err := Prepare(context.Background(), raw, testOpts, newCountingStore(t))
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}

	if len(email.HTML) > MaxTextBytes {
		t.Errorf("len(HTML) = %d, want at most %d", len(email.HTML), MaxTextBytes)
	}
	if len(email.Text) > MaxTextBytes {
		t.Errorf("len(Text) derived from HTML = %d, want at most %d", len(email.Text), MaxTextBytes)
	}
	warning := fmt.Sprintf("html truncated from %d to %d bytes", 600<<10, len(email.HTML))
	if !containsPrefix(email.Warnings, warning) {
		t.Errorf("warnings %q lack one starting %q", email.Warnings, warning)
	}
}

func TestPrepareTruncatesAttachedMessageText(t *testing.T) {
	inner, _ := bigMessage("text/plain", 300<<10)
	raw := "From: Ana <ana@example.org>\r\nTo: support@example.com\r\nSubject: Fwd: big log\r\n" +
		"Message-ID: <outer-1@example.org>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n" +
		"--outer\r\nContent-Type: text/plain\r\n\r\nForwarding the log.\r\n" +
		"--outer\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment\r\n\r\n" +
		string(inner) + "\r\n--outer--\r\n"

	email, err := Prepare(context.Background(), []byte(raw), testOpts, newCountingStore(t))
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}

	if len(email.Attachments) != 1 {
		t.Fatalf("got %d attachments, want the attached message", len(email.Attachments))
	}
	got := email.Attachments[0].Text
	if len(got) > MaxTextBytes || len(got) < MaxTextBytes-utf8.UTFMax {
		t.Errorf("len(attachments[0].text) = %d, want at most %d and within a character of it", len(got), MaxTextBytes)
	}
	if !containsPrefix(email.Warnings, "attachments[0].text truncated from ") {
		t.Errorf("warnings %q lack one for attachments[0].text", email.Warnings)
	}
	if !strings.HasPrefix(email.Text, "Forwarding the log.") {
		t.Errorf("Text = %q, want the short outer body untouched", email.Text)
	}
}

func TestPrepareLeavesShortTextAlone(t *testing.T) {
	email, err := Prepare(context.Background(), []byte(withAttachment), testOpts, newCountingStore(t))
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	if containsPrefix(email.Warnings, "text truncated") || containsPrefix(email.Warnings, "html truncated") {
		t.Errorf("a short message got a truncation warning: %q", email.Warnings)
	}
}

func contains(list []string, s string) bool {
	for _, item := range list {
		if item == s {
			return true
		}
	}
	return false
}

func containsPrefix(list []string, prefix string) bool {
	for _, item := range list {
		if strings.HasPrefix(item, prefix) {
			return true
		}
	}
	return false
}
