package model

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestReadCSV(t *testing.T) {
	path := writeFile(t, "data.csv", "\ufeffid,text,category\n1,\"Card, not here\",card_arrival\n2,\"two\nlines\", pin \n")
	got, err := ReadExamples(DataSource{Path: path, TextColumn: "text", LabelColumn: "category"})
	if err != nil {
		t.Fatalf("ReadExamples: %v", err)
	}
	expected := []Example{
		{Text: "Card, not here", Label: "card_arrival", Line: 2},
		{Text: "two\nlines", Label: "pin", Line: 3},
	}
	if len(got) != len(expected) {
		t.Fatalf("got %+v, expected %+v", got, expected)
	}
	for i := range expected {
		if got[i] != expected[i] {
			t.Errorf("row %d: got %+v, expected %+v", i, got[i], expected[i])
		}
	}
}

func TestReadJSONL(t *testing.T) {
	path := writeFile(t, "data.jsonl", "{\"text\":\"where is my card\",\"intent\":\"card_arrival\",\"extra\":[1]}\n\n{\"text\":\"code\",\"intent\":7}\n")
	got, err := ReadExamples(DataSource{Path: path, TextColumn: "text", LabelColumn: "intent"})
	if err != nil {
		t.Fatalf("ReadExamples: %v", err)
	}
	expected := []Example{
		{Text: "where is my card", Label: "card_arrival", Line: 1},
		{Text: "code", Label: "7", Line: 3},
	}
	if len(got) != 2 || got[0] != expected[0] || got[1] != expected[1] {
		t.Errorf("got %+v, expected %+v", got, expected)
	}
}

func TestReadExamplesErrors(t *testing.T) {
	tests := []struct {
		name, file, content string
		format              string
		expected            []string
	}{
		{"missing text column", "a.csv", "body,category\nx,y\n", "", []string{"a.csv:1", `no column "text"`, "body, category", "--text-col"}},
		{"missing label column", "a.csv", "text,intent\nx,y\n", "", []string{"a.csv:1", `no column "category"`, "--label-col"}},
		{"empty label", "a.csv", "text,category\nhello,card\nhi, \n", "", []string{"a.csv:3", "empty label", "fill it in or remove the row"}},
		{"empty text", "a.csv", "text,category\n  ,card\n", "", []string{"a.csv:2", "empty text"}},
		{"wrong field count", "a.csv", "text,category\nhello,card\nhello, world,card\n", "", []string{"a.csv:3", "number of fields", "quote fields"}},
		{"bare quote", "a.csv", "text,category\nsay \"hi\" now,card\n", "", []string{"a.csv:2", "invalid CSV", "double the quotes"}},
		{"empty file", "a.csv", "", "", []string{"a.csv", "empty", "header row"}},
		{"header only", "a.csv", "text,category\n", "", []string{"a.csv", "no rows"}},
		{"invalid json", "a.jsonl", "{\"text\":\"a\",\"category\":\"b\"}\n{oops\n", "", []string{"a.jsonl:2", "invalid JSON", "one JSON object per line"}},
		{"json key missing", "a.jsonl", "{\"text\":\"a\"}\n", "", []string{"a.jsonl:1", `missing key "category"`, "--label-col"}},
		{"json label object", "a.jsonl", "{\"text\":\"a\",\"category\":{\"x\":1}}\n", "", []string{"a.jsonl:1", `invalid value {"x":1} for key "category"`}},
		{"unknown extension", "a.txt", "text,category\na,b\n", "", []string{"a.txt", "--format csv"}},
		{"format flag wins", "a.txt", "{\"text\":\"a\",\"category\":\"b\"}\n", "csv", []string{"a.txt:1", "invalid CSV"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, tt.file, tt.content)
			_, err := ReadExamples(DataSource{Path: path, Format: tt.format, TextColumn: "text", LabelColumn: "category"})
			if err == nil {
				t.Fatal("got no error")
			}
			for _, part := range tt.expected {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("error %q does not contain %q", err, part)
				}
			}
		})
	}
}

func TestReadExamplesMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent.csv")
	_, err := ReadExamples(DataSource{Path: path, TextColumn: "text", LabelColumn: "category"})
	if err == nil || !strings.Contains(err.Error(), path) || !os.IsNotExist(unwrapAll(err)) {
		t.Errorf("got %v, expected a not-found error naming %s", err, path)
	}
}

func unwrapAll(err error) error {
	for {
		type unwrapper interface{ Unwrap() error }
		u, ok := err.(unwrapper)
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}

func TestWriteExamplesRoundTrip(t *testing.T) {
	examples := []Example{{Text: "a, \"quoted\"\nline", Label: "x"}, {Text: "plain", Label: "y"}}
	for _, name := range []string{"out.csv", "out.jsonl"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), name)
			if err := WriteExamples(path, "", "body", "intent", examples); err != nil {
				t.Fatal(err)
			}
			got, err := ReadExamples(DataSource{Path: path, TextColumn: "body", LabelColumn: "intent"})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 2 || got[0].Text != examples[0].Text || got[0].Label != "x" || got[1].Text != "plain" || got[1].Label != "y" {
				t.Errorf("read back %+v, expected %+v", got, examples)
			}
		})
	}
}
