package blobstore

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"
)

func TestMessageFolder(t *testing.T) {
	// 01:30 on 6 March at UTC+2 is 23:30 on 5 March in UTC.
	received := time.Date(2024, 3, 6, 1, 30, 0, 0, time.FixedZone("UTC+2", 2*3600))
	id := "att-1@example.org"
	idHash := sha256.Sum256([]byte(id))

	folder, err := MessageFolder("acme", received, id)
	if err != nil {
		t.Fatalf("MessageFolder: %v", err)
	}
	want := "acme/2024/03/05/" + hex.EncodeToString(idHash[:])[:16]
	if folder != want {
		t.Errorf("MessageFolder = %q, want %q", folder, want)
	}
	if err := ValidateKey(RawKey(folder)); err != nil {
		t.Errorf("RawKey(%q) is not a valid key: %v", folder, err)
	}
}

func TestMessageFolderHashesAnyMessageID(t *testing.T) {
	received := time.Date(2024, 3, 5, 12, 0, 0, 0, time.UTC)
	for _, id := range []string{"../../etc/passwd", "a b/c?d#e", "ünïcode@例え.jp", strings.Repeat("x", 5000)} {
		folder, err := MessageFolder("acme", received, id)
		if err != nil {
			t.Errorf("MessageFolder(%q): %v", id, err)
			continue
		}
		if err := ValidateKey(RawKey(folder)); err != nil {
			t.Errorf("raw key for message ID %q is invalid: %v", id, err)
		}
		if segments := strings.Split(folder, "/"); len(segments) != 5 || len(segments[4]) != 16 {
			t.Errorf("MessageFolder(%q) = %q, want 5 segments ending in 16 hex digits", id, folder)
		}
	}
}

func TestUnparsedFolder(t *testing.T) {
	received := time.Date(2024, 12, 31, 23, 59, 59, 0, time.UTC)
	sum := Sum([]byte("not mail"))

	folder, err := UnparsedFolder("acme", received, sum)
	if err != nil {
		t.Fatalf("UnparsedFolder: %v", err)
	}
	if want := "acme/2024/12/31/unparsed-" + sum[:16]; folder != want {
		t.Errorf("UnparsedFolder = %q, want %q", folder, want)
	}
	if _, err := UnparsedFolder("acme", received, "ABC"); err == nil || !strings.Contains(err.Error(), `"ABC"`) {
		t.Errorf("UnparsedFolder with digest %q: error %v, want one naming it", "ABC", err)
	}
}

func TestObjectKeys(t *testing.T) {
	sum := Sum([]byte("attachment"))
	folder := "acme/2024/03/05/0123456789abcdef"

	if got, want := RawKey(folder), folder+"/raw.eml"; got != want {
		t.Errorf("RawKey = %q, want %q", got, want)
	}
	if got, want := RawCopyKey(folder, sum), folder+"/raw-"+sum[:16]+".eml"; got != want {
		t.Errorf("RawCopyKey = %q, want %q", got, want)
	}
	if got, want := AttachmentKey(folder, 12, sum), folder+"/attachments/12-"+sum[:16]; got != want {
		t.Errorf("AttachmentKey = %q, want %q", got, want)
	}
}

func TestTenantSegment(t *testing.T) {
	tests := []struct {
		tenant, want string
	}{
		{"acme", "acme"},
		{"Acme_EU.prod-2", "Acme_EU.prod-2"},
		{"café", "caf=C3=A9"},
		{"a+b@c", "a=2Bb=40c"},
		{"a=b", "a=3Db"},
		{".hidden", "=2Ehidden"},
		{"..", "=2E."},
	}
	for _, tt := range tests {
		got := tenantSegment(tt.tenant)
		if got != tt.want {
			t.Errorf("tenantSegment(%q) = %q, want %q", tt.tenant, got, tt.want)
		}
		if err := validateSegment(got); err != nil {
			t.Errorf("tenantSegment(%q) = %q is not a valid key segment: %v", tt.tenant, got, err)
		}
	}
	// Escaping '=' keeps distinct tenants apart.
	if tenantSegment("a+") == tenantSegment("a=2B") {
		t.Errorf("tenants %q and %q share the segment %q", "a+", "a=2B", tenantSegment("a+"))
	}
}

func TestMessageFolderInvalidInput(t *testing.T) {
	received := time.Date(2024, 3, 5, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		tenant   string
		received time.Time
		id       string
		wantErr  string
	}{
		{"empty tenant", "", received, "a@b", "tenant is empty"},
		{"zero time", "acme", time.Time{}, "a@b", "receivedAt"},
		{"empty message ID", "acme", received, "", "message ID is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := MessageFolder(tt.tenant, tt.received, tt.id)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("MessageFolder = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}
