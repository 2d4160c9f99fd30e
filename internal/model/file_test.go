package model

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestFileRoundTrip(t *testing.T) {
	c := trainTiny(t)
	path := filepath.Join(t.TempDir(), "model.bin")
	if err := c.Save(path); err != nil {
		t.Fatalf("Save: %v", err)
	}
	loaded, err := Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}

	if loaded.Version != c.Version || !slices.Equal(loaded.Labels, c.Labels) {
		t.Errorf("loaded version %s labels %q, expected %s and %q", loaded.Version, loaded.Labels, c.Version, c.Labels)
	}
	if loaded.Features != c.Features || loaded.Training != c.Training || loaded.Examples != c.Examples {
		t.Errorf("loaded settings %+v %+v %d, expected %+v %+v %d",
			loaded.Features, loaded.Training, loaded.Examples, c.Features, c.Training, c.Examples)
	}
	if loaded.contentHash() != c.contentHash() {
		t.Error("loaded weights differ from the saved ones")
	}
	for _, text := range []string{"refund please", "where is the courier", "reset link", ""} {
		if got, expected := loaded.Predict(text), c.Predict(text); !slices.Equal(got, expected) {
			t.Errorf("Predict(%q) after loading = %v, expected %v", text, got, expected)
		}
	}
}

// modelBytes returns the file of the tiny model.
func modelBytes(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := trainTiny(t).Write(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// regzip returns a model file whose body is body, compressed again.
func regzip(t *testing.T, body []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	buf.WriteString(fileMagic)
	buf.Write(binary.LittleEndian.AppendUint16(nil, FormatVersion))
	zw := gzip.NewWriter(&buf)
	zw.Write(body)
	zw.Close()
	return buf.Bytes()
}

// body returns the decompressed body of a model file.
func body(t *testing.T, file []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(file[len(fileMagic)+2:]))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := out.ReadFrom(zr); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestLoadRejects(t *testing.T) {
	good := modelBytes(t)
	goodBody := body(t, good)

	wrongVersion := slices.Clone(good)
	binary.LittleEndian.PutUint16(wrongVersion[len(fileMagic):], FormatVersion+1)
	flipped := slices.Clone(good)
	flipped[len(flipped)-12] ^= 0xff // inside the gzip data or checksum

	tests := []struct {
		name     string
		content  []byte
		expected []string
	}{
		{"csv file", []byte("text,category\nhello,card\n"), []string{"signature", "mailtriage model train"}},
		{"empty file", nil, []string{"signature"}},
		{"newer format", wrongVersion, []string{"format version 2", "reads version 1", "retrain"}},
		{"truncated", good[:len(good)/2], []string{"damaged", "retrain"}},
		{"flipped byte", flipped, []string{"damaged"}},
		{"trailing bytes", regzip(t, append(slices.Clone(goodBody), 1, 2, 3)), []string{"damaged", "3 unexpected bytes"}},
		{"short weights", regzip(t, goodBody[:len(goodBody)-4]), []string{"damaged"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "model.bin")
			if err := os.WriteFile(path, tt.content, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path)
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("got %v, expected an error wrapping ErrFormat", err)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the file", err)
			}
			for _, part := range tt.expected {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("error %q does not contain %q", err, part)
				}
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent.bin")
	_, err := Load(path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "model train --out") {
		t.Errorf("got %v, expected an error naming %s and the fix", err, path)
	}
}

func TestSaveReplacesAtomically(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.bin")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := trainTiny(t).Save(path); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err != nil {
		t.Errorf("Load after Save: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("folder holds %d files after Save, expected only the model", len(entries))
	}
}
