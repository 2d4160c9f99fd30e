package state

import (
	"bytes"
	"testing"
)

func TestChangelogOverlay(t *testing.T) {
	c := NewChangelog("cl", 2)
	c.apply("kept", []byte("base"))
	c.apply("gone", []byte("base"))

	c.Put("new", []byte("v1"))
	c.Put("new", []byte("v2"))
	c.Delete("gone")
	c.Put("empty", nil)

	if v, ok := c.Get("new"); !ok || string(v) != "v2" {
		t.Errorf("Get(new) = %q, %v; expected v2, true", v, ok)
	}
	if _, ok := c.Get("gone"); ok {
		t.Error("Get(gone) found a key deleted in the open batch")
	}
	if v, ok := c.Get("kept"); !ok || string(v) != "base" {
		t.Errorf("Get(kept) = %q, %v; expected base, true", v, ok)
	}

	recs := c.Pending()
	if len(recs) != 3 {
		t.Fatalf("Pending returned %d records, expected 3 (one per key)", len(recs))
	}
	wantKeys := []string{"new", "gone", "empty"}
	for i, r := range recs {
		if string(r.Key) != wantKeys[i] {
			t.Errorf("record %d key %q, expected %q", i, r.Key, wantKeys[i])
		}
		if r.Topic != "cl" || r.Partition != 2 {
			t.Errorf("record %d goes to %s/%d, expected cl/2", i, r.Topic, r.Partition)
		}
	}
	if string(recs[0].Value) != "v2" {
		t.Errorf("record for new carries %q, expected the last value v2", recs[0].Value)
	}
	if recs[1].Value != nil {
		t.Errorf("record for gone carries %q, expected a tombstone", recs[1].Value)
	}
	if recs[2].Value == nil || len(recs[2].Value) != 0 {
		t.Errorf("record for empty carries %#v, expected an empty non-nil value", recs[2].Value)
	}
}

func TestChangelogCommitAndAbort(t *testing.T) {
	c := NewChangelog("cl", 0)
	c.Put("a", []byte("1"))
	c.Abort()
	if _, ok := c.Get("a"); ok {
		t.Error("Get(a) found a write of an aborted batch")
	}
	if n := len(c.Pending()); n != 0 {
		t.Errorf("Pending after Abort returned %d records, expected 0", n)
	}

	c.Put("a", []byte("2"))
	c.Commit()
	if v, ok := c.Get("a"); !ok || string(v) != "2" {
		t.Errorf("Get(a) after Commit = %q, %v; expected 2, true", v, ok)
	}
	if n := c.Len(); n != 1 {
		t.Errorf("Len after Commit = %d, expected 1", n)
	}

	c.Delete("a")
	c.Commit()
	if _, ok := c.Get("a"); ok {
		t.Error("Get(a) found a key deleted in a committed batch")
	}
}

func TestChangelogCopiesValues(t *testing.T) {
	c := NewChangelog("cl", 0)
	v := []byte("abc")
	c.Put("k", v)
	v[0] = 'x'
	if got, _ := c.Get("k"); !bytes.Equal(got, []byte("abc")) {
		t.Errorf("Get(k) = %q after the caller changed its slice, expected abc", got)
	}
}
